"""Query filters of the API's lists (django-filter), and the backend every list filters through.

django-filter builds a filter set's form class anew on every request: a form field per filter
(its label looked up in the model's meta and translated), then a class through Django's form
metaclass; a list without `filterset_class` (`filterset_fields`) even gets a new FilterSet class
per request. That was about 1 ms of the 6.5-7.5 ms of CPU of an uncached 100-row trade-flow page
(docs/performance.md, "Uncached lists"). Here both are built once per filter set (and model) and
kept: each request still gets its own filter set, its own form instance (Django's form copies
the class's fields per instance), the same validation, the same errors and 400s.

A request builds a filter set of the filters it names alone (FilterBackend.filter_queryset): an
absent filter applies nothing and cannot fail, and copying and validating it cost a fifth of a
filtered page's CPU.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import django_filters
from django.db.models import Exists, Model, OuterRef, Q, QuerySet
from django_filters import rest_framework as drf_filters
from django_filters import utils

from minerals.models import CommodityCode, CommodityMineral, Country, PolicyMeasure, ProductionRecord, Stage, TradeFlow

# (filter set class, model) -> its form class, built from the first instance's filters.
_form_classes: dict[tuple[type, type[Model]], type] = {}
# (view class, model) -> the view's `filterset_fields` and the filter set generated from them.
_generated: dict[tuple[type, type[Model]], tuple[Any, Any]] = {}
# (filter set class, names of the filters a request named) -> a filter set of those filters alone.
_narrowed_classes: dict[tuple[type, frozenset[str]], Any] = {}
_NARROWED_KEPT = 1024


class KeptFormMixin:
    """A filter set whose form class is built once per (filter set class, model), not per request.

    A form class built from filters whose choices depend on the request (a callable `queryset`,
    django-filter's QuerySetRequestMixin) is not kept."""

    def get_form_class(self) -> Any:
        filter_set: Any = self
        key = (type(self), filter_set.queryset.model)
        form_class = _form_classes.get(key)
        if form_class is None:
            form_class = super().get_form_class()  # type: ignore[misc]
            if not any(callable(getattr(f, "queryset", None)) for f in filter_set.filters.values()):
                _form_classes[key] = form_class
        return form_class


class FilterSet(KeptFormMixin, django_filters.FilterSet):
    """django-filter's FilterSet with its form class kept (the API's declared filter sets)."""


class _RestFrameworkFilterSet(KeptFormMixin, drf_filters.FilterSet):
    """django-filter's DRF FilterSet (true/false booleans) with its form class kept: the base of
    the filter sets a view's `filterset_fields` generates."""


class FilterBackend(drf_filters.DjangoFilterBackend):
    """django-filter's backend, with the filter set a view's `filterset_fields` generates built
    once per view and model (django-filter builds a new class per request) and kept forms."""

    filterset_base = _RestFrameworkFilterSet

    def get_filterset_class(self, view: Any, queryset: Any = None) -> Any:
        if getattr(view, "filterset_class", None) or queryset is None:
            return super().get_filterset_class(view, queryset)
        fields = getattr(view, "filterset_fields", None)
        key = (type(view), queryset.model)
        kept = _generated.get(key)
        if kept is not None and kept[0] == fields:
            return kept[1]
        generated = super().get_filterset_class(view, queryset)
        _generated[key] = (fields, generated)
        return generated

    def filter_queryset(self, request: Any, queryset: Any, view: Any) -> Any:
        filterset_class = self.get_filterset_class(view, queryset)
        if filterset_class is None:
            return queryset
        named = _named_filters(filterset_class, request.query_params)
        # A request that names none of the filters (a plain page, a cursor walk) would build a
        # filter set, its form and its validation to apply nothing: about a tenth of an uncached
        # page's CPU. No filter here is required, and django-filter skips an absent value, so
        # the queryset is the same.
        if not named:
            return queryset
        # The named filters alone: django-filter deep-copies every filter and every form field
        # per request and validates each, named or not (a fifth of a filtered page's CPU).
        filterset = _narrowed(filterset_class, named)(**self.get_filterset_kwargs(request, queryset, view))
        if not filterset.is_valid() and self.raise_exception:
            raise utils.translate_validation(filterset.errors)
        return filterset.qs


def _named_filters(filterset_class: Any, query: Any) -> frozenset[str]:
    """The filters a query names: by their name, or a suffixed key their widget reads (name_min)."""
    return frozenset(
        name for name in filterset_class.base_filters if any(key == name or key.startswith(f"{name}_") for key in query)
    )


def _narrowed(filterset_class: Any, names: frozenset[str]) -> Any:
    """A subclass of `filterset_class` holding only the filters `names`, built once per set of
    names and kept (at most _NARROWED_KEPT of them: a filter set has a few filters, so a few
    combinations are ever asked)."""
    if names == frozenset(filterset_class.base_filters):
        return filterset_class
    key = (filterset_class, names)
    narrowed: Any = _narrowed_classes.get(key)
    if narrowed is None:
        narrowed = type(filterset_class.__name__, (filterset_class,), {"__module__": filterset_class.__module__})
        narrowed.base_filters = {n: f for n, f in filterset_class.base_filters.items() if n in names}
        if len(_narrowed_classes) < _NARROWED_KEPT:
            _narrowed_classes[key] = narrowed
    return narrowed


def _upper(value: str) -> str:
    return value.upper()


class CountryFilter(FilterSet):
    class Meta:
        model = Country
        fields = ["is_feoc", "region"]


class CommodityCodeFilter(FilterSet):
    mineral = django_filters.CharFilter(method="filter_mineral", help_text="Mineral slug.")

    class Meta:
        model = CommodityCode
        fields = ["is_basket"]

    def filter_mineral(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        mapped = CommodityMineral.objects.filter(commodity_code_id=OuterRef("pk"), mineral__slug=value)
        return queryset.filter(Exists(mapped))


class ProductionFilter(FilterSet):
    mineral = django_filters.CharFilter(field_name="mineral__slug", help_text="Mineral slug.")
    stage = django_filters.ChoiceFilter(choices=Stage.choices)
    country = django_filters.CharFilter(field_name="country_id", help_text="ISO3.")
    source = django_filters.CharFilter(field_name="source__key", help_text="Data source key.")
    year = django_filters.NumberFilter()

    class Meta:
        model = ProductionRecord
        fields = ["mineral", "stage", "row_kind", "country", "year", "source"]


class TradeFlowFilter(FilterSet):
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


class PolicyMeasureFilter(FilterSet):
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
