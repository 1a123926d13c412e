"""Read-only admin for the materialized metrics: written only by the recompute service."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from dashboards.models import ExposureMetric, ImportMetric, MineralMetricsState, SupplyMetric


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(MineralMetricsState)
class MineralMetricsStateAdmin(ReadOnlyAdmin):
    list_display = ["mineral", "data_version", "computed_at", "recompute_count", "duration_ms"]
    list_select_related = ["mineral"]


@admin.register(SupplyMetric)
class SupplyMetricAdmin(ReadOnlyAdmin):
    list_display = [
        "mineral",
        "stage",
        "year",
        "china_share",
        "feoc_share",
        "top3_share",
        "hhi",
        "coverage",
        "data_version",
        "computed_at",
    ]
    list_filter = ["stage", "year", "mineral"]
    list_select_related = ["mineral"]


@admin.register(ImportMetric)
class ImportMetricAdmin(ReadOnlyAdmin):
    list_display = [
        "mineral",
        "destination",
        "year",
        "import_china_share",
        "import_hhi",
        "nir",
        "nir_published",
        "data_version",
    ]
    list_filter = ["year", "mineral"]
    list_select_related = ["mineral", "destination"]


@admin.register(ExposureMetric)
class ExposureMetricAdmin(ReadOnlyAdmin):
    list_display = [
        "organization", "mineral", "direct_china_share", "china_controlled_share", "upstream_china_share",
        "restricted_share", "as_of", "organization_data_version", "mineral_data_version",
    ]  # fmt: skip
    list_filter = ["mineral"]
    list_select_related = ["organization", "mineral"]
