"""Reads of the alerts app: a user's inbox, the unread count (cached), public and caller events."""

from __future__ import annotations

from django.core.cache import cache
from django.db.models import Q, QuerySet
from django.http import Http404

from alerts.fanout import unread_cache_key
from alerts.models import (
    DeliveryPreference,
    EmailMode,
    Event,
    Notification,
    Threshold,
    Watch,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    owned_by,
)
from minerals.models import Mineral
from suppliers.models import Membership, Organization, Requirement

UNREAD_TTL = 300  # seconds; the writes (fan-out, mark read) also drop the entry on commit
INBOX_SIZE = 200


def inbox(user_id: int) -> QuerySet[Notification]:
    """The user's own notifications, newest first, with their events (one query)."""
    return Notification.objects.filter(user_id=user_id).select_related("event").order_by("-id")[:INBOX_SIZE]


def owns_notification(user_id: int, notification_id: int) -> bool:
    return Notification.objects.filter(pk=notification_id, user_id=user_id).exists()


def unread_count(user_id: int) -> int:
    """One indexed COUNT on a cache miss, none on a hit."""
    key = unread_cache_key(user_id)
    count = cache.get(key)
    if count is None:
        count = Notification.objects.filter(user_id=user_id, read_at__isnull=True).count()
        cache.set(key, count, UNREAD_TTL)
    return int(count)


def events_visible_to(organization: Organization | None) -> QuerySet[Event]:
    """Public events and the organization's own (none of any other organization)."""
    visible = Q(organization__isnull=True)
    if organization is not None:
        visible |= Q(organization=organization)
    return Event.objects.filter(visible).select_related("organization").prefetch_related("minerals")


def public_events(limit: int) -> QuerySet[Event]:
    return Event.objects.filter(organization__isnull=True).order_by("-occurred_at", "-id")[:limit]


def watches(user_id: int) -> QuerySet[Watch]:
    return (
        Watch.objects.filter(user_id=user_id, organization__isnull=True)
        .select_related("mineral", "country")
        .order_by("id")
    )


def portfolio_minerals(user_id: int) -> QuerySet[Mineral]:
    """The minerals watched by default: those the user's organizations require."""
    required = Requirement.objects.filter(organization__memberships__user_id=user_id).values("mineral_id")
    return Mineral.objects.filter(pk__in=required).order_by("name")


def thresholds(*, organization_id: int, user_id: int | None) -> QuerySet[Threshold]:
    """A user's own thresholds in an organization, or (user None) the organization's defaults."""
    return Threshold.objects.filter(owned_by(user_id=user_id), organization_id=organization_id).select_related(
        "mineral"
    )


def organization_watches(organization_id: int) -> QuerySet[Watch]:
    return Watch.objects.filter(organization_id=organization_id).select_related("mineral", "country").order_by("id")


def administered_organization(*, user_id: int, slug: str) -> Organization:
    """The organization if the user is one of its admins; 404 otherwise (membership not disclosed)."""
    membership = (
        Membership.objects.filter(user_id=user_id, organization__slug=slug, role=Membership.Role.ADMIN)
        .select_related("organization")
        .first()
    )
    if membership is None:
        raise Http404("No such organization.")
    return membership.organization


def administered_organizations(user_id: int) -> QuerySet[Organization]:
    return Organization.objects.filter(memberships__user_id=user_id, memberships__role=Membership.Role.ADMIN)


def member_organizations(user_id: int) -> QuerySet[Organization]:
    return Organization.objects.filter(memberships__user_id=user_id).order_by("name")


def endpoints(organization_id: int) -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.filter(organization_id=organization_id).order_by("id")


def endpoint(*, organization_id: int, endpoint_id: int) -> WebhookEndpoint:
    found = WebhookEndpoint.objects.filter(pk=endpoint_id, organization_id=organization_id).first()
    if found is None:
        raise Http404("No such endpoint.")
    return found


LOG_SIZE = 50


def delivery_log(endpoint_id: int) -> QuerySet[WebhookAttempt]:
    return WebhookAttempt.objects.filter(endpoint_id=endpoint_id).order_by("-id")[:LOG_SIZE]


def deliveries(endpoint_id: int) -> QuerySet[WebhookDelivery]:
    return WebhookDelivery.objects.filter(endpoint_id=endpoint_id).select_related("event").order_by("-id")[:LOG_SIZE]


def email_mode(*, user_id: int | None = None, organization_id: int | None = None) -> str:
    preference = DeliveryPreference.objects.filter(owned_by(user_id=user_id, organization_id=organization_id)).first()
    return preference.email if preference else EmailMode.OFF
