"""Scenarios in the admin: read only. Scenarios are written through scenarios.services (the
pages and the API), runs and results by the task; the admin shows them for support."""

from __future__ import annotations

from django.contrib import admin

from scenarios.models import Scenario, ScenarioRun


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: object) -> bool:
        return False

    def has_change_permission(self, request: object, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: object, obj: object = None) -> bool:
        return False


@admin.register(Scenario)
class ScenarioAdmin(ReadOnlyAdmin):
    list_display = ["name", "key", "organization", "window_start", "window_end", "revision"]
    list_filter = ["organization"]
    search_fields = ["name", "key"]


@admin.register(ScenarioRun)
class ScenarioRunAdmin(ReadOnlyAdmin):
    list_display = ["id", "scenario", "status", "progress", "data_version", "finished_at"]
    list_filter = ["status"]
