"""Reads of the alerts app: a user's inbox, the unread count (cached), public and caller events."""

from __future__ import annotations

from django.core.cache import cache
from django.db.models import Q, QuerySet

from alerts.fanout import unread_cache_key
from alerts.models import Event, Notification, Watch
from minerals.models import Mineral
from suppliers.models import Organization, Requirement

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
    return Watch.objects.filter(user_id=user_id).select_related("mineral", "country").order_by("id")


def portfolio_minerals(user_id: int) -> QuerySet[Mineral]:
    """The minerals watched by default: those the user's organizations require."""
    required = Requirement.objects.filter(organization__memberships__user_id=user_id).values("mineral_id")
    return Mineral.objects.filter(pk__in=required).order_by("name")
