"""Query filters of reference data (django-filter)."""

from __future__ import annotations

from datetime import date

import django_filters
from django.db.models import Exists, OuterRef, Q, QuerySet

from minerals.models import CommodityCode, CommodityMineral, Country, PolicyMeasure, ProductionRecord, Stage, TradeFlow


def _upper(value: str) -> str:
    return value.upper()


class CountryFilter(django_filters.FilterSet):
    class Meta:
        model = Country
        fields = ["is_feoc", "region"]


class CommodityCodeFilter(django_filters.FilterSet):
    mineral = django_filters.CharFilter(method="filter_mineral", help_text="Mineral slug.")

    class Meta:
        model = CommodityCode
        fields = ["is_basket"]

    def filter_mineral(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        mapped = CommodityMineral.objects.filter(commodity_code_id=OuterRef("pk"), mineral__slug=value)
        return queryset.filter(Exists(mapped))


class ProductionFilter(django_filters.FilterSet):
    mineral = django_filters.CharFilter(field_name="mineral__slug", help_text="Mineral slug.")
    stage = django_filters.ChoiceFilter(choices=Stage.choices)
    country = django_filters.CharFilter(field_name="country_id", help_text="ISO3.")
    source = django_filters.CharFilter(field_name="source__key", help_text="Data source key.")
    year = django_filters.NumberFilter()

    class Meta:
        model = ProductionRecord
        fields = ["mineral", "stage", "row_kind", "country", "year", "source"]


class TradeFlowFilter(django_filters.FilterSet):
    year = django_filters.NumberFilter()
    year_min = django_filters.NumberFilter(field_name="year", lookup_expr="gte")
    year_max = django_filters.NumberFilter(field_name="year", lookup_expr="lte")
    exporter = django_filters.CharFilter(field_name="exporter_id", help_text="ISO3.")
    importer = django_filters.CharFilter(field_name="importer_id", help_text="ISO3.")
    commodity_code = django_filters.CharFilter(field_name="commodity_code_id", help_text="HS6.")
    source = django_filters.CharFilter(field_name="source__key", help_text="Data source key.")
    mineral = django_filters.CharFilter(method="filter_mineral", help_text="Mineral slug (its mapped HS codes).")

    class Meta:
        model = TradeFlow
        fields = ["year", "year_min", "year_max", "exporter", "importer", "commodity_code", "basis", "source"]

    def filter_mineral(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        mapped = CommodityMineral.objects.filter(commodity_code_id=OuterRef("commodity_code_id"), mineral__slug=value)
        return queryset.filter(Exists(mapped))


def in_force_on(as_of: date) -> Q:
    """The measures in force on a date, as dashboards.risk.in_force decides it, in SQL:
    effective on or before, not ended, not inside a suspension [from, until] (both days included)."""
    suspended = (
        (Q(suspended_from__isnull=False) | Q(suspended_until__isnull=False))
        & (Q(suspended_from__isnull=True) | Q(suspended_from__lte=as_of))
        & (Q(suspended_until__isnull=True) | Q(suspended_until__gte=as_of))
    )
    return Q(effective_on__lte=as_of) & (Q(ended_on__isnull=True) | Q(ended_on__gt=as_of)) & ~suspended


class PolicyMeasureFilter(django_filters.FilterSet):
    in_force_on = django_filters.DateFilter(method="filter_in_force_on", help_text="Measures in force on this date.")
    target = django_filters.CharFilter(
        method="filter_target", help_text="ISO3 of a destination: measures targeting it, or all destinations."
    )
    mineral = django_filters.CharFilter(method="filter_mineral", help_text="Mineral slug.")
    issuer = django_filters.CharFilter(field_name="issuer_id", help_text="ISO3 of the issuing country.")

    class Meta:
        model = PolicyMeasure
        fields = ["in_force_on", "target", "mineral", "issuer", "measure_type"]

    def filter_in_force_on(self, queryset: QuerySet, name: str, value: date) -> QuerySet:
        return queryset.filter(in_force_on(value))

    def filter_target(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        through = PolicyMeasure.targets.through.objects.filter(policymeasure_id=OuterRef("pk"))
        return queryset.filter(Exists(through.filter(country_id=value.upper())) | ~Exists(through))

    def filter_mineral(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        through = PolicyMeasure.minerals.through.objects.filter(policymeasure_id=OuterRef("pk"), mineral__slug=value)
        return queryset.filter(Exists(through))
