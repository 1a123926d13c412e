"""Materialized risk metrics, written only by dashboards.services (the recompute).

Every row records when it was computed (`computed_at`), the data version it reflects
(`Mineral.data_version`, plus `Organization.data_version` for exposure) and the sources of
its inputs (`sources`: a list of {"id", "key", "edition"}). A row whose version is below the
mineral's current one is stale: newer data is waiting for the recompute.

What is stored and what is computed at read time (docs/metrics.md, "Storage"):
* `SupplyMetric` per (mineral, stage, year): the concentration results and the country share
  vector. `ImportMetric` per (mineral, destination, year): the import shares, the partners'
  amounts (value, quantity; the share vectors follow on read) and net import reliance
  (computed and as published). Neither depends on a date.
* The as-of-dependent numbers (restricted shares, policy status, t factors, supply risk) are
  computed by the selectors from the stored share vectors and the measures with the pure
  functions of dashboards.risk: a few microseconds per row, any date, no stale "today".
* `ExposureMetric` per (organization, mineral) is stored as of `as_of` (the day it was
  computed); the beat sweep recomputes rows whose day has passed.
"""

import json
from functools import cached_property
from typing import Any

from django.db import models
from django.db.models import Q

from dashboards import risk
from minerals.models import Country, Mineral, Stage
from suppliers.models import Organization


class MineralMetricsState(models.Model):
    """The recompute gate of one mineral: the data version all its metric rows reflect.

    The recompute claims a version with a conditional UPDATE (`data_version < target`) in the
    transaction that replaces the rows, so an older or duplicate run writes nothing.
    """

    mineral = models.OneToOneField(Mineral, on_delete=models.CASCADE, primary_key=True, related_name="metrics_state")
    data_version = models.PositiveBigIntegerField(default=0)
    computed_at = models.DateTimeField(null=True, blank=True)
    recompute_count = models.PositiveIntegerField(default=0, help_text="Recomputes that wrote rows (not skipped).")
    duration_ms = models.FloatField(null=True, blank=True, help_text="Duration of the last recompute.")

    class Meta:
        verbose_name = "mineral metrics state"

    def __str__(self) -> str:
        return f"{self.mineral_id}: v{self.data_version}"


class MetricRow(models.Model):
    mineral = models.ForeignKey(Mineral, on_delete=models.CASCADE, related_name="+")
    year = models.PositiveSmallIntegerField()
    data_version = models.PositiveBigIntegerField(help_text="Mineral.data_version this row reflects.")
    computed_at = models.DateTimeField()
    sources = models.JSONField(default=list, help_text='Input sources: [{"id", "key", "edition"}].')

    class Meta:
        abstract = True


class SupplyMetric(MetricRow):
    """Supply concentration of (mineral, stage, year): risk.supply_concentration's result."""

    stage = models.CharField(max_length=10, choices=Stage.choices)
    unit = models.CharField(max_length=2)
    world_total = models.FloatField(null=True)
    world_total_source = models.CharField(max_length=20)
    coverage = models.FloatField(null=True)
    residual_share = models.FloatField(null=True)
    china_share = models.FloatField(null=True)
    feoc_share = models.FloatField(null=True)
    top3_share = models.FloatField(null=True)
    hhi = models.FloatField(null=True)
    hhi_band = models.CharField(max_length=10, blank=True)
    complete = models.BooleanField()
    unknown = models.BooleanField()
    withheld_countries = models.JSONField(default=list)
    unpublished_countries = models.JSONField(default=list, help_text="Rows published as NA or empty (unknown).")
    estimated_countries = models.JSONField(default=list, help_text="Rows the edition marks as estimates (e).")
    china_share_upper = models.FloatField(
        null=True, help_text="China not listed: its share is at most the 'Other countries' share (else unknown)."
    )
    bounded_countries = models.JSONField(default=list)
    # [[iso3, share or null], ...] largest first: input of restricted_supply_share and SR.
    country_shares = models.JSONField(default=list)

    class Meta:
        ordering = ["mineral_id", "stage", "-year"]
        constraints = [models.UniqueConstraint(fields=["mineral", "stage", "year"], name="supplymetric_unique")]

    def __str__(self) -> str:
        return f"supply {self.mineral_id} {self.stage} {self.year} (v{self.data_version})"


class ImportMetric(MetricRow):
    """Import dependence of (mineral, destination, year): risk.import_dependence's result."""

    destination = models.ForeignKey(Country, on_delete=models.CASCADE, related_name="+")
    total_value_usd = models.FloatField(null=True)
    import_coverage = models.FloatField(null=True)
    import_china_share = models.FloatField(null=True)
    import_feoc_share = models.FloatField(null=True)
    import_hhi = models.FloatField(null=True)
    import_hhi_band = models.CharField(max_length=10, blank=True)
    # [[iso3, value_usd, quantity_kg or null], ...] largest value first (China group merged into
    # CHN), as JSON text (`partners` parses it): the amounts, not the shares, so the set-based
    # recompute builds it in one pass (a share needs the total first); `partner_shares*` derive
    # the shares on read. Text, not jsonb: written and read whole, never queried inside, and
    # parsing 1.4 M numbers into jsonb cost ~10 % of a full recompute at benchmark scale.
    partners_json = models.TextField(default="[]")
    total_quantity_kg = models.FloatField(null=True)
    quantity_coverage = models.FloatField(null=True)
    import_china_share_by_quantity = models.FloatField(null=True)
    import_feoc_share_by_quantity = models.FloatField(null=True)
    import_hhi_by_quantity = models.FloatField(null=True)
    nir = models.FloatField(null=True, help_text="Computed from trade and production (fraction): a cross-check.")
    nir_note = models.CharField(max_length=100, blank=True, help_text="Why the computed NIR is unknown.")
    nir_published = models.FloatField(null=True, help_text="As published, e.g. USGS (fraction); the headline.")
    nir_published_bound = models.CharField(
        max_length=1, blank=True, help_text="'>' or '<' when published as a bound, 'E' net exporter (0)."
    )
    nir_published_estimate = models.BooleanField(
        default=False, help_text="The published NIR is an estimate (USGS 'e': the most recent year)."
    )

    class Meta:
        ordering = ["mineral_id", "destination_id", "-year"]
        constraints = [models.UniqueConstraint(fields=["mineral", "destination", "year"], name="importmetric_unique")]

    def __str__(self) -> str:
        return f"imports {self.mineral_id} -> {self.destination_id} {self.year} (v{self.data_version})"

    @cached_property
    def partners(self) -> list[list[Any]]:
        """``[[iso3, value_usd, quantity_kg or None], ...]`` largest value first."""
        return list(json.loads(self.partners_json))

    @cached_property
    def partner_shares(self) -> list[list[Any]]:
        """``[[iso3, value share], ...]`` largest first (risk.ranked_partner_shares)."""
        return [list(p) for p in risk.ranked_partner_shares(self.partners, self.total_value_usd)]

    @cached_property
    def partner_shares_by_quantity(self) -> list[list[Any]]:
        """``[[iso3, quantity share], ...]`` largest first, partners reporting a quantity."""
        shares = risk.ranked_partner_shares(self.partners, self.total_quantity_kg, by_quantity=True)
        return [list(p) for p in shares]

    @property
    def import_reliance(self) -> float | None:
        """The headline NIR and IR of the supply-risk formula: the published one (USGS), never
        the computed one (a cross-check from trade statistics, often gross weight or partial)."""
        return self.nir_published


class ExposureMetric(models.Model):
    """A buyer's exposure for one mineral as of `as_of`: risk.buyer_exposure's result."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="exposure_metrics")
    mineral = models.ForeignKey(Mineral, on_delete=models.CASCADE, related_name="+")
    as_of = models.DateField()
    organization_data_version = models.PositiveBigIntegerField()
    mineral_data_version = models.PositiveBigIntegerField()
    computed_at = models.DateTimeField()
    sources = models.JSONField(default=list)
    requirement_quantity = models.FloatField(null=True)
    unit = models.CharField(max_length=2, blank=True)
    total_volume = models.FloatField()
    direct_china_share = models.FloatField(null=True)
    china_controlled_share = models.FloatField(null=True)
    upstream_china_share = models.FloatField(null=True)
    unmapped_share = models.FloatField(null=True)
    restricted_share = models.FloatField(null=True)
    china_exposed_volume = models.FloatField()
    # What could not be resolved: cycles, unknown facilities, countries without a mix, ...
    issues = models.JSONField(default=dict)

    class Meta:
        ordering = ["organization_id", "mineral_id"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "mineral"], name="exposuremetric_unique"),
            models.CheckConstraint(condition=Q(total_volume__gte=0), name="exposuremetric_volume_non_negative"),
        ]

    def __str__(self) -> str:
        versions = f"v{self.organization_data_version}/{self.mineral_data_version}"
        return f"exposure {self.organization_id} {self.mineral_id} ({versions})"
