"""Saved scenarios: a window, an as-of date and typed shock rows; runs with their stored results.

A scenario belongs to one organization (visible to its members only) or is built in
(organization NULL, visible to every signed-in user). Shocks are rows of three kinds (policy,
supply, demand), never JSON typed by users; docs/metrics.md ("Scenarios") defines each field.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from minerals.models import Country, MeasureType, Mineral, PolicyMeasure
from suppliers.models import Facility, Organization


class Scenario(models.Model):
    key = models.SlugField(max_length=80, blank=True, help_text="Set for the built-in scenarios only.")
    name = models.CharField(max_length=200)
    organization = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.CASCADE, related_name="scenarios"
    )
    assumptions = models.TextField(blank=True, help_text="What the scenario assumes, in words.")
    as_of = models.DateField(help_text="Production and import tables: the newest up to this date's year.")
    window_start = models.DateField()
    window_end = models.DateField()
    licence_approval_rate = models.FloatField(
        null=True,
        blank=True,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text="Share of licensed exports that still flow (0..1); empty keeps the severity table.",
    )
    revision = models.PositiveIntegerField(default=0, editable=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["organization_id", "name"]
        constraints = [
            models.CheckConstraint(condition=Q(window_end__gte=models.F("window_start")), name="scenario_window_order"),
            models.CheckConstraint(
                condition=Q(licence_approval_rate__isnull=True)
                | (Q(licence_approval_rate__gte=0) & Q(licence_approval_rate__lte=1)),
                name="scenario_approval_rate_0_1",
            ),
            models.UniqueConstraint(fields=["key"], condition=~Q(key=""), name="scenario_builtin_key_unique"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_builtin(self) -> bool:
        return self.organization_id is None


class PolicyShock(models.Model):
    class Kind(models.TextChoices):
        LAPSE = "lapse", "a suspension lapses"
        EXTEND = "extend", "a suspension is extended"
        WIDEN = "widen", "an existing measure is widened"
        NEW = "new", "a new measure"

    scenario = models.ForeignKey(Scenario, on_delete=models.CASCADE, related_name="policy_shocks")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    measure = models.ForeignKey(
        PolicyMeasure, null=True, blank=True, on_delete=models.CASCADE, help_text="Empty: every measure by the issuer."
    )
    issuer = models.ForeignKey(
        Country, null=True, blank=True, on_delete=models.PROTECT, related_name="+", help_text="Empty: any issuer."
    )
    on = models.DateField(null=True, blank=True, help_text="Lapse: applies again from; widen/new: in force from.")
    until = models.DateField(null=True, blank=True, help_text="Extend: suspended until (included); new: ends after.")
    measure_type = models.CharField(max_length=24, choices=MeasureType.choices, blank=True)
    minerals = models.ManyToManyField(Mineral, blank=True, related_name="+")
    targets = models.ManyToManyField(Country, blank=True, related_name="+")

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=["lapse", "extend", "widen", "new"]), name="policyshock_kind"),
            models.CheckConstraint(
                condition=~Q(kind="new") | (Q(issuer__isnull=False) & ~Q(measure_type="")),
                name="policyshock_new_has_issuer_and_type",
            ),
            models.CheckConstraint(
                condition=~Q(kind="extend") | Q(until__isnull=False), name="policyshock_extend_until"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.measure or self.issuer or 'every measure'})"


class SupplyShock(models.Model):
    class Kind(models.TextChoices):
        COUNTRY_OUTPUT = "country_output", "a country's output cut"
        FACILITY_OFFLINE = "facility_offline", "a facility offline"
        FACILITY_DELAY = "facility_delay", "a facility's start delayed"

    scenario = models.ForeignKey(Scenario, on_delete=models.CASCADE, related_name="supply_shocks")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    mineral = models.ForeignKey(
        Mineral, null=True, blank=True, on_delete=models.CASCADE, related_name="+", help_text="Empty: every mineral."
    )
    country = models.ForeignKey(
        Country,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Empty: the largest producer outside China (per mineral).",
    )
    cut_percent = models.FloatField(
        null=True, blank=True, validators=[MinValueValidator(0.0), MaxValueValidator(100.0)], help_text="100 = removed."
    )
    facility = models.ForeignKey(Facility, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    delay_years = models.PositiveSmallIntegerField(null=True, blank=True, validators=[MaxValueValidator(50)])

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=["country_output", "facility_offline", "facility_delay"]), name="supplyshock_kind"
            ),
            models.CheckConstraint(
                condition=~Q(kind="country_output") | (Q(cut_percent__gte=0) & Q(cut_percent__lte=100)),
                name="supplyshock_cut_0_100",
            ),
            models.CheckConstraint(
                condition=Q(kind="country_output") | Q(facility__isnull=False), name="supplyshock_facility_named"
            ),
            models.CheckConstraint(
                condition=~Q(kind="facility_delay") | Q(delay_years__gte=1), name="supplyshock_delay_positive"
            ),
        ]

    def __str__(self) -> str:
        return self.get_kind_display()


class DemandShock(models.Model):
    scenario = models.ForeignKey(Scenario, on_delete=models.CASCADE, related_name="demand_shocks")
    mineral = models.ForeignKey(Mineral, on_delete=models.CASCADE, related_name="+")
    change_percent = models.FloatField(
        validators=[MinValueValidator(-100.0), MaxValueValidator(1000.0)], help_text="+20 = 20 % more; -100 = none."
    )

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(change_percent__gte=-100) & Q(change_percent__lte=1000), name="demandshock_change_range"
            )
        ]

    def __str__(self) -> str:
        return f"{self.mineral}: {self.change_percent:+g} %"


class ScenarioRun(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"

    scenario = models.ForeignKey(Scenario, on_delete=models.CASCADE, related_name="runs")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0, validators=[MaxValueValidator(100)])
    data_version = models.CharField(max_length=200, blank=True, help_text="The data (and scenario revision) it used.")
    minerals = models.JSONField(default=list, blank=True, help_text="Per mineral, baseline vs scenario.")
    error = models.TextField(blank=True)
    requested_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["queued", "running", "done", "failed"]), name="scenariorun_status"
            ),
            models.CheckConstraint(condition=Q(progress__lte=100), name="scenariorun_progress_0_100"),
        ]

    def __str__(self) -> str:
        return f"run {self.pk} of {self.scenario} ({self.status})"


class ScenarioBuyerResult(models.Model):
    """One buyer's volumes at risk in a run: read by that organization's members only."""

    run = models.ForeignKey(ScenarioRun, on_delete=models.CASCADE, related_name="buyer_results")
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    minerals = models.JSONField(default=list)

    class Meta:
        ordering = ["run_id", "organization_id"]
        constraints = [models.UniqueConstraint(fields=["run", "organization"], name="scenariobuyer_unique")]

    def __str__(self) -> str:
        return f"{self.organization} in run {self.run_id}"
