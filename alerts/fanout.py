"""Events into inboxes: who is told of an event (set-based, one query per event), and the writes.

A public event reaches every user who watches one of its minerals, its issuing country or its
measure type, and every member of an organization that requires one of its minerals (a buyer's
portfolio minerals are watched by default). An organization's own event reaches its members only.
Notifications are unique per (user, event): fanning out twice adds nothing.

The same transaction writes what the other channels owe (the outbox): one WebhookDelivery per
(endpoint, event) for every active endpoint of an organization one of whose members was told (or
whose own event it is). After commit, the deliveries and instant e-mails are enqueued; a broker
that is down loses nothing, the beat sweep (alerts.tasks.sweep_deliveries) sends them later.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping

from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from alerts.models import Event, Notification, Watch, WebhookDelivery, WebhookEndpoint
from suppliers.models import Membership, Requirement

logger = logging.getLogger(__name__)


def unread_cache_key(user_id: int) -> str:
    return f"alerts:unread:{user_id}"


def recipients(event: Event, mineral_ids: list[int]) -> QuerySet:
    users = get_user_model().objects.filter(is_active=True)
    if event.organization_id is not None:
        return users.filter(memberships__organization_id=event.organization_id).values_list("pk", flat=True)
    watched = Q(mineral_id__in=mineral_ids)
    if event.issuer_id:
        watched |= Q(country_id=event.issuer_id)
    if event.measure_type:
        watched |= Q(measure_type=event.measure_type)
    own_or_organization = Q(user_id=OuterRef("pk")) | Q(
        organization_id__in=Membership.objects.filter(user_id=OuterRef(OuterRef("pk"))).values("organization_id")
    )
    watches = Watch.objects.filter(watched).filter(own_or_organization)
    portfolio = Membership.objects.filter(
        user_id=OuterRef("pk"),
        organization_id__in=Requirement.objects.filter(mineral_id__in=mineral_ids).values("organization_id"),
    )
    return users.filter(Exists(watches) | Exists(portfolio)).values_list("pk", flat=True)


def notify(events: Iterable[Event], *, audience: Mapping[int, Iterable[int]] | None = None) -> int:
    """Create the notifications of the events (and the webhook deliveries they owe); returns how
    many the events owe (those already there are kept, not counted apart: counting them would scan
    the table twice). `audience` (event id -> user ids) replaces `recipients`."""
    events = list(events)
    if not events:
        return 0
    minerals_by_event: dict[int, list[int]] = {event.pk: [] for event in events}
    for event_id, mineral_id in Event.minerals.through.objects.filter(event_id__in=minerals_by_event).values_list(
        "event_id", "mineral_id"
    ):
        minerals_by_event[event_id].append(mineral_id)
    # Events with the same minerals, issuer, type and organization have the same recipients: one
    # query per distinct combination (a burst of 1,000 changes on one mineral costs one).
    by_shape: dict[tuple[object, ...], list[int]] = {}
    rows: list[Notification] = []
    for event in events:
        if audience is not None:
            recipient_ids = list(audience[event.pk])
        else:
            minerals = sorted(minerals_by_event[event.pk])
            shape = (tuple(minerals), event.issuer_id, event.measure_type, event.organization_id)
            if shape not in by_shape:
                by_shape[shape] = list(recipients(event, minerals))
            recipient_ids = by_shape[shape]
        rows.extend(Notification(user_id=user_id, event_id=event.pk) for user_id in recipient_ids)
    Notification.objects.bulk_create(rows, ignore_conflicts=True, batch_size=1000)
    user_ids = {row.user_id for row in rows}
    endpoint_ids = _webhook_deliveries_create(events, rows)
    transaction.on_commit(lambda: cache.delete_many([unread_cache_key(pk) for pk in user_ids]), robust=True)
    transaction.on_commit(lambda: dispatch(endpoint_ids, email=bool(rows)), robust=True)
    return len(rows)


def _webhook_deliveries_create(events: list[Event], notifications: list[Notification]) -> set[int]:
    """One delivery per (active endpoint, event) of the organizations told; returns the endpoints."""
    organizations_of: dict[int, set[int]] = defaultdict(set)
    for user_id, org_id in Membership.objects.filter(user_id__in={n.user_id for n in notifications}).values_list(
        "user_id", "organization_id"
    ):
        organizations_of[user_id].add(org_id)
    told: dict[int, set[int]] = defaultdict(set)  # event -> organizations
    for n in notifications:
        told[n.event_id] |= organizations_of[n.user_id]
    for event in events:
        if event.organization_id is not None:
            told[event.pk] = {event.organization_id}  # an organization's own event stays its own
    endpoints: dict[int, list[int]] = defaultdict(list)
    for endpoint_id, org_id in WebhookEndpoint.objects.filter(
        is_active=True, organization_id__in={o for orgs in told.values() for o in orgs}
    ).values_list("id", "organization_id"):
        endpoints[org_id].append(endpoint_id)
    if not endpoints:
        return set()
    now = timezone.now()
    deliveries = [
        WebhookDelivery(endpoint_id=endpoint_id, event_id=event_id, next_attempt_at=now)
        for event_id, orgs in told.items()
        for org_id in orgs
        for endpoint_id in endpoints.get(org_id, ())
    ]
    WebhookDelivery.objects.bulk_create(deliveries, ignore_conflicts=True, batch_size=2000)
    return {d.endpoint_id for d in deliveries}


def dispatch(endpoint_ids: set[int], *, email: bool) -> None:
    """After commit: enqueue the deliveries and the instant e-mails. A dead broker costs nothing
    but time: the rows wait and the beat sweep enqueues them."""
    from alerts import tasks  # the tasks call this module's callers: imported when first needed

    try:
        for endpoint_id in sorted(endpoint_ids):
            tasks.deliver_webhooks.delay(endpoint_id)
        if email:
            tasks.send_instant_emails.delay()
    except Exception:  # kombu raises OperationalError, socket errors, ...: the sweep repairs
        logger.warning("broker unavailable: deliveries wait for the sweep", exc_info=True)


def mark_read(*, user_id: int, notification_ids: list[int] | None = None) -> int:
    """Mark the user's notifications read (all unread ones when no ids are given)."""
    unread = Notification.objects.filter(user_id=user_id, read_at__isnull=True)
    if notification_ids is not None:
        unread = unread.filter(pk__in=notification_ids)
    marked = unread.update(read_at=timezone.now())
    transaction.on_commit(lambda: cache.delete(unread_cache_key(user_id)), robust=True)
    return marked
