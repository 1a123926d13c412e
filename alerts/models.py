"""Alerts: the outbox of events, what users watch, and their in-app notifications.

Events are never written by the other apps' services: they are derived from what those services
already commit atomically (the history rows of django-simple-history, and the measures' dates),
by idempotent tasks (alerts.capture, alerts.deadlines). Each event has a `dedupe_key`, so a task
that runs twice, or re-reads a window, creates nothing twice.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from minerals.models import Country, MeasureType, Mineral, PolicyMeasure
from suppliers.models import Organization


class EventKind(models.TextChoices):
    POLICY_CREATED = "policy.created", "Policy measure added"
    POLICY_CHANGED = "policy.changed", "Policy measure changed"
    POLICY_SUSPENDED = "policy.suspended", "Policy measure suspended"
    POLICY_ENDED = "policy.ended", "Policy measure ended"
    POLICY_REMOVED = "policy.removed", "Policy measure removed"
    SUSPENSION_ENDS_IN_30 = "suspension.ends_in_30_days", "Suspension ends in 30 days"
    SUSPENSION_ENDS_IN_7 = "suspension.ends_in_7_days", "Suspension ends in 7 days"
    SUSPENSION_ENDS_IN_1 = "suspension.ends_in_1_day", "Suspension ends tomorrow"
    SUSPENSION_LAPSED = "suspension.lapsed", "Suspension ran out: measure applies again"


class Event(models.Model):
    """Something that happened, once. Public (organization empty) or bound to one organization."""

    kind = models.CharField(max_length=40, choices=EventKind.choices)
    occurred_at = models.DateTimeField(help_text="When the change was committed, or the day a date came due.")
    title = models.CharField(max_length=400)
    # The measure may be deleted later; its key stays for the feed and the API.
    measure = models.ForeignKey(PolicyMeasure, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    measure_key = models.CharField(max_length=80, blank=True)
    measure_type = models.CharField(max_length=30, choices=MeasureType.choices, blank=True)
    issuer = models.ForeignKey(Country, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    minerals = models.ManyToManyField(Mineral, blank=True, related_name="+")
    due_on = models.DateField(null=True, blank=True, help_text="Date-driven events: the date they are about.")
    organization = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.CASCADE, related_name="+", help_text="Empty: public."
    )
    details = models.JSONField(default=dict, blank=True)
    dedupe_key = models.CharField(max_length=120, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["organization", "id"], name="alerts_event_org_id")]
        constraints = [
            # Date-driven events: one per (measure, date, kind), whatever the runs.
            models.UniqueConstraint(
                fields=["measure_key", "due_on", "kind"],
                condition=Q(due_on__isnull=False),
                name="alerts_event_due_once",
            ),
            models.CheckConstraint(condition=Q(kind__in=EventKind.values), name="alerts_event_kind_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.title}"


class CaptureCursor(models.Model):
    """How far a change-data-capture reader has read a history table (its last history_id)."""

    name = models.CharField(max_length=80, unique=True)
    position = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.name} @ {self.position}"


class Watch(models.Model):
    """One thing a user watches: a mineral, an issuing country or a measure type.

    A buyer's portfolio minerals (its requirements) are watched by default, without rows here.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="alert_watches")
    mineral = models.ForeignKey(Mineral, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    country = models.ForeignKey(Country, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    measure_type = models.CharField(max_length=30, choices=MeasureType.choices, blank=True)

    class Meta:
        constraints = [
            # Exactly one target per row.
            models.CheckConstraint(
                condition=(
                    Q(mineral__isnull=False, country__isnull=True, measure_type="")
                    | Q(mineral__isnull=True, country__isnull=False, measure_type="")
                    | (Q(mineral__isnull=True, country__isnull=True) & ~Q(measure_type=""))
                ),
                name="alerts_watch_one_target",
            ),
            models.UniqueConstraint(
                fields=["user", "mineral"], condition=Q(mineral__isnull=False), name="alerts_watch_mineral_once"
            ),
            models.UniqueConstraint(
                fields=["user", "country"], condition=Q(country__isnull=False), name="alerts_watch_country_once"
            ),
            models.UniqueConstraint(
                fields=["user", "measure_type"], condition=~Q(measure_type=""), name="alerts_watch_type_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} watches {self.mineral or self.country or self.measure_type}"


class Notification(models.Model):
    """An event in one user's inbox."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="alert_notifications")
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="notifications")
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["user", "read_at"], name="alerts_notification_unread")]
        constraints = [models.UniqueConstraint(fields=["user", "event"], name="alerts_notification_once")]

    def __str__(self) -> str:
        return f"{self.user}: {self.event}"
