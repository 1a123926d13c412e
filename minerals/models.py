"""Reference data: countries, minerals, HS codes, sources, production, trade and policy.

The lowest app: it imports nothing from suppliers or dashboards. Writes go through
minerals.services, which validates, records the acting user and marks affected minerals stale.
"""

import math
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords

from minerals import policy_terms
from minerals.importers.numbers import MAX_AMOUNT
from minerals.validation import CheckConstraintsInOneQuery

iso3_validator = RegexValidator(r"^[A-Z]{3}$", "An ISO 3166-1 alpha-3 code: three capital letters.")
iso2_validator = RegexValidator(r"^[A-Z]{2}$", "An ISO 3166-1 alpha-2 code: two capital letters.")
# A six-digit HS subheading, or a four-digit heading where the source reports only the heading
# (the Comtrade extract of rare earths gives heading 2846, not 284610 and 284690).
HS_CODE_PATTERN = r"^([0-9]{4}|[0-9]{6})$"
hs6_validator = RegexValidator(HS_CODE_PATTERN, "A six-digit HS subheading or a four-digit heading.")
year_validators = [MinValueValidator(1900), MaxValueValidator(2100)]
share_validators = [MinValueValidator(0.0), MaxValueValidator(1.0)]

YEAR_RANGE = Q(year__gte=1900) & Q(year__lte=2100)


def validate_finite(value: float | None) -> None:
    """NaN passes Min/MaxValueValidator (every comparison with NaN is false): refuse it here."""
    if value is not None and not math.isfinite(value):
        raise ValidationError("Enter a finite number.", code="not_finite")


# An amount (USD, kg, t): finite, 0..MAX_AMOUNT (docs/data-sources.md, "Limits").
amount_validators: list[Callable[[Any], None]] = [
    validate_finite,
    MinValueValidator(0.0),
    MaxValueValidator(MAX_AMOUNT),
]


def amount_range(field: str, *, nullable: bool) -> Q:
    """0 <= field <= MAX_AMOUNT. On PostgreSQL NaN sorts above every number, so the upper bound
    refuses NaN and +Infinity as well; the lower bound refuses -Infinity."""
    bounded = Q(**{f"{field}__gte": 0}) & Q(**{f"{field}__lte": MAX_AMOUNT})
    return Q(**{f"{field}__isnull": True}) | bounded if nullable else bounded


def share_range(field: str) -> Q:
    """A nullable share in [0, 1]."""
    return Q(**{f"{field}__isnull": True}) | (Q(**{f"{field}__gte": 0}) & Q(**{f"{field}__lte": 1}))


class Stage(models.TextChoices):
    MINE = "mine", "Mine"
    REFINERY = "refinery", "Refinery / smelter / primary production"
    RECYCLING = "recycling", "Recycling"
    COMPONENT = "component", "Component (magnets, anode material, ...)"


class Unit(models.TextChoices):
    KG = "kg", "kilograms"
    T = "t", "metric tons"


KG_PER_UNIT = {"kg": 1.0, "t": 1000.0}


def convert_quantity(quantity: float, unit: str, to_unit: str) -> float:
    """A quantity in kg or t expressed in `to_unit` (an empty or unknown unit is taken as `to_unit`)."""
    return quantity * KG_PER_UNIT.get(unit or to_unit, 1.0) / KG_PER_UNIT.get(to_unit, 1.0)


class Country(models.Model):
    iso3 = models.CharField("ISO3", primary_key=True, max_length=3, validators=[iso3_validator])
    iso2 = models.CharField("ISO2", max_length=2, unique=True, validators=[iso2_validator])
    m49 = models.PositiveSmallIntegerField("UN M49", null=True, blank=True, unique=True)
    name = models.CharField(max_length=120, unique=True)
    region = models.CharField(max_length=60, blank=True)
    subregion = models.CharField(max_length=60, blank=True)
    is_feoc = models.BooleanField(
        "foreign entity of concern", default=False, help_text="CHN, RUS, PRK, IRN in U.S. usage."
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "countries"

    def __str__(self) -> str:
        return f"{self.name} ({self.iso3})"


class DataSource(models.Model):
    """A publication or file that figures come from, with its edition."""

    key = models.SlugField(max_length=80, unique=True, help_text="Stable short name, e.g. usgs-mcs-2025.")
    publisher = models.CharField(max_length=200)
    title = models.CharField(max_length=300)
    edition = models.CharField(max_length=80, blank=True, help_text="e.g. 'MCS 2025'.")
    published_on = models.DateField(null=True, blank=True, help_text="Orders editions: the newest wins.")
    url = models.URLField(max_length=500, blank=True)
    licence = models.CharField(max_length=120, blank=True)
    retrieved_on = models.DateField(null=True, blank=True)
    checksum = models.CharField(
        "SHA-256 of the file", max_length=64, blank=True, help_text="Identifies an imported file."
    )
    notes = models.TextField(blank=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["publisher", "title", "edition"]
        constraints = [
            models.UniqueConstraint(fields=["checksum"], condition=~Q(checksum=""), name="datasource_unique_checksum"),
        ]

    def __str__(self) -> str:
        return f"{self.title} ({self.edition})" if self.edition else self.title


def require_dated_source(source: DataSource | None) -> None:
    """Editions are ranked by publication date (the newest wins for a year): a figure whose
    source has no date could be outranked by an older edition, so it is refused."""
    if source is not None and source.published_on is None:
        raise ValidationError(
            {"source": f"source {source.key!r} has no publication date: editions are ranked by it, set published_on"}
        )


class ImportBatch(models.Model):
    """One run of an importer over one file: who, when, and what happened to its rows."""

    class Status(models.TextChoices):
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"
        UNCHANGED = "unchanged"

    # Empty while an uploaded file waits for its task (which identifies it), and for a failed or dry
    # batch whose source it created (removed with it: nothing is left behind).
    source = models.ForeignKey(
        DataSource, null=True, blank=True, on_delete=models.PROTECT, related_name="import_batches"
    )
    importer = models.CharField(max_length=40, help_text="usgs_mcs, comtrade, baci, wgi, ...")
    file_name = models.CharField(max_length=255)
    started_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.RUNNING)
    rows_read = models.PositiveIntegerField(default=0)
    inserted = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    rejected = models.PositiveIntegerField(default=0)
    report = models.JSONField(default=dict, blank=True, help_text="Rejections by reason, unmapped names, ...")
    # Identifies the file: the same checksum imported again gives an 'unchanged' batch, nothing written.
    checksum = models.CharField("SHA-256 of the file", max_length=64, blank=True, db_index=True)
    file_path = models.CharField(max_length=500, blank=True, help_text="Where an uploaded file was saved (under var/).")
    options = models.JSONField(default=dict, blank=True, help_text="skip_invalid, all_codes, countries file, ...")
    progress = models.PositiveSmallIntegerField(default=0, help_text="Percent of the file read (0-100).")

    class Meta:
        ordering = ["-started_at"]
        verbose_name_plural = "import batches"
        # Seeing batches (view_importbatch) is for auditors; writing data needs these dedicated rights.
        permissions = [
            ("upload_data_file", "Can upload a data file for import (USGS, Comtrade, BACI, WGI)"),
            ("import_organization_data", "Can import organizations, memberships and portfolios in the admin"),
        ]

    def __str__(self) -> str:
        return f"{self.importer}: {self.file_name} ({self.status})"


class CriticalMineralList(models.Model):
    """A versioned official list, e.g. the U.S. 2022 list or the EU 2023 list."""

    key = models.SlugField(max_length=20, unique=True, help_text="us-2022, us-2025, eu-2023")
    name = models.CharField(max_length=200)
    issuer = models.ForeignKey(Country, null=True, blank=True, on_delete=models.PROTECT, help_text="Empty for the EU.")
    published_on = models.DateField(null=True, blank=True)
    source = models.ForeignKey(DataSource, null=True, blank=True, on_delete=models.PROTECT)

    history = HistoricalRecords()

    class Meta:
        ordering = ["key"]

    def __str__(self) -> str:
        return self.name


class Mineral(models.Model):
    slug = models.SlugField(max_length=60, unique=True, help_text="e.g. gallium, rare-earths, graphite-natural.")
    name = models.CharField(max_length=100, unique=True)
    symbol = models.CharField(max_length=10, blank=True)
    usgs_name = models.CharField("USGS commodity name", max_length=100, blank=True)
    canonical_unit = models.CharField(max_length=2, choices=Unit.choices, default=Unit.T)
    critical_lists = models.ManyToManyField(CriticalMineralList, blank=True, related_name="minerals")
    notes = models.TextField(blank=True)
    # The stale marker: bumped in the same transaction as any change to this mineral's inputs.
    # A metric row records the version it reflects; an older version means a recompute is due.
    data_version = models.PositiveBigIntegerField(default=0, editable=False)
    data_changed_at = models.DateTimeField(null=True, blank=True, editable=False)

    history = HistoricalRecords(excluded_fields=["data_version", "data_changed_at"])

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class MineralParameter(models.Model):
    """A curated per-mineral input of the EU supply-risk formula, with its source."""

    class Name(models.TextChoices):
        EOL_RIR = "eol_rir", "End-of-life recycling input rate (0..1)"
        SUBSTITUTION_INDEX = "substitution_index", "Substitution index (0..1, 1 = no substitute)"

    mineral = models.ForeignKey(Mineral, on_delete=models.CASCADE, related_name="parameters")
    name = models.CharField(max_length=30, choices=Name.choices)
    value = models.FloatField(validators=share_validators)
    source = models.ForeignKey(DataSource, on_delete=models.PROTECT)
    notes = models.TextField(blank=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["mineral__name", "name"]
        constraints = [
            models.UniqueConstraint(fields=["mineral", "name"], name="mineralparameter_unique"),
            models.CheckConstraint(condition=Q(value__gte=0) & Q(value__lte=1), name="mineralparameter_value_0_1"),
        ]

    def __str__(self) -> str:
        return f"{self.mineral}: {self.get_name_display()} = {self.value}"


class RecyclingFigure(models.Model):
    """How much of a country's supply of a mineral is recycled, as its source publishes it (the
    recycling lever). ``rate`` = ``secondary_quantity / consumption_quantity`` when both are
    published (e.g. USGS MCS salient statistics: U.S. secondary production over apparent
    consumption), or a rate the source states; empty when not published (NA, withheld): unknown,
    never 0. ``basis`` says what is counted (old scrap only is an end-of-life recycling input rate;
    new and old scrap is a secondary share)."""

    mineral = models.ForeignKey(Mineral, on_delete=models.CASCADE, related_name="recycling_figures")
    country = models.ForeignKey(Country, on_delete=models.PROTECT, related_name="+")
    year = models.PositiveSmallIntegerField(validators=year_validators)
    rate = models.FloatField(
        null=True, blank=True, validators=share_validators, help_text="Recycled share of supply (0..1); empty: unknown."
    )
    secondary_quantity = models.FloatField(
        null=True, blank=True, validators=amount_validators, help_text="Secondary (recycled) production per year."
    )
    consumption_quantity = models.FloatField(
        null=True, blank=True, validators=amount_validators, help_text="Apparent consumption per year."
    )
    unit = models.CharField(max_length=2, choices=Unit.choices, default=Unit.T)
    basis = models.CharField(max_length=300, help_text="What is counted, in the source's words (columns used).")
    is_estimate = models.BooleanField(default=False)
    source = models.ForeignKey(DataSource, on_delete=models.PROTECT)
    notes = models.TextField(blank=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["mineral__name", "country_id", "-year"]
        constraints = [
            models.UniqueConstraint(fields=["mineral", "country", "year", "source"], name="recycling_unique"),
            models.CheckConstraint(condition=share_range("rate"), name="recycling_rate_0_1"),
            models.CheckConstraint(condition=YEAR_RANGE, name="recycling_year_range"),
            models.CheckConstraint(
                condition=amount_range("secondary_quantity", nullable=True), name="recycling_secondary_finite"
            ),
            models.CheckConstraint(
                condition=amount_range("consumption_quantity", nullable=True), name="recycling_consumption_finite"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.mineral} {self.country_id} {self.year}: recycled {self.rate if self.rate is not None else '?'}"


WGI_DIMENSIONS = (
    "voice_accountability",
    "political_stability",
    "government_effectiveness",
    "regulatory_quality",
    "rule_of_law",
    "control_of_corruption",
)


class WgiScore(models.Model):
    """World Bank Worldwide Governance Indicators estimates (-2.5..2.5) for a country-year."""

    country = models.ForeignKey(Country, on_delete=models.CASCADE, related_name="wgi_scores")
    year = models.PositiveSmallIntegerField(validators=year_validators)
    voice_accountability = models.FloatField(null=True, blank=True)
    political_stability = models.FloatField(null=True, blank=True)
    government_effectiveness = models.FloatField(null=True, blank=True)
    regulatory_quality = models.FloatField(null=True, blank=True)
    rule_of_law = models.FloatField(null=True, blank=True)
    control_of_corruption = models.FloatField(null=True, blank=True)
    source = models.ForeignKey(DataSource, on_delete=models.PROTECT)

    history = HistoricalRecords()

    DIMENSIONS = WGI_DIMENSIONS

    class Meta:
        ordering = ["country_id", "-year"]
        verbose_name = "WGI score"
        constraints = [
            models.UniqueConstraint(fields=["country", "year"], name="wgiscore_unique_country_year"),
            models.CheckConstraint(condition=YEAR_RANGE, name="wgiscore_year_range"),
            *[
                models.CheckConstraint(
                    # "approximately -2.5 to 2.5": the 2022 release has estimates down to -3.18.
                    condition=Q(**{f"{d}__isnull": True}) | (Q(**{f"{d}__gte": -5}) & Q(**{f"{d}__lte": 5})),
                    name=f"wgiscore_{d}_range",
                )
                for d in WGI_DIMENSIONS
            ],
        ]

    def __str__(self) -> str:
        return f"WGI {self.country_id} {self.year}"


class CommodityCode(models.Model):
    """An HS six-digit subheading, or a four-digit heading where a source reports only the heading
    (its rows are the heading's total). Basket codes (811292: Ga, Ge, In, Nb, V ...) map to
    several minerals."""

    hs6 = models.CharField(
        "HS code",
        primary_key=True,
        max_length=6,
        validators=[hs6_validator],
        help_text="6 digits, or a 4-digit heading.",
    )
    description = models.CharField(max_length=300)
    is_basket = models.BooleanField(default=False, help_text="The code covers more than one product.")
    note = models.TextField(blank=True, help_text="What a basket code covers.")
    minerals = models.ManyToManyField(Mineral, through="CommodityMineral", related_name="commodity_codes", blank=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["hs6"]
        constraints = [models.CheckConstraint(condition=Q(hs6__regex=HS_CODE_PATTERN), name="commoditycode_hs6_digits")]

    def __str__(self) -> str:
        return f"{self.hs6} {self.description[:60]}"


class QuantityBasis(models.TextChoices):
    """What a code's trade quantity (net weight) measures, next to the mineral's production."""

    GROSS = "gross", "gross product weight (ores, compounds, articles): not comparable with production"
    CONTENT = "content", "the mineral as its production is counted (e.g. unwrought metal, natural graphite)"


class CommodityMineral(models.Model):
    commodity_code = models.ForeignKey(CommodityCode, on_delete=models.CASCADE, related_name="mappings")
    mineral = models.ForeignKey(Mineral, on_delete=models.CASCADE, related_name="commodity_mappings")
    stage = models.CharField(max_length=10, choices=Stage.choices)
    # The computed NIR subtracts trade quantities from production: only sound when every mapped
    # code weighs what the production table counts (docs/metrics.md, "Net import reliance").
    quantity_basis = models.CharField(
        max_length=7,
        choices=QuantityBasis.choices,
        default=QuantityBasis.GROSS,
        help_text="Gross product weight unless the code's weight is the mineral as production counts it.",
    )

    history = HistoricalRecords()

    class Meta:
        ordering = ["commodity_code_id", "mineral__name"]
        constraints = [
            models.UniqueConstraint(fields=["commodity_code", "mineral", "stage"], name="commoditymineral_unique"),
            models.CheckConstraint(condition=Q(stage__in=Stage.values), name="commoditymineral_stage_valid"),
            models.CheckConstraint(
                condition=Q(quantity_basis__in=QuantityBasis.values), name="commoditymineral_quantity_basis_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.commodity_code_id} -> {self.mineral} ({self.stage})"

    def clean(self) -> None:
        super().clean()
        if not (self.commodity_code_id and self.mineral_id):
            return
        # A heading's rows are the total of its subheadings: mapping both would count trade twice.
        code = self.commodity_code_id
        overlapping = [
            other
            for other in CommodityMineral.objects.filter(mineral_id=self.mineral_id)
            .exclude(pk=self.pk)
            .values_list("commodity_code_id", flat=True)
            if other != code and (other.startswith(code) or code.startswith(other))
        ]
        if overlapping:
            raise ValidationError(
                {
                    "commodity_code": f"HS {code} overlaps HS {', '.join(sorted(set(overlapping)))} already mapped to "
                    "this mineral (a heading is the total of its subheadings): map one or the other"
                }
            )


class ProductionRecord(CheckConstraintsInOneQuery, models.Model):
    """One published production figure: a country, the world total or the residual, in a year."""

    class RowKind(models.TextChoices):
        COUNTRY = "country", "Country"
        WORLD_TOTAL = "world_total", "World total"
        OTHER = "other", "Other countries (residual)"

    class Bound(models.TextChoices):
        EXACT = "", "exact"
        ABOVE = ">", "more than"
        BELOW = "<", "less than"

    mineral = models.ForeignKey(Mineral, on_delete=models.PROTECT, related_name="production_records")
    stage = models.CharField(max_length=10, choices=Stage.choices)
    row_kind = models.CharField(max_length=12, choices=RowKind.choices, default=RowKind.COUNTRY)
    country = models.ForeignKey(
        Country, null=True, blank=True, on_delete=models.PROTECT, related_name="production_records"
    )
    year = models.PositiveSmallIntegerField(validators=year_validators)
    quantity = models.FloatField(
        null=True, blank=True, validators=amount_validators, help_text="Empty when withheld or not available."
    )
    unit = models.CharField(max_length=2, choices=Unit.choices)
    is_estimate = models.BooleanField(default=False)
    is_withheld = models.BooleanField(default=False, help_text="USGS 'W': withheld to avoid disclosing company data.")
    bound = models.CharField(max_length=1, choices=Bound.choices, blank=True, default=Bound.EXACT)
    notes = models.CharField(max_length=300, blank=True)
    source = models.ForeignKey(DataSource, on_delete=models.PROTECT, related_name="production_records")

    history = HistoricalRecords()

    class Meta:
        ordering = ["mineral__name", "stage", "-year", "row_kind", "country_id"]
        indexes = [models.Index(fields=["mineral", "stage", "year"], name="production_mineral_stage_year")]
        constraints = [
            # A later edition's revision of an earlier year is stored beside it: the source is in the key.
            models.UniqueConstraint(
                fields=["mineral", "stage", "country", "year", "source"],
                condition=Q(row_kind="country"),
                name="production_unique_country_row",
            ),
            models.UniqueConstraint(
                fields=["mineral", "stage", "row_kind", "year", "source"],
                condition=~Q(row_kind="country"),
                name="production_unique_aggregate_row",
            ),
            models.CheckConstraint(
                condition=Q(quantity__isnull=True) | Q(quantity__gte=0), name="production_quantity_non_negative"
            ),
            models.CheckConstraint(condition=YEAR_RANGE, name="production_year_range"),
            models.CheckConstraint(condition=Q(stage__in=Stage.values), name="production_stage_valid"),
            models.CheckConstraint(condition=Q(unit__in=Unit.values), name="production_unit_valid"),
            models.CheckConstraint(
                condition=(Q(row_kind="country") & Q(country__isnull=False))
                | (Q(row_kind__in=["world_total", "other"]) & Q(country__isnull=True)),
                name="production_country_matches_row_kind",
            ),
            models.CheckConstraint(
                condition=Q(is_withheld=False) | Q(quantity__isnull=True), name="production_withheld_has_no_quantity"
            ),
            models.CheckConstraint(condition=Q(bound__in=["", ">", "<"]), name="production_bound_valid"),
            models.CheckConstraint(
                condition=amount_range("quantity", nullable=True), name="production_quantity_finite"
            ),
        ]

    def __str__(self) -> str:
        where = self.country_id or self.get_row_kind_display()
        return f"{self.mineral} {self.stage} {where} {self.year}"

    def clean(self) -> None:
        super().clean()
        require_dated_source(self.source if self.source_id else None)


class SalientStatistic(models.Model):
    """A country's salient statistic as published (USGS: U.S. imports, exports, net import reliance)."""

    class Statistic(models.TextChoices):
        PRODUCTION = "production"
        IMPORTS = "imports"
        EXPORTS = "exports"
        CONSUMPTION = "consumption", "apparent consumption"
        NET_IMPORT_RELIANCE = "net_import_reliance", "net import reliance (%)"

    mineral = models.ForeignKey(Mineral, on_delete=models.PROTECT, related_name="salient_statistics")
    country = models.ForeignKey(Country, on_delete=models.PROTECT)
    year = models.PositiveSmallIntegerField(validators=year_validators)
    statistic = models.CharField(max_length=30, choices=Statistic.choices)
    value = models.FloatField(null=True, blank=True, validators=amount_validators)
    unit = models.CharField(max_length=10, help_text="kg, t or percent.")
    bound = models.CharField(max_length=1, choices=ProductionRecord.Bound.choices, blank=True, default="")
    is_estimate = models.BooleanField(default=False)
    is_withheld = models.BooleanField(default=False)
    notes = models.CharField(max_length=300, blank=True)
    source = models.ForeignKey(DataSource, on_delete=models.PROTECT)

    history = HistoricalRecords()

    class Meta:
        ordering = ["mineral__name", "country_id", "-year", "statistic"]
        constraints = [
            models.UniqueConstraint(
                fields=["mineral", "country", "year", "statistic", "source"], name="salient_unique"
            ),
            models.CheckConstraint(condition=YEAR_RANGE, name="salient_year_range"),
            models.CheckConstraint(
                condition=Q(value__isnull=True) | Q(value__gte=0), name="salient_value_non_negative"
            ),
            models.CheckConstraint(
                condition=~Q(statistic="net_import_reliance") | Q(value__isnull=True) | Q(value__lte=100),
                name="salient_nir_percent",
            ),
            models.CheckConstraint(condition=amount_range("value", nullable=True), name="salient_value_finite"),
        ]

    def __str__(self) -> str:
        return f"{self.mineral} {self.country_id} {self.year} {self.statistic}"

    def clean(self) -> None:
        super().clean()
        require_dated_source(self.source if self.source_id else None)


class TradeFlow(CheckConstraintsInOneQuery, models.Model):
    """A bilateral flow of one HS6 code in one year, as one source reports it.

    An empty exporter (or importer) is the partner aggregate 'World': a total, not a partner.
    `basis` keeps mirror statistics apart: the importer's report, the exporter's, or a
    reconciled figure (BACI).
    """

    class Basis(models.TextChoices):
        IMPORT_REPORTED = "import", "reported by the importer"
        EXPORT_REPORTED = "export", "reported by the exporter"
        RECONCILED = "reconciled", "reconciled (BACI)"

    year = models.PositiveSmallIntegerField(validators=year_validators)
    # No single-column index on the three code columns (nor Django's varchar_pattern_ops copy, which
    # no query uses: nothing filters them with LIKE): the composite indexes below start with each,
    # and every extra index is maintained by every import row (docs/performance.md, "Import").
    exporter = models.ForeignKey(
        Country, null=True, blank=True, on_delete=models.PROTECT, related_name="exports", db_index=False
    )
    importer = models.ForeignKey(
        Country, null=True, blank=True, on_delete=models.PROTECT, related_name="imports", db_index=False
    )
    commodity_code = models.ForeignKey(
        CommodityCode, on_delete=models.PROTECT, related_name="trade_flows", db_index=False
    )
    basis = models.CharField(max_length=10, choices=Basis.choices)
    value_usd = models.FloatField(validators=amount_validators)
    quantity_kg = models.FloatField(null=True, blank=True, validators=amount_validators)
    source = models.ForeignKey(DataSource, on_delete=models.PROTECT, related_name="trade_flows")

    history = HistoricalRecords()

    class Meta:
        ordering = ["-year", "commodity_code_id", "importer_id", "exporter_id"]
        indexes = [
            models.Index(fields=["commodity_code", "importer", "year"], name="trade_code_importer_year"),
            # The datasets present per code (dashboards.inputs.datasets_by_code): a skip scan
            # reads one index entry per distinct (code, year, source, basis), not every flow.
            models.Index(fields=["commodity_code", "year", "source", "basis"], name="trade_code_dataset"),
            models.Index(fields=["exporter", "year"], name="trade_exporter_year"),
            # The API pages flows by id filtered on one country: keeps a page flat at millions of rows.
            models.Index(fields=["importer", "id"], name="trade_importer_id"),
            models.Index(fields=["exporter", "id"], name="trade_exporter_id"),
            # ... and on an HS code and an importer (the documented filter): a page walks 101
            # entries in id order, however many flows match (docs/performance.md "Uncached lists").
            models.Index(fields=["commodity_code", "importer", "id"], name="trade_code_importer_id"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "year", "exporter", "importer", "commodity_code", "basis"],
                condition=Q(exporter__isnull=False) & Q(importer__isnull=False),
                name="tradeflow_unique_bilateral",
            ),
            models.UniqueConstraint(
                fields=["source", "year", "importer", "commodity_code", "basis"],
                condition=Q(exporter__isnull=True),
                name="tradeflow_unique_imports_from_world",
            ),
            models.UniqueConstraint(
                fields=["source", "year", "exporter", "commodity_code", "basis"],
                condition=Q(importer__isnull=True),
                name="tradeflow_unique_exports_to_world",
            ),
            models.CheckConstraint(
                condition=Q(exporter__isnull=False) | Q(importer__isnull=False), name="tradeflow_has_a_country"
            ),
            models.CheckConstraint(condition=Q(value_usd__gte=0), name="tradeflow_value_non_negative"),
            models.CheckConstraint(
                condition=Q(quantity_kg__isnull=True) | Q(quantity_kg__gte=0), name="tradeflow_quantity_non_negative"
            ),
            models.CheckConstraint(condition=YEAR_RANGE, name="tradeflow_year_range"),
            models.CheckConstraint(
                condition=Q(basis__in=["import", "export", "reconciled"]), name="tradeflow_basis_valid"
            ),
            models.CheckConstraint(condition=amount_range("value_usd", nullable=False), name="tradeflow_value_finite"),
            models.CheckConstraint(
                condition=amount_range("quantity_kg", nullable=True), name="tradeflow_quantity_finite"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.year} {self.exporter_id or 'World'} -> {self.importer_id or 'World'} {self.commodity_code_id}"


# Choices built from the one definition the pure risk engine shares (minerals.policy_terms).
MeasureType = models.TextChoices(  # type: ignore[call-overload]
    "MeasureType", [(t.name, (t.value, policy_terms.MEASURE_TYPE_LABELS[t])) for t in policy_terms.MeasureType]
)


class MeasureTypeSeverity(models.Model):
    """A curator's override of the default severity of a measure type."""

    measure_type = models.CharField(max_length=30, choices=MeasureType.choices, unique=True)
    severity = models.FloatField(validators=share_validators)
    notes = models.TextField(blank=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["measure_type"]
        verbose_name_plural = "measure type severities"
        constraints = [
            models.CheckConstraint(condition=Q(severity__gte=0) & Q(severity__lte=1), name="measuretypeseverity_0_1")
        ]

    def __str__(self) -> str:
        return f"{self.get_measure_type_display()}: {self.severity}"


class PolicyMeasure(models.Model):
    """An export control (or a support measure) on minerals, with its dates and targets."""

    key = models.SlugField(max_length=80, unique=True)
    issuer = models.ForeignKey(Country, on_delete=models.PROTECT, related_name="issued_measures")
    measure_type = models.CharField(max_length=30, choices=MeasureType.choices)
    title = models.CharField(max_length=300)
    minerals = models.ManyToManyField(Mineral, blank=True, related_name="policy_measures")
    commodity_codes = models.ManyToManyField(CommodityCode, blank=True, related_name="policy_measures")
    targets = models.ManyToManyField(
        Country, blank=True, related_name="targeted_by", help_text="Destinations targeted; empty means all."
    )
    announced_on = models.DateField(null=True, blank=True)
    effective_on = models.DateField(null=True, blank=True)
    suspended_from = models.DateField(null=True, blank=True)
    suspended_until = models.DateField(
        null=True,
        blank=True,
        help_text='Last day of the suspension (included, as in "until 27 November 2026"): '
        "the measure applies again from the next day.",
    )
    ended_on = models.DateField(null=True, blank=True)
    instrument = models.CharField(max_length=200, blank=True, help_text='e.g. "MOFCOM Ann. No. 46 [2024]".')
    summary = models.TextField(blank=True, help_text="Public: shown to buyers on the pages and in the API.")
    curator_notes = models.TextField(
        blank=True, help_text="For curators only (modelling choices, what is unverified): never shown to buyers."
    )
    source_url = models.URLField(
        max_length=500, blank=True, help_text="The official text (MOFCOM announcement, Federal Register notice ...)."
    )
    source = models.ForeignKey(DataSource, null=True, blank=True, on_delete=models.PROTECT)
    severity_override = models.FloatField(null=True, blank=True, validators=share_validators)
    is_partly_confirmed = models.BooleanField(default=False, help_text="Some details are not yet confirmed.")
    reviewed_on = models.DateField(
        null=True, blank=True, help_text="When a curator last confirmed the status (e.g. after a suspension ran out)."
    )

    history = HistoricalRecords(m2m_fields=[minerals, targets])

    class Meta:
        ordering = ["-effective_on", "key"]
        indexes = [models.Index(fields=["issuer", "effective_on"], name="policy_issuer_effective")]
        constraints = [
            models.CheckConstraint(condition=share_range("severity_override"), name="policy_severity_0_1"),
            models.CheckConstraint(
                condition=Q(suspended_from__isnull=True)
                | Q(suspended_until__isnull=True)
                | Q(suspended_until__gte=models.F("suspended_from")),
                name="policy_suspension_ordered",
            ),
            models.CheckConstraint(condition=Q(measure_type__in=MeasureType.values), name="policy_type_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.instrument or self.key}: {self.title}"


class TradeRestrictionFactor(models.Model):
    """A curator's override of the EU method's t factor for one country and mineral."""

    mineral = models.ForeignKey(Mineral, on_delete=models.CASCADE)
    country = models.ForeignKey(Country, on_delete=models.CASCADE)
    t_value = models.FloatField(validators=[MinValueValidator(0.8), MaxValueValidator(1.5)])
    notes = models.TextField(blank=True)

    history = HistoricalRecords()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["mineral", "country"], name="tfactor_unique"),
            models.CheckConstraint(condition=Q(t_value__gte=0.8) & Q(t_value__lte=1.5), name="tfactor_range"),
        ]

    def __str__(self) -> str:
        return f"t({self.country_id}, {self.mineral}) = {self.t_value}"
