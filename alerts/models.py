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
    DATA_EDITION = "data.edition", "New data edition"
    DATA_IMPORT = "data.import", "Data imported"
    THRESHOLD_CROSSED = "threshold.crossed", "Threshold crossed"


def owned_by(**fields: int | None) -> Q:
    """`field=value` lookups where None means NULL (a user's row, or an organization's default)."""
    return Q(**{(f"{name}__isnull" if value is None else name): (True if value is None else value)
                for name, value in fields.items()})  # fmt: skip


class ThresholdMetric(models.TextChoices):
    """What a threshold watches: two per buyer and mineral (stored exposure), one per mineral."""

    CHINA_SHARE = "china_share", "China's share of the buyer's supply"
    RESTRICTED_SHARE = "restricted_share", "Restricted share of the buyer's supply"
    SUPPLY_RISK = "supply_risk", "Supply risk (EU method)"


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
    """One thing a user (or, as a default for all its members, an organization) watches: a
    mineral, an issuing country or a measure type.

    A buyer's portfolio minerals (its requirements) are watched by default, without rows here.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="alert_watches"
    )
    organization = models.ForeignKey(
        Organization,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        help_text="An organization default (set by its admin): every member watches it.",
    )
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
            models.CheckConstraint(
                condition=Q(user__isnull=False, organization__isnull=True)
                | Q(user__isnull=True, organization__isnull=False),
                name="alerts_watch_one_owner",
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
        return f"{self.user or self.organization} watches {self.mineral or self.country or self.measure_type}"


class Notification(models.Model):
    """An event in one user's inbox."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="alert_notifications")
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="notifications")
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True, help_text="Sent by e-mail (instant or in a digest).")

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["user", "read_at"], name="alerts_notification_unread")]
        constraints = [models.UniqueConstraint(fields=["user", "event"], name="alerts_notification_once")]

    def __str__(self) -> str:
        return f"{self.user}: {self.event}"


class Threshold(models.Model):
    """A level a user (or, as the default of its members, an organization) wants to be told of.

    A user's own thresholds of a metric replace the organization's defaults of that metric, which
    replace the built-in ones (alerts.thresholds.BUILT_IN). Empty mineral: every watched mineral.
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="alert_thresholds",
        help_text="Empty: the organization's default (set by its admin).",
    )
    metric = models.CharField(max_length=20, choices=ThresholdMetric.choices)
    level = models.FloatField(help_text="Shares as fractions (0.5 = 50 %); supply risk as is (1.0).")
    mineral = models.ForeignKey(Mineral, null=True, blank=True, on_delete=models.CASCADE, related_name="+")

    class Meta:
        ordering = ["metric", "level"]
        constraints = [
            models.CheckConstraint(condition=Q(metric__in=ThresholdMetric.values), name="alerts_threshold_metric"),
            models.CheckConstraint(condition=Q(level__gte=0), name="alerts_threshold_level_non_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.get_metric_display()} above {self.level:g} ({self.user or self.organization})"


class ThresholdState(models.Model):
    """Whether a buyer's metric is above a level: a crossing fires only from below (re-armed)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    mineral = models.ForeignKey(Mineral, on_delete=models.CASCADE, related_name="+")
    metric = models.CharField(max_length=20, choices=ThresholdMetric.choices)
    level = models.FloatField()
    above = models.BooleanField()
    value = models.FloatField(null=True)
    crossings = models.PositiveIntegerField(default=0)
    changed_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "mineral", "metric", "level"], name="alerts_threshold_state_once"
            )
        ]

    def __str__(self) -> str:
        side = "above" if self.above else "below"
        return f"{self.organization_id} {self.mineral_id} {self.metric} {side} {self.level:g}"


class EmailMode(models.TextChoices):
    OFF = "off", "No e-mail"
    INSTANT = "instant", "At once, one e-mail per alert"
    DAILY = "daily", "A daily digest"


class DeliveryPreference(models.Model):
    """How a user is told besides the inbox. Without a row: the organization default, else off."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="alert_preference"
    )
    organization = models.OneToOneField(
        Organization, null=True, blank=True, on_delete=models.CASCADE, related_name="alert_preference"
    )
    email = models.CharField(max_length=10, choices=EmailMode.choices, default=EmailMode.OFF)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(user__isnull=False, organization__isnull=True)
                | Q(user__isnull=True, organization__isnull=False),
                name="alerts_preference_one_owner",
            ),
            models.CheckConstraint(condition=Q(email__in=EmailMode.values), name="alerts_preference_email_mode"),
        ]

    def __str__(self) -> str:
        return f"{self.user or self.organization}: e-mail {self.email}"


class WebhookEndpoint(models.Model):
    """A partner system's URL that receives the organization's alerts, signed with its secret."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    url = models.URLField(max_length=500)
    secret = models.CharField(max_length=80, help_text="HMAC-SHA256 key of the signatures (shown to the admin).")
    description = models.CharField(max_length=200, blank=True)
    is_active = models.BooleanField(default=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    disabled_reason = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["organization_id", "id"]

    def __str__(self) -> str:
        return self.url


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed (retries exhausted)"


class WebhookDelivery(models.Model):
    """One event owed to one endpoint: written with the event's fan-out (the outbox of webhooks)."""

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="+")
    status = models.CharField(max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        verbose_name_plural = "webhook deliveries"
        indexes = [models.Index(fields=["endpoint", "status", "next_attempt_at"], name="alerts_delivery_due")]
        constraints = [
            models.UniqueConstraint(fields=["endpoint", "event"], name="alerts_delivery_once"),
            models.CheckConstraint(condition=Q(status__in=DeliveryStatus.values), name="alerts_delivery_status"),
        ]

    def __str__(self) -> str:
        return f"event {self.event_id} -> {self.endpoint_id} ({self.status})"


class WebhookAttempt(models.Model):
    """The delivery log: one POST to an endpoint (up to a batch of events) and what came back."""

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="attempts")
    started_at = models.DateTimeField()
    duration_ms = models.FloatField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.CharField(max_length=300, blank=True)
    event_ids = models.JSONField(default=list)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.endpoint_id} {self.started_at:%Y-%m-%d %H:%M:%S}: {self.status_code or self.error}"
