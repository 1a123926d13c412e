"""Events are read-only here (the outbox is written by the capture tasks only); watches are editable."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from alerts.models import Event, Watch


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    list_display = ["occurred_at", "kind", "measure_key", "organization", "title"]
    list_filter = ["kind"]
    search_fields = ["measure_key", "title"]
    date_hierarchy = "occurred_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Watch)
class WatchAdmin(admin.ModelAdmin):
    list_display = ["user", "mineral", "country", "measure_type"]
    list_select_related = ["user", "mineral", "country"]
    raw_id_fields = ["user"]
