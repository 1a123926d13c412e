"""Scenarios in the admin: read-mostly (runs and results are written by the task only)."""

from __future__ import annotations

from django.contrib import admin

from scenarios.models import Scenario, ScenarioRun


@admin.register(Scenario)
class ScenarioAdmin(admin.ModelAdmin):
    list_display = ["name", "key", "organization", "window_start", "window_end", "revision"]
    list_filter = ["organization"]
    search_fields = ["name", "key"]
    # Shocks are edited through the scenario form (scenarios.services.scenario_save), never here.
    readonly_fields = ["revision", "created_by", "created_at", "updated_at"]


@admin.register(ScenarioRun)
class ScenarioRunAdmin(admin.ModelAdmin):
    list_display = ["id", "scenario", "status", "progress", "data_version", "finished_at"]
    list_filter = ["status"]
    readonly_fields = [f.name for f in ScenarioRun._meta.fields]

    def has_add_permission(self, request: object) -> bool:
        return False
