"""The curator admin for reference data. Thin: every write is delegated to minerals.services."""

from __future__ import annotations

from types import ModuleType
from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from import_export import resources
from import_export.admin import ImportExportModelAdmin
from import_export.formats.base_formats import CSV, XLSX
from simple_history.admin import SimpleHistoryAdmin

from minerals import services
from minerals.models import (
    CommodityCode,
    CommodityMineral,
    Country,
    CriticalMineralList,
    DataSource,
    ImportBatch,
    MeasureTypeSeverity,
    Mineral,
    MineralParameter,
    PolicyMeasure,
    ProductionRecord,
    SalientStatistic,
    TradeFlow,
    TradeRestrictionFactor,
    WgiScore,
)


class ServiceResource(resources.ModelResource):
    """CSV/XLSX imports save each row through the services, like every other write."""

    services: ModuleType = services

    def save_instance(self, instance: Any, is_create: bool, row: Any, **kwargs: Any) -> None:
        self.before_save_instance(instance, row, **kwargs)
        self.services.record_save(instance=instance, user=kwargs.get("user"))
        self.after_save_instance(instance, row, **kwargs)

    def delete_instance(self, instance: Any, row: Any, **kwargs: Any) -> None:
        self.services.record_delete(instance=instance, user=kwargs.get("user"))


def resource_for(
    model: type, *, services_module: ModuleType = services, import_id_fields: tuple[str, ...] = ("id",)
) -> type:
    meta = type(
        "Meta",
        (),
        {"model": model, "import_id_fields": import_id_fields, "skip_unchanged": True, "report_skipped": True},
    )
    return type(f"{model.__name__}Resource", (ServiceResource,), {"Meta": meta, "services": services_module})


class CuratedModelAdmin(ImportExportModelAdmin, SimpleHistoryAdmin):
    """Change history with the acting user, CSV/XLSX import-export, and writes through services.

    `services_module` names the module whose record_save / record_delete apply to the model.
    The admin already runs each change view in a transaction, so the stale marker commits with
    the row.
    """

    services_module: ModuleType = services
    formats = [CSV, XLSX]
    list_per_page = 50
    show_full_result_count = False  # counting millions of trade flows on every page is wasted work

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        self.services_module.record_save(instance=obj, user=request.user)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        self.services_module.record_related_saved(instance=form.instance)

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        instances = formset.save(commit=False)  # also collects formset.deleted_objects
        for obj in formset.deleted_objects:
            self.services_module.record_delete(instance=obj, user=request.user)
        for obj in instances:
            self.services_module.record_save(instance=obj, user=request.user)
        formset.save_m2m()

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        self.services_module.record_delete(instance=obj, user=request.user)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        self.services_module.records_delete(queryset=queryset, user=request.user)


@admin.register(Country)
class CountryAdmin(CuratedModelAdmin):
    list_display = ["iso3", "iso2", "m49", "name", "region", "subregion", "is_feoc"]
    list_filter = ["is_feoc", "region"]
    search_fields = ["iso3", "iso2", "name"]
    resource_class = resource_for(Country, import_id_fields=("iso3",))


@admin.register(DataSource)
class DataSourceAdmin(CuratedModelAdmin):
    list_display = ["key", "publisher", "title", "edition", "licence", "retrieved_on"]
    list_filter = ["publisher"]
    search_fields = ["key", "publisher", "title", "edition"]
    resource_class = resource_for(DataSource, import_id_fields=("key",))


@admin.register(ImportBatch)
class ImportBatchAdmin(admin.ModelAdmin):
    """Written by the importers only: curators read who imported what, when, with which outcome."""

    list_display = [
        "file_name",
        "importer",
        "status",
        "started_by",
        "started_at",
        "rows_read",
        "inserted",
        "updated",
        "unchanged",
        "rejected",
    ]
    list_filter = ["importer", "status"]
    list_select_related = ["started_by"]
    search_fields = ["file_name"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(CriticalMineralList)
class CriticalMineralListAdmin(CuratedModelAdmin):
    list_display = ["key", "name", "issuer", "published_on", "source"]
    list_select_related = ["issuer", "source"]
    search_fields = ["key", "name"]
    autocomplete_fields = ["issuer", "source"]
    resource_class = resource_for(CriticalMineralList, import_id_fields=("key",))


class MineralParameterInline(admin.TabularInline):
    model = MineralParameter
    extra = 0
    autocomplete_fields = ["source"]


@admin.register(Mineral)
class MineralAdmin(CuratedModelAdmin):
    list_display = ["name", "slug", "symbol", "usgs_name", "canonical_unit", "data_version", "data_changed_at"]
    list_filter = ["critical_lists", "canonical_unit"]
    search_fields = ["name", "slug", "symbol", "usgs_name"]
    filter_horizontal = ["critical_lists"]
    readonly_fields = ["data_version", "data_changed_at"]
    inlines = [MineralParameterInline]
    resource_class = resource_for(Mineral, import_id_fields=("slug",))
    actions = ["recompute_now"]

    @admin.action(description="Recompute now")
    def recompute_now(self, request: HttpRequest, queryset: QuerySet[Mineral]) -> None:
        services.minerals_recompute_request(mineral_ids=queryset.values_list("id", flat=True))
        self.message_user(request, f"Recompute requested for {queryset.count()} minerals.")


@admin.register(MineralParameter)
class MineralParameterAdmin(CuratedModelAdmin):
    list_display = ["mineral", "name", "value", "source"]
    list_filter = ["name"]
    list_select_related = ["mineral", "source"]
    search_fields = ["mineral__name"]
    autocomplete_fields = ["mineral", "source"]
    resource_class = resource_for(MineralParameter)


@admin.register(WgiScore)
class WgiScoreAdmin(CuratedModelAdmin):
    list_display = ["country", "year", *WgiScore.DIMENSIONS, "source"]
    list_filter = ["year"]
    list_select_related = ["country", "source"]
    search_fields = ["country__name", "country__iso3"]
    autocomplete_fields = ["country", "source"]
    resource_class = resource_for(WgiScore)


class CommodityMineralInline(admin.TabularInline):
    model = CommodityMineral
    extra = 0
    autocomplete_fields = ["mineral"]


@admin.register(CommodityCode)
class CommodityCodeAdmin(CuratedModelAdmin):
    list_display = ["hs6", "description", "is_basket"]
    list_filter = ["is_basket", "mappings__mineral"]
    search_fields = ["hs6", "description"]
    inlines = [CommodityMineralInline]
    resource_class = resource_for(CommodityCode, import_id_fields=("hs6",))


@admin.register(CommodityMineral)
class CommodityMineralAdmin(CuratedModelAdmin):
    list_display = ["commodity_code", "mineral", "stage"]
    list_filter = ["stage", "mineral"]
    list_select_related = ["commodity_code", "mineral"]
    search_fields = ["commodity_code__hs6", "mineral__name"]
    autocomplete_fields = ["commodity_code", "mineral"]
    resource_class = resource_for(CommodityMineral)


@admin.register(ProductionRecord)
class ProductionRecordAdmin(CuratedModelAdmin):
    list_display = [
        "mineral",
        "stage",
        "row_kind",
        "country",
        "year",
        "quantity",
        "unit",
        "is_estimate",
        "is_withheld",
        "bound",
        "source",
    ]
    list_filter = ["mineral", "stage", "year", "row_kind", "is_estimate", "is_withheld", "source"]
    list_select_related = ["mineral", "country", "source"]
    search_fields = ["mineral__name", "country__name", "country__iso3", "notes"]
    autocomplete_fields = ["mineral", "country", "source"]
    resource_class = resource_for(ProductionRecord)


@admin.register(SalientStatistic)
class SalientStatisticAdmin(CuratedModelAdmin):
    list_display = [
        "mineral",
        "country",
        "year",
        "statistic",
        "value",
        "unit",
        "bound",
        "is_estimate",
        "is_withheld",
        "source",
    ]
    list_filter = ["statistic", "mineral", "year"]
    list_select_related = ["mineral", "country", "source"]
    search_fields = ["mineral__name", "country__iso3"]
    autocomplete_fields = ["mineral", "country", "source"]
    resource_class = resource_for(SalientStatistic)


@admin.register(TradeFlow)
class TradeFlowAdmin(CuratedModelAdmin):
    list_display = ["year", "exporter", "importer", "commodity_code", "basis", "value_usd", "quantity_kg", "source"]
    list_filter = ["year", "basis", "source"]
    list_select_related = ["exporter", "importer", "commodity_code", "source"]
    search_fields = ["commodity_code__hs6", "exporter__iso3", "importer__iso3"]
    autocomplete_fields = ["exporter", "importer", "commodity_code", "source"]
    resource_class = resource_for(TradeFlow)


@admin.register(MeasureTypeSeverity)
class MeasureTypeSeverityAdmin(CuratedModelAdmin):
    list_display = ["measure_type", "severity", "notes"]
    resource_class = resource_for(MeasureTypeSeverity, import_id_fields=("measure_type",))


@admin.register(PolicyMeasure)
class PolicyMeasureAdmin(CuratedModelAdmin):
    list_display = [
        "instrument", "title", "issuer", "measure_type", "announced_on", "effective_on",
        "suspended_from", "suspended_until", "ended_on", "severity_override", "is_partly_confirmed",
    ]  # fmt: skip
    list_filter = [("issuer", admin.RelatedOnlyFieldListFilter), "measure_type", "minerals", "is_partly_confirmed"]
    list_select_related = ["issuer"]
    search_fields = ["key", "title", "instrument", "summary"]
    autocomplete_fields = ["issuer", "minerals", "commodity_codes", "targets", "source"]
    date_hierarchy = "effective_on"
    resource_class = resource_for(PolicyMeasure, import_id_fields=("key",))


@admin.register(TradeRestrictionFactor)
class TradeRestrictionFactorAdmin(CuratedModelAdmin):
    list_display = ["mineral", "country", "t_value", "notes"]
    list_select_related = ["mineral", "country"]
    search_fields = ["mineral__name", "country__iso3"]
    autocomplete_fields = ["mineral", "country"]
    resource_class = resource_for(TradeRestrictionFactor)
