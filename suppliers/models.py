"""Companies, facilities, supply chains, and the buyers (organizations) with their portfolios.

Imports minerals only. Writes go through suppliers.services.
"""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from oauth2_provider.settings import oauth2_settings
from simple_history.models import HistoricalRecords

from minerals.models import (
    Country,
    DataSource,
    Mineral,
    PolicyMeasure,
    Stage,
    Unit,
    amount_range,
    amount_validators,
    share_range,
    share_validators,
)


class Company(models.Model):
    name = models.CharField(max_length=200, unique=True)
    hq_country = models.ForeignKey(Country, on_delete=models.PROTECT, related_name="companies")
    is_fictional = models.BooleanField(default=False, help_text="Part of the fictional demo scenario.")
    recorded_foreign_control = models.BooleanField(
        "recorded as under FEOC control",
        default=False,
        help_text="Effective control by a foreign entity of concern recorded from other evidence than stakes.",
    )
    source_url = models.URLField(max_length=500, blank=True)
    notes = models.TextField(blank=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "companies"

    def __str__(self) -> str:
        return self.name


class OwnershipStake(models.Model):
    owner = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="stakes_held")
    owned = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="stakes_in")
    percent = models.FloatField(validators=[MinValueValidator(0.0), MaxValueValidator(100.0)])
    source_url = models.URLField(max_length=500, blank=True)
    notes = models.TextField(blank=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["owned__name", "-percent"]
        constraints = [
            models.UniqueConstraint(fields=["owner", "owned"], name="ownership_unique_pair"),
            models.CheckConstraint(condition=Q(percent__gte=0) & Q(percent__lte=100), name="ownership_percent_0_100"),
            models.CheckConstraint(condition=~Q(owner=models.F("owned")), name="ownership_not_self"),
        ]

    def __str__(self) -> str:
        return f"{self.owner} owns {self.percent:g} % of {self.owned}"


class Facility(models.Model):
    class Status(models.TextChoices):
        OPERATING = "operating"
        CONSTRUCTION = "construction", "under construction"
        PLANNED = "planned"
        IDLE = "idle"
        CLOSED = "closed"

    key = models.SlugField(max_length=80, unique=True)
    company = models.ForeignKey(Company, on_delete=models.PROTECT, related_name="facilities")
    name = models.CharField(max_length=200)
    country = models.ForeignKey(Country, on_delete=models.PROTECT, related_name="facilities")
    mineral = models.ForeignKey(Mineral, on_delete=models.PROTECT, related_name="facilities")
    stage = models.CharField(max_length=10, choices=Stage.choices)
    capacity = models.FloatField(
        "capacity per year",
        null=True,
        blank=True,
        validators=[MinValueValidator(0.0)],
        help_text="Empty when not published.",
    )
    capacity_unit = models.CharField(max_length=2, choices=Unit.choices, blank=True)
    capacity_basis = models.CharField(max_length=120, blank=True, help_text="What the capacity counts, e.g. 't REO'.")
    status = models.CharField(max_length=12, choices=Status.choices)
    start_year = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1800), MaxValueValidator(2100)]
    )
    latitude = models.FloatField(null=True, blank=True, validators=[MinValueValidator(-90), MaxValueValidator(90)])
    longitude = models.FloatField(null=True, blank=True, validators=[MinValueValidator(-180), MaxValueValidator(180)])
    source_url = models.URLField(max_length=500, blank=True)
    source = models.ForeignKey(DataSource, null=True, blank=True, on_delete=models.PROTECT)
    is_fictional = models.BooleanField(default=False)
    notes = models.TextField(blank=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["mineral__name", "stage", "name"]
        verbose_name_plural = "facilities"
        indexes = [models.Index(fields=["mineral", "stage", "status"], name="facility_mineral_stage_status")]
        constraints = [
            models.CheckConstraint(
                condition=Q(capacity__isnull=True) | Q(capacity__gte=0), name="facility_capacity_non_negative"
            ),
            models.CheckConstraint(
                condition=Q(capacity__isnull=True) | ~Q(capacity_unit=""), name="facility_capacity_has_unit"
            ),
            models.CheckConstraint(condition=Q(stage__in=Stage.values), name="facility_stage_valid"),
            models.CheckConstraint(
                condition=Q(status__in=["operating", "construction", "planned", "idle", "closed"]),
                name="facility_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(latitude__isnull=True) | (Q(latitude__gte=-90) & Q(latitude__lte=90)),
                name="facility_latitude_range",
            ),
            models.CheckConstraint(
                condition=Q(longitude__isnull=True) | (Q(longitude__gte=-180) & Q(longitude__lte=180)),
                name="facility_longitude_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.country_id}, {self.mineral}, {self.stage})"


class FederalSupport(models.Model):
    """U.S. federal support for a facility or project (the U.S.-production lever): a DPA Title III
    award, a DoD equity/price-floor/offtake agreement, an EXIM loan or letter of interest. Only
    what the source says: an unpublished amount or date stays empty (unknown, never 0)."""

    class Program(models.TextChoices):
        DPA_TITLE_III = "dpa_title_iii", "Defense Production Act Title III award"
        DOD_AGREEMENT = "dod_agreement", "Department of Defense agreement (equity, price floor, offtake)"
        EXIM_LOAN = "exim_loan", "EXIM loan"
        EXIM_LETTER = "exim_letter", "EXIM letter of interest"
        DOE_LOAN = "doe_loan", "DOE loan or grant"
        OTHER = "other", "other federal support"

    facility = models.ForeignKey(
        Facility, null=True, blank=True, on_delete=models.CASCADE, related_name="federal_support"
    )
    company = models.ForeignKey(Company, on_delete=models.PROTECT, related_name="federal_support")
    program = models.CharField(max_length=20, choices=Program.choices)
    summary = models.CharField(max_length=300, help_text="What was granted, as the source says it.")
    amount_usd = models.FloatField(
        "amount (USD)", null=True, blank=True, validators=amount_validators, help_text="Empty when not published."
    )
    announced_on = models.DateField(null=True, blank=True, help_text="Empty when the exact date is not verified.")
    announced_period = models.CharField(
        max_length=40, blank=True, help_text="When only a period is known, e.g. 'July-September 2023'."
    )
    policy_measure = models.ForeignKey(
        PolicyMeasure, null=True, blank=True, on_delete=models.SET_NULL, related_name="federal_support"
    )
    source_url = models.URLField(max_length=500, blank=True)
    source = models.ForeignKey(DataSource, null=True, blank=True, on_delete=models.PROTECT)
    notes = models.TextField(blank=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["company__name", "program", "announced_on"]
        verbose_name_plural = "federal support"
        constraints = [
            models.CheckConstraint(condition=amount_range("amount_usd", nullable=True), name="federalsupport_amount"),
            models.CheckConstraint(
                condition=Q(
                    program__in=["dpa_title_iii", "dod_agreement", "exim_loan", "exim_letter", "doe_loan", "other"]
                ),
                name="federalsupport_program_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_program_display()}: {self.facility or self.company}"


class SupplyLink(models.Model):
    """Part of a downstream facility's input of a mineral comes from an upstream facility."""

    upstream = models.ForeignKey(Facility, on_delete=models.CASCADE, related_name="downstream_links")
    downstream = models.ForeignKey(Facility, on_delete=models.CASCADE, related_name="upstream_links")
    mineral = models.ForeignKey(Mineral, on_delete=models.PROTECT)
    share = models.FloatField(validators=share_validators, help_text="Fraction of the downstream input (0..1).")
    notes = models.TextField(blank=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["downstream__name", "-share"]
        constraints = [
            models.UniqueConstraint(fields=["upstream", "downstream", "mineral"], name="supplylink_unique"),
            models.CheckConstraint(condition=Q(share__gte=0) & Q(share__lte=1), name="supplylink_share_0_1"),
            models.CheckConstraint(condition=~Q(upstream=models.F("downstream")), name="supplylink_not_self"),
        ]

    def __str__(self) -> str:
        return f"{self.upstream} -> {self.downstream} ({self.share:.0%})"


class Organization(models.Model):
    """A buyer. Its members see only its own portfolio."""

    name = models.CharField(max_length=200, unique=True)
    slug = models.SlugField(max_length=80, unique=True)
    country = models.ForeignKey(Country, on_delete=models.PROTECT, related_name="organizations")
    is_fictional = models.BooleanField(default=False)
    notes = models.TextField(blank=True)
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, through="Membership", related_name="organizations")
    # The stale marker of the organization's exposure (see Mineral.data_version).
    data_version = models.PositiveBigIntegerField(default=0, editable=False)
    data_changed_at = models.DateTimeField(null=True, blank=True, editable=False)

    history = HistoricalRecords(excluded_fields=["data_version", "data_changed_at"])

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} (fictional)" if self.is_fictional and "fictional" not in self.name.lower() else self.name


class Membership(models.Model):
    class Role(models.TextChoices):
        VIEWER = "viewer"
        ANALYST = "analyst"
        ADMIN = "admin"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.VIEWER)

    history = HistoricalRecords()

    class Meta:
        ordering = ["organization__name", "user__username"]
        constraints = [
            models.UniqueConstraint(fields=["user", "organization"], name="membership_unique"),
            models.CheckConstraint(condition=Q(role__in=["viewer", "analyst", "admin"]), name="membership_role_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.organization} ({self.role})"


class Requirement(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="requirements")
    mineral = models.ForeignKey(Mineral, on_delete=models.PROTECT)
    # Finite, 0..MAX_AMOUNT (1e15) like every stored amount (docs/data-sources.md, "Limits").
    annual_quantity = models.FloatField(validators=amount_validators)
    unit = models.CharField(max_length=2, choices=Unit.choices, default=Unit.T)
    stage = models.CharField(
        max_length=10,
        choices=Stage.choices,
        default=Stage.REFINERY,
        help_text="The stage bought: mine concentrate, refined metal or chemical, or a component.",
    )
    notes = models.TextField(blank=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["organization__name", "mineral__name"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "mineral"], name="requirement_unique"),
            models.CheckConstraint(
                condition=amount_range("annual_quantity", nullable=False), name="requirement_quantity_finite"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.organization}: {self.annual_quantity:g} {self.unit} {self.mineral}/yr"


class Sourcing(models.Model):
    """Where an organization buys a mineral: a facility, or a country when the facility is unknown."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="sourcing")
    mineral = models.ForeignKey(Mineral, on_delete=models.PROTECT)
    facility = models.ForeignKey(Facility, null=True, blank=True, on_delete=models.PROTECT, related_name="buyers")
    country = models.ForeignKey(
        Country, on_delete=models.PROTECT, help_text="The facility's country, or the source country."
    )
    annual_quantity = models.FloatField(null=True, blank=True, validators=amount_validators)
    share = models.FloatField(
        null=True, blank=True, validators=share_validators, help_text="Of the requirement (0..1)."
    )
    notes = models.TextField(blank=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["organization__name", "mineral__name", "country_id"]
        verbose_name_plural = "sourcing"
        indexes = [models.Index(fields=["organization", "mineral"], name="sourcing_org_mineral")]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "mineral", "facility"],
                condition=Q(facility__isnull=False),
                name="sourcing_unique_facility",
            ),
            models.UniqueConstraint(
                fields=["organization", "mineral", "country"],
                condition=Q(facility__isnull=True),
                name="sourcing_unique_country",
            ),
            models.CheckConstraint(
                condition=Q(annual_quantity__isnull=False) | Q(share__isnull=False),
                name="sourcing_has_quantity_or_share",
            ),
            models.CheckConstraint(
                condition=amount_range("annual_quantity", nullable=True), name="sourcing_quantity_finite"
            ),
            models.CheckConstraint(condition=share_range("share"), name="sourcing_share_0_1"),
        ]

    def __str__(self) -> str:
        return f"{self.organization}: {self.mineral} from {self.facility or self.country_id}"


class ApplicationOrganization(models.Model):
    """Binds a partner's OAuth2 application to the one organization its portfolio scopes act for.

    A client-credentials token has no user, so `portfolio:*` scopes need this binding to know
    whose requirements and sourcing they read and write; an unbound application gets 403 there.
    Reference scopes do not use it. Tokens expire and are revoked in the admin (django-oauth-toolkit).
    """

    application = models.OneToOneField(
        oauth2_settings.APPLICATION_MODEL, on_delete=models.CASCADE, related_name="organization_binding"
    )
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="applications")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["organization__name"]
        verbose_name = "API application of an organization"

    def __str__(self) -> str:
        return f"{self.application} -> {self.organization}"


class TransitionPlan(models.Model):
    """A buyer's intention to move part of its sourcing to alternatives, year by year.

    Drafts are free; at most one plan per organization is active (a partial unique
    constraint). A plan never changes the sourcing: `suppliers.plan_services.plan_apply` does,
    when the buyer asks, for the steps due by the year it is applied for.
    """

    class Status(models.TextChoices):
        DRAFT = "draft"
        ACTIVE = "active"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="transition_plans")
    name = models.CharField(max_length=200)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="transition_plans"
    )
    is_example = models.BooleanField(
        default=False, help_text="An illustration in the demo dataset, not a buyer's own decision."
    )
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    applied_at = models.DateTimeField(null=True, blank=True, editable=False)
    applied_through_year = models.PositiveSmallIntegerField(null=True, blank=True, editable=False)

    history = HistoricalRecords()

    class Meta:
        ordering = ["organization__name", "-status", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization"], condition=Q(status="active"), name="transitionplan_one_active"
            ),
            models.UniqueConstraint(fields=["organization", "name"], name="transitionplan_unique_name"),
            models.CheckConstraint(condition=Q(status__in=["draft", "active"]), name="transitionplan_status_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.organization}: {self.name} ({self.status})"


class PlanStep(models.Model):
    """Move part of a mineral's requirement from one of the buyer's sourcing lines (a facility,
    or a country without facility) to an alternative, from a year on.

    The part is a share of the requirement or a quantity in the mineral's canonical unit
    (exactly one). The alternative is a facility or a country (diversification), or one of the
    two levers: recycling, or U.S. production (a named facility, or else the buyer's country
    with no upstream assumed; docs/metrics.md "Transition plan").
    """

    class Target(models.TextChoices):
        FACILITY = "facility", "a facility"
        COUNTRY = "country", "a country"
        RECYCLING = "recycling", "recycling"
        US_PRODUCTION = "us_production", "U.S. production"

    plan = models.ForeignKey(TransitionPlan, on_delete=models.CASCADE, related_name="steps")
    mineral = models.ForeignKey(Mineral, on_delete=models.PROTECT)
    from_facility = models.ForeignKey(
        Facility, null=True, blank=True, on_delete=models.PROTECT, related_name="plan_steps_from"
    )
    from_country = models.ForeignKey(Country, on_delete=models.PROTECT, related_name="plan_steps_from")
    share = models.FloatField(
        null=True, blank=True, validators=share_validators, help_text="Of the requirement (0..1)."
    )
    quantity = models.FloatField(
        null=True, blank=True, validators=[MinValueValidator(0.0)], help_text="In the mineral's canonical unit."
    )
    target = models.CharField(max_length=14, choices=Target.choices)
    to_facility = models.ForeignKey(
        Facility, null=True, blank=True, on_delete=models.PROTECT, related_name="plan_steps_to"
    )
    to_country = models.ForeignKey(
        Country, null=True, blank=True, on_delete=models.PROTECT, related_name="plan_steps_to"
    )
    from_year = models.PositiveSmallIntegerField(validators=[MinValueValidator(2000), MaxValueValidator(2100)])
    notes = models.TextField(blank=True)

    history = HistoricalRecords()

    class Meta:
        ordering = ["plan_id", "mineral__name", "from_year", "id"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(share__isnull=False) & Q(quantity__isnull=True))
                | (Q(share__isnull=True) & Q(quantity__isnull=False)),
                name="planstep_share_xor_quantity",
            ),
            models.CheckConstraint(condition=share_range("share"), name="planstep_share_0_1"),
            models.CheckConstraint(
                condition=Q(quantity__isnull=True) | Q(quantity__gte=0), name="planstep_quantity_non_negative"
            ),
            models.CheckConstraint(
                condition=Q(target__in=["facility", "country", "recycling", "us_production"]),
                name="planstep_target_valid",
            ),
            models.CheckConstraint(
                condition=~Q(target="facility") | Q(to_facility__isnull=False), name="planstep_facility_named"
            ),
            models.CheckConstraint(
                condition=~Q(target="country") | Q(to_country__isnull=False), name="planstep_country_named"
            ),
            models.CheckConstraint(
                condition=Q(from_year__gte=2000) & Q(from_year__lte=2100), name="planstep_year_range"
            ),
        ]

    def __str__(self) -> str:
        moved = f"{self.share:.0%}" if self.share is not None else f"{self.quantity:g}"
        return f"{self.mineral}: {moved} from {self.from_facility or self.from_country_id} from {self.from_year}"

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if (self.share is None) == (self.quantity is None):
            errors["share"] = "Give either a share of the requirement or a quantity, not both."
        if self.from_facility_id and self.from_facility and self.from_facility.mineral_id != self.mineral_id:
            errors["from_facility"] = "The source facility does not produce this mineral."
        if self.target == self.Target.FACILITY and not self.to_facility_id:
            errors["to_facility"] = "Pick the facility to move to."
        if self.target == self.Target.COUNTRY and not self.to_country_id:
            errors["to_country"] = "Pick the country to move to."
        if self.to_facility_id and self.to_facility and self.to_facility.mineral_id != self.mineral_id:
            errors["to_facility"] = "The facility does not produce this mineral."
        if errors:
            raise ValidationError(errors)
