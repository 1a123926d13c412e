"""/api/v1/events/: the change feed for partner systems (scope `events:read`).

Public events (policy changes, suspension deadlines) and the caller's organization's own; an
event of another organization never shows. Cursor-paginated by id, oldest first: a consumer
follows `next`, or polls with `?after=<last id seen>`.
"""

from __future__ import annotations

from typing import Any

import django_filters
from django.db.models import QuerySet
from rest_framework import generics, serializers
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from alerts import selectors
from alerts.models import Event, EventKind
from minerals.api.fields import SlugRelatedField
from minerals.api.filters import FilterSet
from minerals.api.permissions import request_token, token_has_scope
from minerals.models import Mineral
from suppliers.api.permissions import caller_organization
from suppliers.models import Organization

EVENTS_READ = "events:read"


class EventsAccess(BasePermission):
    """Any signed-in session, or a token with `events:read`."""

    scopes = (EVENTS_READ, EVENTS_READ)  # (read, write): read-only

    def has_permission(self, request: Request, view: Any) -> bool:
        token = request_token(request)
        if token is not None:
            return token_has_scope(token, EVENTS_READ)
        return bool(request.user and request.user.is_authenticated)


class EventSerializer(serializers.ModelSerializer):
    measure = serializers.CharField(source="measure_key", help_text="The measure's key (kept after a deletion).")
    issuer = serializers.CharField(source="issuer_id", allow_null=True, help_text="ISO 3166 alpha-3.")
    minerals: serializers.SlugRelatedField[Mineral] = SlugRelatedField(slug_field="slug", many=True, read_only=True)
    organization: serializers.SlugRelatedField[Organization] = SlugRelatedField(
        slug_field="slug", read_only=True, allow_null=True, help_text="Empty for public events."
    )

    class Meta:
        model = Event
        fields = [
            "id",
            "kind",
            "occurred_at",
            "title",
            "measure",
            "measure_type",
            "issuer",
            "minerals",
            "due_on",
            "organization",
            "details",
            "dedupe_key",
        ]
        read_only_fields = fields


class EventFilter(FilterSet):
    kind = django_filters.ChoiceFilter(choices=EventKind.choices)
    measure = django_filters.CharFilter(field_name="measure_key")
    after = django_filters.NumberFilter(field_name="id", lookup_expr="gt", help_text="Events after this id.")

    class Meta:
        model = Event
        fields = ["kind", "measure", "after"]


class EventListView(generics.ListAPIView):
    permission_classes = [EventsAccess]
    throttle_scope = "reference"
    serializer_class = EventSerializer
    filterset_class = EventFilter
    ordering_fields = ["id"]
    ordering = ["id"]

    def get_queryset(self) -> QuerySet[Event]:
        if getattr(self, "swagger_fake_view", False):  # schema generation: no caller
            return Event.objects.none()
        return selectors.events_visible_to(caller_organization(self.request))
