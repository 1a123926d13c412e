"""Input and output shapes of companies, requirements, sourcing and the caller's organization.

Output serializers name related rows by their natural keys (mineral slug, ISO3, facility
key). Input serializers never carry `organization`: it is the caller's, set by the view.
"""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from minerals.api.fields import SlugRelatedField
from minerals.importers.numbers import MAX_AMOUNT
from minerals.models import Country, Mineral
from suppliers.models import Company, Facility, Organization, Requirement, Sourcing


class OrganizationOutputSerializer(serializers.ModelSerializer):
    country = serializers.CharField(source="country_id", read_only=True)

    class Meta:
        model = Organization
        fields = ["name", "slug", "country", "is_fictional", "data_version", "data_changed_at"]
        read_only_fields = fields


class CompanyOutputSerializer(serializers.ModelSerializer):
    source_url = serializers.CharField(read_only=True)  # may be blank: not a "uri" then
    hq_country = serializers.CharField(source="hq_country_id", read_only=True)

    class Meta:
        model = Company
        fields = ["id", "name", "hq_country", "is_fictional", "recorded_foreign_control", "source_url", "notes"]
        read_only_fields = fields


class CompanyInputSerializer(serializers.ModelSerializer):
    hq_country = SlugRelatedField(slug_field="iso3", queryset=Country.objects.all())

    class Meta:
        model = Company
        fields = ["name", "hq_country", "is_fictional", "recorded_foreign_control", "source_url", "notes"]


class RequirementOutputSerializer(serializers.ModelSerializer):
    organization: serializers.SlugRelatedField[Organization] = SlugRelatedField(slug_field="slug", read_only=True)
    mineral = serializers.CharField(source="mineral.slug", read_only=True)

    class Meta:
        model = Requirement
        fields = ["id", "organization", "mineral", "annual_quantity", "unit", "stage", "notes"]
        read_only_fields = fields


class RequirementInputSerializer(serializers.ModelSerializer):
    mineral = SlugRelatedField(slug_field="slug", queryset=Mineral.objects.all())

    class Meta:
        model = Requirement
        fields = ["mineral", "annual_quantity", "unit", "stage", "notes"]


class SourcingOutputSerializer(serializers.ModelSerializer):
    organization: serializers.SlugRelatedField[Organization] = SlugRelatedField(slug_field="slug", read_only=True)
    mineral = serializers.CharField(source="mineral.slug", read_only=True)
    facility = serializers.CharField(source="facility.key", read_only=True, allow_null=True, default=None)
    country = serializers.CharField(source="country_id", read_only=True)

    class Meta:
        model = Sourcing
        fields = ["id", "organization", "mineral", "facility", "country", "annual_quantity", "share", "notes"]
        read_only_fields = fields


class SourcingInputSerializer(serializers.ModelSerializer):
    mineral = SlugRelatedField(slug_field="slug", queryset=Mineral.objects.all())
    facility = SlugRelatedField(slug_field="key", queryset=Facility.objects.all(), required=False, allow_null=True)
    country = SlugRelatedField(
        slug_field="iso3",
        queryset=Country.objects.all(),
        required=False,
        help_text="The source country; defaults to the facility's country.",
    )

    class Meta:
        model = Sourcing
        fields = ["mineral", "facility", "country", "annual_quantity", "share", "notes"]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        facility = attrs.get("facility", getattr(self.instance, "facility", None))
        if "country" not in attrs and self.instance is None:
            if facility is None:
                raise serializers.ValidationError({"country": "A country is required when no facility is given."})
            attrs["country"] = facility.country
        return attrs


class SourcingBulkRowSerializer(serializers.Serializer):
    """One sourcing line of a bulk push (JSON array item, or a CSV row with these columns)."""

    mineral = serializers.CharField()
    facility = serializers.CharField(required=False, allow_blank=True, allow_null=True)
    country = serializers.CharField(required=False, allow_blank=True, allow_null=True)
    annual_quantity = serializers.FloatField(required=False, allow_null=True, min_value=0, max_value=MAX_AMOUNT)
    share = serializers.FloatField(required=False, allow_null=True, min_value=0, max_value=1)
    notes = serializers.CharField(required=False, allow_blank=True)
