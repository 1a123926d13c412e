"""Events are read-only here (the outbox is written by the capture tasks only); watches,
thresholds and webhook endpoints are editable; deliveries can be redelivered."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from alerts import webhooks
from alerts.models import Event, Threshold, Watch, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from dashboards.admin import ReadOnlyAdmin


@admin.register(Event)
class EventAdmin(ReadOnlyAdmin):
    list_display = ["occurred_at", "kind", "measure_key", "organization", "title"]
    list_filter = ["kind"]
    search_fields = ["measure_key", "title"]
    date_hierarchy = "occurred_at"


@admin.register(Watch)
class WatchAdmin(admin.ModelAdmin):
    list_display = ["user", "organization", "mineral", "country", "measure_type"]
    list_select_related = ["user", "organization", "mineral", "country"]
    raw_id_fields = ["user"]


@admin.register(Threshold)
class ThresholdAdmin(admin.ModelAdmin):
    list_display = ["organization", "user", "metric", "level", "mineral"]
    list_select_related = ["organization", "user", "mineral"]
    raw_id_fields = ["user"]


class WebhookEndpointForm(forms.ModelForm):
    url = forms.URLField(max_length=500, assume_scheme="https", label="HTTPS URL")

    class Meta:
        model = WebhookEndpoint
        fields = ["organization", "url", "description", "is_active"]

    def clean_url(self) -> str:
        url = str(self.cleaned_data["url"])
        try:
            webhooks.target_resolve(url)
        except webhooks.UnsafeURL as error:
            raise forms.ValidationError(str(error)) from error
        return url


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    form = WebhookEndpointForm
    list_display = ["url", "organization", "is_active", "consecutive_failures", "created_at"]
    list_filter = ["is_active"]
    readonly_fields = ["secret", "consecutive_failures", "disabled_reason"]

    def save_model(self, request: HttpRequest, obj: WebhookEndpoint, form: Any, change: bool) -> None:
        if not obj.secret:
            obj.secret = webhooks.new_secret()
        super().save_model(request, obj, form, change)


@admin.register(WebhookAttempt)
class WebhookAttemptAdmin(ReadOnlyAdmin):
    list_display = ["started_at", "endpoint", "status_code", "error", "duration_ms"]
    list_select_related = ["endpoint"]


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin):
    list_display = ["event", "endpoint", "status", "attempts", "last_status_code", "delivered_at"]
    list_filter = ["status"]
    list_select_related = ["event", "endpoint"]
    actions = ["redeliver"]

    @admin.action(description="Redeliver the selected deliveries")
    def redeliver(self, request: HttpRequest, queryset: QuerySet[WebhookDelivery]) -> None:
        count = webhooks.redeliver(delivery_ids=list(queryset.values_list("pk", flat=True)))
        self.message_user(request, f"{count} deliveries due again.", messages.SUCCESS)
