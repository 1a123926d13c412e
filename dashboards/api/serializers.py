"""Shapes of facilities, metrics and exposure in the API.

The metric rows are dashboards.selectors' dictionaries as they are (the same rows the
dashboard and `show_metrics --json` show); the schema names the top level and the row
families, and keeps each row an open object so the risk engine can add fields.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django.conf import settings
from rest_framework import serializers

from minerals.api.fields import SlugRelatedField
from minerals.models import Country, DataSource, Mineral, Stage
from suppliers.models import Company, Facility

# The ownership share from which an operator is under FEOC control, as configured (help texts).
CONTROL_PERCENT = f"{settings.LODESTONE_CONTROL_THRESHOLD * 100:g} %"


class FacilityOutputSerializer(serializers.ModelSerializer):
    source_url = serializers.CharField(read_only=True)  # may be blank: not a "uri" then
    company = serializers.CharField(source="company.name", read_only=True)
    country = serializers.CharField(source="country_id", read_only=True)
    mineral = serializers.CharField(source="mineral.slug", read_only=True)
    # The stubs read a field named "source" as Field.source (a str); DRF takes it as a declared field.
    source = serializers.CharField(  # type: ignore[assignment]
        source="source.key", read_only=True, allow_null=True, default=None
    )
    capacity_unit = serializers.CharField(read_only=True, help_text="kg or t; blank without a capacity.")
    china_controlled = serializers.BooleanField(
        read_only=True, help_text=f"Located in China, or under FEOC control (recorded, or >= {CONTROL_PERCENT} owned)."
    )

    class Meta:
        model = Facility
        fields = ["key", "name", "company", "country", "mineral", "stage", "capacity", "capacity_unit",
                  "capacity_basis", "status", "start_year", "latitude", "longitude", "source_url", "source",
                  "is_fictional", "notes", "china_controlled"]  # fmt: skip
        read_only_fields = fields


class FacilityInputSerializer(serializers.ModelSerializer):
    company = SlugRelatedField(slug_field="name", queryset=Company.objects.all())
    country = SlugRelatedField(slug_field="iso3", queryset=Country.objects.all())
    mineral = SlugRelatedField(slug_field="slug", queryset=Mineral.objects.all())
    # The stubs read a field named "source" as Field.source (a str); DRF takes it as a declared field.
    source = SlugRelatedField(  # type: ignore[assignment]
        slug_field="key", queryset=DataSource.objects.all(), required=False, allow_null=True
    )

    class Meta:
        model = Facility
        fields = ["key", "name", "company", "country", "mineral", "stage", "capacity", "capacity_unit",
                  "capacity_basis", "status", "start_year", "latitude", "longitude", "source_url", "source",
                  "is_fictional", "notes"]  # fmt: skip


class MetricsQuerySerializer(serializers.Serializer):
    mineral = serializers.SlugField(help_text="Mineral slug, e.g. gallium.")
    stage = serializers.ChoiceField(choices=Stage.choices, required=False)
    year = serializers.IntegerField(required=False, min_value=1900, max_value=2100)
    destination = serializers.RegexField(r"^[A-Za-z]{3}$", required=False, help_text="ISO3 of the importer.")
    as_of = serializers.DateField(required=False, help_text="Date of the policy status (default: today).")
    edition = serializers.SlugField(
        required=False,
        help_text="Source key of an edition, e.g. usgs-mcs-2024: that edition's production figures and published "
        "NIR (trade figures too when it is a trade source) "
        "(default: the newest edition by publication date).",
    )

    def validate_destination(self, value: str) -> str:
        return value.upper()

    def validate_as_of(self, value: date) -> date:
        if not date(1900, 1, 1) <= value <= date(2100, 12, 31):
            raise serializers.ValidationError("A date between 1900 and 2100.")
        return value


Row = serializers.DictField  # an open object: the selector's row as it is


class MetricsReportSerializer(serializers.Serializer):
    mineral = serializers.CharField()
    edition = serializers.CharField(allow_null=True, help_text="The edition asked for; null: the newest per year.")
    as_of = serializers.DateField()
    destination = serializers.CharField()
    data_version = serializers.IntegerField(help_text="The mineral's current data version.")
    metrics_version = serializers.IntegerField(allow_null=True, help_text="The data version the rows reflect.")
    stale = serializers.BooleanField(help_text="Newer data is waiting for the recompute.")
    computed_at = serializers.DateTimeField(allow_null=True)
    data_changed_at = serializers.DateTimeField(allow_null=True)
    supply = serializers.ListField(child=Row(), help_text="Supply concentration per stage and year, with sources.")
    imports = serializers.ListField(child=Row(), help_text="Import dependence of the destination per year.")
    supply_risk = serializers.ListField(child=Row(), help_text="EU-method supply risk per stage and year.")
    policy_status = serializers.ListField(child=Row(), help_text="The mineral's measures on `as_of`.")

    def to_representation(self, instance: Any) -> Any:
        return instance  # the selector's dictionary, unchanged (same numbers as show_metrics --json)


class ExposureRowSerializer(serializers.Serializer):
    organization = serializers.CharField()
    mineral = serializers.CharField()
    as_of = serializers.DateField()
    total_volume = serializers.FloatField()
    direct_china_share = serializers.FloatField(allow_null=True)
    china_controlled_share = serializers.FloatField(allow_null=True)
    upstream_china_share = serializers.FloatField(allow_null=True)
    unmapped_share = serializers.FloatField(allow_null=True)
    restricted_share = serializers.FloatField(allow_null=True)
    stale = serializers.BooleanField()
    computed_at = serializers.DateTimeField()

    def to_representation(self, instance: Any) -> Any:
        return instance


class AlternativesQuerySerializer(serializers.Serializer):
    mineral = serializers.SlugField(help_text="Mineral slug, e.g. gallium.")
    stage = serializers.ChoiceField(
        choices=Stage.choices, required=False, help_text="The stage bought (default: refinery)."
    )
    volume = serializers.FloatField(
        required=False,
        min_value=0,
        max_value=1e15,
        help_text="The volume to replace, in the mineral's canonical unit (`unit` in the answer); without it "
        "the ranking leaves out the coverage factor and every coverage and gap figure is null.",
    )
    as_of = serializers.DateField(
        required=False, help_text="Date of the policy status and availability (default: today)."
    )

    def validate_as_of(self, value: date) -> date:
        if not date(1900, 1, 1) <= value <= date(2100, 12, 31):
            raise serializers.ValidationError("A date between 1900 and 2100.")
        return value


class AlternativesReportSerializer(serializers.Serializer):
    mineral = serializers.CharField()
    as_of = serializers.DateField()
    exposed_volume = serializers.FloatField(allow_null=True, help_text="The `volume` asked for.")
    unit = serializers.CharField(help_text="The mineral's canonical unit: every volume is in it.")
    stage = serializers.CharField()
    alternatives = serializers.ListField(
        child=Row(),
        help_text="Ranked best first: score, each factor's contribution (weight x factor), stage match and "
        "processing step, availability year (announced or not), coverage and gap shares.",
    )
    not_alternatives = serializers.ListField(
        child=Row(), help_text="Candidates never offered (FEOC-located, FEOC-controlled, supply from China), with why."
    )

    def to_representation(self, instance: Any) -> Any:
        return instance


class PlanSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    status = serializers.CharField(help_text="draft or active (at most one active plan per organization).")
    is_example = serializers.BooleanField()
    author = serializers.CharField(help_text="Username; empty when unknown.")
    steps = serializers.ListField(child=Row(), help_text="Steps, by mineral and year.")

    def to_representation(self, instance: Any) -> Any:
        return instance


class PlanProjectionSerializer(serializers.Serializer):
    plan = PlanSerializer()
    years = serializers.ListField(child=serializers.IntegerField())
    reference_dates = serializers.DictField(
        child=serializers.DateField(), help_text="Per year, the date whose measures in force it uses."
    )
    computed_at = serializers.DateTimeField()
    minerals = serializers.ListField(
        child=Row(),
        help_text="Per mineral: `today` and `plan`, one row per year with the requirement by origin "
        "(china_direct, china_controlled, china_upstream, unaffected, uncovered), restricted volume "
        "and share, in the mineral's canonical `unit`; null = unknown, never 0.",
    )

    def to_representation(self, instance: Any) -> Any:
        return instance
