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
    company = serializers.SlugRelatedField(slug_field="name", queryset=Company.objects.all())
    country = serializers.SlugRelatedField(slug_field="iso3", queryset=Country.objects.all())
    mineral = serializers.SlugRelatedField(slug_field="slug", queryset=Mineral.objects.all())
    # The stubs read a field named "source" as Field.source (a str); DRF takes it as a declared field.
    source = serializers.SlugRelatedField(  # type: ignore[assignment]
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
