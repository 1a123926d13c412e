"""Events are read-only here (the outbox is written by the capture tasks only); watches are editable."""

from __future__ import annotations

from django.contrib import admin

from alerts.models import Event, Watch
from dashboards.admin import ReadOnlyAdmin


@admin.register(Event)
class EventAdmin(ReadOnlyAdmin):
    list_display = ["occurred_at", "kind", "measure_key", "organization", "title"]
    list_filter = ["kind"]
    search_fields = ["measure_key", "title"]
    date_hierarchy = "occurred_at"


@admin.register(Watch)
class WatchAdmin(admin.ModelAdmin):
    list_display = ["user", "mineral", "country", "measure_type"]
    list_select_related = ["user", "mineral", "country"]
    raw_id_fields = ["user"]
