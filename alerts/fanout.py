"""Events into inboxes: who is told of an event (set-based, one query per event), and the writes.

A public event reaches every user who watches one of its minerals, its issuing country or its
measure type, and every member of an organization that requires one of its minerals (a buyer's
portfolio minerals are watched by default). An organization's own event reaches its members only.
Notifications are unique per (user, event): fanning out twice adds nothing.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from alerts.models import Event, Notification, Watch
from suppliers.models import Membership, Requirement


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
    watches = Watch.objects.filter(watched, user_id=OuterRef("pk"))
    portfolio = Membership.objects.filter(
        user_id=OuterRef("pk"),
        organization_id__in=Requirement.objects.filter(mineral_id__in=mineral_ids).values("organization_id"),
    )
    return users.filter(Exists(watches) | Exists(portfolio)).values_list("pk", flat=True)


def notify(events: Iterable[Event]) -> int:
    """Create the notifications of the events; returns how many were new."""
    events = list(events)
    if not events:
        return 0
    minerals_by_event: dict[int, list[int]] = {event.pk: [] for event in events}
    for event_id, mineral_id in Event.minerals.through.objects.filter(event_id__in=minerals_by_event).values_list(
        "event_id", "mineral_id"
    ):
        minerals_by_event[event_id].append(mineral_id)
    rows = [
        Notification(user_id=user_id, event_id=event.pk)
        for event in events
        for user_id in recipients(event, minerals_by_event[event.pk])
    ]
    before = Notification.objects.filter(event_id__in=minerals_by_event).count()
    Notification.objects.bulk_create(rows, ignore_conflicts=True, batch_size=1000)
    created = Notification.objects.filter(event_id__in=minerals_by_event).count() - before
    user_ids = {row.user_id for row in rows}
    transaction.on_commit(lambda: cache.delete_many([unread_cache_key(pk) for pk in user_ids]), robust=True)
    return created


def mark_read(*, user_id: int, notification_ids: list[int] | None = None) -> int:
    """Mark the user's notifications read (all unread ones when no ids are given)."""
    unread = Notification.objects.filter(user_id=user_id, read_at__isnull=True)
    if notification_ids is not None:
        unread = unread.filter(pk__in=notification_ids)
    marked = unread.update(read_at=timezone.now())
    transaction.on_commit(lambda: cache.delete(unread_cache_key(user_id)), robust=True)
    return marked
