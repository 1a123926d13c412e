"""Input and output shapes of reference data. Related rows are named by natural keys."""

from __future__ import annotations

from rest_framework import serializers

from minerals.api.fields import SlugRelatedField
from minerals.importers.numbers import MAX_AMOUNT
from minerals.models import (
    CommodityCode,
    Country,
    CriticalMineralList,
    DataSource,
    Mineral,
    PolicyMeasure,
    ProductionRecord,
    Stage,
    TradeFlow,
)

# A serializer field named `source` or `errors` shadows an attribute of Field/Serializer in the stubs
# only: DRF's SerializerMetaclass pops declared fields off the class into `_declared_fields`.


class CountryOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = Country
        fields = ["iso3", "iso2", "m49", "name", "region", "subregion", "is_feoc"]
        read_only_fields = fields


class MineralOutputSerializer(serializers.ModelSerializer):
    critical_lists: serializers.SlugRelatedField[CriticalMineralList] = SlugRelatedField(
        slug_field="key", many=True, read_only=True
    )

    class Meta:
        model = Mineral
        fields = ["slug", "name", "symbol", "usgs_name", "canonical_unit", "critical_lists", "notes",
                  "data_version", "data_changed_at"]  # fmt: skip
        read_only_fields = fields


class CommodityMappingSerializer(serializers.Serializer):
    mineral = serializers.CharField(source="mineral.slug")
    stage = serializers.CharField()


class CommodityCodeOutputSerializer(serializers.ModelSerializer):
    minerals = CommodityMappingSerializer(source="mappings", many=True, read_only=True)

    class Meta:
        model = CommodityCode
        fields = ["hs6", "description", "is_basket", "note", "minerals"]
        read_only_fields = fields


class DataSourceOutputSerializer(serializers.ModelSerializer):
    url = serializers.CharField(read_only=True)  # may be blank

    class Meta:
        model = DataSource
        fields = ["key", "publisher", "title", "edition", "published_on", "url", "licence", "retrieved_on", "notes"]
        read_only_fields = fields


class ProductionOutputSerializer(serializers.ModelSerializer):
    mineral = serializers.CharField(source="mineral.slug", read_only=True)
    country = serializers.CharField(source="country_id", read_only=True, allow_null=True)
    source = serializers.CharField(  # type: ignore[assignment]  # see the module note
        source="source.key", read_only=True
    )

    class Meta:
        model = ProductionRecord
        fields = ["id", "mineral", "stage", "row_kind", "country", "year", "quantity", "unit", "is_estimate",
                  "is_withheld", "bound", "notes", "source"]  # fmt: skip
        read_only_fields = fields


class ProductionBulkRowSerializer(serializers.Serializer):
    """One production figure of a bulk upsert (JSON array item, or a CSV row with these columns)."""

    mineral = serializers.CharField(help_text="Mineral slug.")
    stage = serializers.ChoiceField(choices=Stage.choices)  # the choices of ProductionRecord.stage
    row_kind = serializers.ChoiceField(choices=ProductionRecord.RowKind.choices, required=False)
    country = serializers.CharField(required=False, allow_null=True, help_text="ISO3; country rows only.")
    year = serializers.IntegerField(min_value=1900, max_value=2100)
    quantity = serializers.FloatField(required=False, allow_null=True, min_value=0, max_value=MAX_AMOUNT)
    unit = serializers.ChoiceField(choices=["kg", "t"])
    is_estimate = serializers.BooleanField(required=False)
    is_withheld = serializers.BooleanField(required=False)
    bound = serializers.ChoiceField(choices=["", ">", "<"], required=False)
    notes = serializers.CharField(required=False, allow_blank=True, max_length=300)
    source = serializers.CharField(  # type: ignore[assignment]  # see the module note
        help_text="Key of a stored data source."
    )


class TradeFlowOutputSerializer(serializers.ModelSerializer):
    exporter = serializers.CharField(source="exporter_id", read_only=True, allow_null=True)
    importer = serializers.CharField(source="importer_id", read_only=True, allow_null=True)
    commodity_code = serializers.CharField(source="commodity_code_id", read_only=True)
    source = serializers.CharField(  # type: ignore[assignment]  # see the module note
        source="source.key", read_only=True
    )

    class Meta:
        model = TradeFlow
        fields = ["id", "year", "exporter", "importer", "commodity_code", "basis", "value_usd", "quantity_kg",
                  "source"]  # fmt: skip
        read_only_fields = fields


class TradeFlowBulkRowSerializer(serializers.Serializer):
    """One trade flow of a bulk upsert. Empty exporter or importer: the World aggregate."""

    year = serializers.IntegerField(min_value=1900, max_value=2100)
    exporter = serializers.CharField(required=False, allow_null=True, help_text="ISO3; empty = World.")
    importer = serializers.CharField(required=False, allow_null=True, help_text="ISO3; empty = World.")
    commodity_code = serializers.CharField(help_text="A stored six-digit HS code.")
    basis = serializers.ChoiceField(choices=TradeFlow.Basis.choices)
    value_usd = serializers.FloatField(min_value=0, max_value=MAX_AMOUNT)
    quantity_kg = serializers.FloatField(required=False, allow_null=True, min_value=0, max_value=MAX_AMOUNT)
    source = serializers.CharField(  # type: ignore[assignment]  # see the module note
        help_text="Key of a stored data source."
    )


class PolicyMeasureOutputSerializer(serializers.ModelSerializer):
    source_url = serializers.CharField(read_only=True)  # may be blank: not a "uri" then
    issuer = serializers.CharField(source="issuer_id", read_only=True)
    minerals: serializers.SlugRelatedField[Mineral] = SlugRelatedField(slug_field="slug", many=True, read_only=True)
    commodity_codes: serializers.PrimaryKeyRelatedField[CommodityCode] = serializers.PrimaryKeyRelatedField(
        many=True, read_only=True
    )
    targets: serializers.PrimaryKeyRelatedField[Country] = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    source = serializers.CharField(  # type: ignore[assignment]  # see the module note
        source="source.key", read_only=True, allow_null=True, default=None
    )

    class Meta:
        model = PolicyMeasure
        fields = ["key", "issuer", "measure_type", "title", "minerals", "commodity_codes", "targets",
                  "announced_on", "effective_on", "suspended_from", "suspended_until", "ended_on", "instrument",
                  "summary", "source_url", "source", "severity_override", "is_partly_confirmed",
                  "reviewed_on"]  # fmt: skip
        read_only_fields = fields


class PolicyMeasureInputSerializer(serializers.ModelSerializer):
    issuer = SlugRelatedField(slug_field="iso3", queryset=Country.objects.all())
    minerals = SlugRelatedField(slug_field="slug", many=True, queryset=Mineral.objects.all(), required=False)
    commodity_codes = SlugRelatedField(
        slug_field="hs6", many=True, queryset=CommodityCode.objects.all(), required=False
    )
    targets = SlugRelatedField(
        slug_field="iso3", many=True, queryset=Country.objects.all(), required=False, help_text="Empty: all."
    )
    source = SlugRelatedField(  # type: ignore[assignment]  # see the module note
        slug_field="key", queryset=DataSource.objects.all(), required=False, allow_null=True
    )

    class Meta:
        model = PolicyMeasure
        fields = ["key", "issuer", "measure_type", "title", "minerals", "commodity_codes", "targets",
                  "announced_on", "effective_on", "suspended_from", "suspended_until", "ended_on", "instrument",
                  "summary", "source_url", "source", "severity_override", "is_partly_confirmed",
                  "reviewed_on"]  # fmt: skip


class BulkRowErrorSerializer(serializers.Serializer):
    row = serializers.IntegerField(help_text="1-based row of the JSON array or of the CSV data (header excluded).")
    field = serializers.CharField(allow_blank=True)
    value = serializers.JSONField(allow_null=True)
    expected = serializers.CharField()


class BulkResultSerializer(serializers.Serializer):
    rows = serializers.IntegerField()
    inserted = serializers.IntegerField()
    updated = serializers.IntegerField()
    unchanged = serializers.IntegerField()
    stale_minerals = serializers.ListField(child=serializers.CharField(), help_text="Marked stale once.")


class BulkRejectedSerializer(serializers.Serializer):
    detail = serializers.CharField()
    rows = serializers.IntegerField()
    errors = BulkRowErrorSerializer(many=True)  # type: ignore[assignment]  # see the module note
