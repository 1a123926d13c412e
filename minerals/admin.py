"""The curator admin for reference data. Thin: every write is delegated to minerals.services."""

from __future__ import annotations

import logging
import shutil
import uuid
from pathlib import Path
from types import ModuleType
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import models, transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path
from import_export import resources
from import_export.admin import ImportExportModelAdmin
from import_export.formats.base_formats import CSV, XLSX
from simple_history.admin import SimpleHistoryAdmin

from minerals import imports, services
from minerals.imports import IMPORTERS
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
    RecyclingFigure,
    SalientStatistic,
    TradeFlow,
    TradeRestrictionFactor,
    WgiScore,
)
from minerals.spreadsheets import safe_cell
from minerals.tasks import import_batch_task

logger = logging.getLogger(__name__)


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
    # Source links typed without a scheme are https (Django 6's default; no deprecation warning).
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    formats = [CSV, XLSX]
    list_per_page = 50
    show_full_result_count = False  # counting millions of trade flows on every page is wasted work
    # Permissions an import needs beyond the model's add and change (organization-owned tables).
    import_requires: tuple[str, ...] = ()

    def has_import_permission(self, request: HttpRequest) -> bool:
        """An import inserts and updates rows: the model's add and change permissions, both.

        import-export's own check (IMPORT_EXPORT_IMPORT_PERMISSION_CODE) takes one code, and
        without it any staff account could import into any table.
        """
        return (
            self.has_add_permission(request)
            and self.has_change_permission(request)
            and request.user.has_perms(self.import_requires)
        )

    def has_export_permission(self, request: HttpRequest) -> bool:
        """An export shows every row: the model's view (or change) permission."""
        return self.has_view_permission(request)

    def get_data_for_export(self, request: HttpRequest, queryset: QuerySet[Any], **kwargs: Any) -> Any:
        """Every exported cell through minerals.spreadsheets.safe_cell (CSV and XLSX alike).

        import-export's own escaping (IMPORT_EXPORT_ESCAPE_FORMULAE_ON_EXPORT, off in settings)
        strips a leading '=' only, lets `-2+3+cmd|...` and `@SUM(...)` through, and writes every
        cell, numbers too, as text.
        """
        dataset = super().get_data_for_export(request, queryset, **kwargs)
        return type(dataset)(  # a tablib.Dataset
            *([safe_cell(cell) for cell in row] for row in dataset),
            headers=dataset.headers,
            title=dataset.title,
        )

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
    resource_classes = [resource_for(Country, import_id_fields=("iso3",))]


@admin.register(DataSource)
class DataSourceAdmin(CuratedModelAdmin):
    list_display = ["key", "publisher", "title", "edition", "licence", "retrieved_on"]
    list_filter = ["publisher"]
    search_fields = ["key", "publisher", "title", "edition"]
    resource_classes = [resource_for(DataSource, import_id_fields=("key",))]


class ImportUploadForm(forms.Form):
    """An importer kind and a file; caps and checks from settings (size, extension, header)."""

    importer = forms.ChoiceField(choices=[(k, k) for k in IMPORTERS])
    file = forms.FileField()
    countries = forms.FileField(required=False, help_text="BACI only: the country_codes_V202X.csv of the release.")
    skip_invalid = forms.BooleanField(required=False, help_text="Import the valid rows; reject the others.")
    dry_run = forms.BooleanField(required=False, help_text="Validate and report only.")

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        assert data is not None  # Form.clean returns cleaned_data; the stubs allow None for overrides
        upload = data.get("file")
        importer = data.get("importer")
        if upload is None or importer is None:
            return data
        if upload.size > settings.LODESTONE_IMPORT_MAX_UPLOAD_BYTES:
            cap = settings.LODESTONE_IMPORT_MAX_UPLOAD_BYTES
            raise forms.ValidationError(f"The file is {upload.size:,} bytes; uploads are capped at {cap:,}.")
        extensions = IMPORTERS[importer].extensions
        if Path(upload.name).suffix.lower() not in extensions:
            raise forms.ValidationError(f"A {importer} file ends in {' or '.join(extensions)}.")
        if importer == "baci" and not data.get("countries"):
            raise forms.ValidationError("BACI needs its country-code file.")
        return data


@admin.register(ImportBatch)
class ImportBatchAdmin(admin.ModelAdmin):
    """Written by the importers only: curators read who imported what, when, with which outcome.

    The upload view saves the file under var/, creates the batch (status running) and enqueues the
    import task; the batch page shows its progress and, when done, the report.
    """

    list_display = [
        "file_name", "importer", "status", "progress", "started_by", "started_at",
        "rows_read", "inserted", "updated", "unchanged", "rejected",
    ]  # fmt: skip
    list_filter = ["importer", "status"]
    list_select_related = ["started_by"]
    search_fields = ["file_name", "checksum"]
    change_list_template = "admin/minerals/importbatch/change_list.html"
    change_form_template = "admin/minerals/importbatch/change_form.html"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_urls(self) -> list[Any]:
        upload = path("upload/", self.admin_site.admin_view(self.upload_view), name="minerals_importbatch_upload")
        return [upload, *super().get_urls()]

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        extra_context = {**(extra_context or {}), "can_upload": self.has_upload_permission(request)}
        return super().changelist_view(request, extra_context)

    def has_upload_permission(self, request: HttpRequest) -> bool:
        """Seeing batches is not writing data: uploads need their own permission (the task checks it too)."""
        return request.user.is_active and request.user.is_staff and request.user.has_perm(imports.UPLOAD_PERMISSION)

    def upload_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_upload_permission(request):
            raise PermissionDenied
        form = ImportUploadForm(request.POST or None, request.FILES or None)
        status = 200
        if request.method == "POST" and form.is_valid():
            try:
                batch = self._start(request, form)
            except OSError as error:  # disk full, quota, read-only volume: nothing was kept
                logger.error("upload not stored under %s: %s", settings.LODESTONE_IMPORT_UPLOAD_DIR, error)
                messages.error(
                    request,
                    f"The file could not be stored on the server ({error.strerror or error}). Nothing was "
                    "recorded or imported; ask the operator to free space for uploads, then upload it again.",
                )
                status = 507  # Insufficient Storage
            else:
                if batch is not None:
                    return redirect("admin:minerals_importbatch_change", batch.pk)
        context = {
            **self.admin_site.each_context(request),
            "form": form,
            "opts": self.model._meta,
            "title": "Upload a data file",
        }
        return TemplateResponse(request, "admin/minerals/importbatch/upload.html", context, status=status)

    def _start(self, request: HttpRequest, form: ImportUploadForm) -> ImportBatch | None:
        data = form.cleaned_data
        folder = Path(settings.LODESTONE_IMPORT_UPLOAD_DIR) / uuid.uuid4().hex
        options = imports.ImportOptions(
            skip_invalid=data["skip_invalid"], max_rows=settings.LODESTONE_IMPORT_MAX_ROWS, dry_run=data["dry_run"]
        )
        try:
            folder.mkdir(parents=True)
            saved = _save_upload(data["file"], folder)
            if data.get("countries"):
                options.countries = str(_save_upload(data["countries"], folder))
        except OSError:
            shutil.rmtree(folder, ignore_errors=True)  # no partly written file is left behind
            raise
        # A dry run is a batch and a task too (parsing never runs in the request): it counts,
        # rolls back, and its batch page shows the report.
        try:
            # Queued unread: the file is identified (checksum, edition) and parsed in the task only.
            batch = imports.import_batch_queue(
                importer=data["importer"], path=saved, user=request.user, options=options
            )
        except imports.ImportFailed as exc:
            shutil.rmtree(folder, ignore_errors=True)
            messages.error(request, str(exc))
            return None
        transaction.on_commit(lambda: import_batch_task.delay(batch.pk))
        what = "dry run" if options.dry_run else "import"
        messages.success(request, f"{batch.file_name}: {what} queued as batch {batch.pk}.")
        return batch


def _save_upload(upload: Any, folder: Path) -> Path:
    # only the base name of the client's file name; the folder is a fresh random one
    target = folder / Path(upload.name).name
    with open(target, "wb") as out:
        for chunk in upload.chunks():
            out.write(chunk)
    return target


@admin.register(CriticalMineralList)
class CriticalMineralListAdmin(CuratedModelAdmin):
    list_display = ["key", "name", "issuer", "published_on", "source"]
    list_select_related = ["issuer", "source"]
    search_fields = ["key", "name"]
    autocomplete_fields = ["issuer", "source"]
    resource_classes = [resource_for(CriticalMineralList, import_id_fields=("key",))]


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
    resource_classes = [resource_for(Mineral, import_id_fields=("slug",))]
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
    resource_classes = [resource_for(MineralParameter)]


@admin.register(RecyclingFigure)
class RecyclingFigureAdmin(CuratedModelAdmin):
    list_display = [
        "mineral",
        "country",
        "year",
        "rate",
        "secondary_quantity",
        "consumption_quantity",
        "unit",
        "source",
    ]
    list_filter = ["country", "is_estimate"]
    list_select_related = ["mineral", "country", "source"]
    search_fields = ["mineral__name"]
    autocomplete_fields = ["mineral", "country", "source"]
    resource_classes = [resource_for(RecyclingFigure)]


@admin.register(WgiScore)
class WgiScoreAdmin(CuratedModelAdmin):
    list_display = ["country", "year", *WgiScore.DIMENSIONS, "source"]
    list_filter = ["year"]
    list_select_related = ["country", "source"]
    search_fields = ["country__name", "country__iso3"]
    autocomplete_fields = ["country", "source"]
    resource_classes = [resource_for(WgiScore)]


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
    resource_classes = [resource_for(CommodityCode, import_id_fields=("hs6",))]


@admin.register(CommodityMineral)
class CommodityMineralAdmin(CuratedModelAdmin):
    list_display = ["commodity_code", "mineral", "stage"]
    list_filter = ["stage", "mineral"]
    list_select_related = ["commodity_code", "mineral"]
    search_fields = ["commodity_code__hs6", "mineral__name"]
    autocomplete_fields = ["commodity_code", "mineral"]
    resource_classes = [resource_for(CommodityMineral)]


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
    resource_classes = [resource_for(ProductionRecord)]


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
    resource_classes = [resource_for(SalientStatistic)]


@admin.register(TradeFlow)
class TradeFlowAdmin(CuratedModelAdmin):
    list_display = ["year", "exporter", "importer", "commodity_code", "basis", "value_usd", "quantity_kg", "source"]
    list_filter = ["year", "basis", "source"]
    list_select_related = ["exporter", "importer", "commodity_code", "source"]
    search_fields = ["commodity_code__hs6", "exporter__iso3", "importer__iso3"]
    autocomplete_fields = ["exporter", "importer", "commodity_code", "source"]
    resource_classes = [resource_for(TradeFlow)]


@admin.register(MeasureTypeSeverity)
class MeasureTypeSeverityAdmin(CuratedModelAdmin):
    list_display = ["measure_type", "severity", "notes"]
    resource_classes = [resource_for(MeasureTypeSeverity, import_id_fields=("measure_type",))]


@admin.register(PolicyMeasure)
class PolicyMeasureAdmin(CuratedModelAdmin):
    list_display = [
        "instrument", "title", "issuer", "measure_type", "announced_on", "effective_on",
        "suspended_from", "suspended_until", "ended_on", "severity_override", "is_partly_confirmed",
    ]  # fmt: skip
    list_filter = [("issuer", admin.RelatedOnlyFieldListFilter), "measure_type", "minerals", "is_partly_confirmed"]
    list_select_related = ["issuer"]
    search_fields = ["key", "title", "instrument", "summary", "curator_notes"]
    autocomplete_fields = ["issuer", "minerals", "commodity_codes", "targets", "source"]
    date_hierarchy = "effective_on"
    resource_classes = [resource_for(PolicyMeasure, import_id_fields=("key",))]


@admin.register(TradeRestrictionFactor)
class TradeRestrictionFactorAdmin(CuratedModelAdmin):
    list_display = ["mineral", "country", "t_value", "notes"]
    list_select_related = ["mineral", "country"]
    search_fields = ["mineral__name", "country__iso3"]
    autocomplete_fields = ["mineral", "country"]
    resource_classes = [resource_for(TradeRestrictionFactor)]
