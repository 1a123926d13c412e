"""Facilities (with China control), the stored metrics and a buyer's exposure over HTTP.

Metrics are read through dashboards.selectors only: the same rows the dashboard and
`show_metrics --json` show. Pollers use conditional GET: the ETag and Last-Modified come from
the mineral's data version and its metrics state (one query, no recomputation), so an
unchanged mineral answers 304 before any metric row is read.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

import django_filters
from django.conf import settings
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.http import http_date, parse_http_date_safe, quote_etag
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status, views, viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from dashboards import plan_selectors, selectors
from dashboards.api import selectors as api_selectors
from dashboards.api import serializers
from dashboards.models import MineralMetricsState
from minerals.api.filters import FilterSet
from minerals.api.permissions import ReferenceAccess
from minerals.api.plain_rows import PlainRowsListMixin
from minerals.api.views import PrivateNoStore
from minerals.api.writes import ServiceModelViewSet
from minerals.models import Mineral, Stage
from suppliers import services as supplier_services
from suppliers.api.permissions import PortfolioAccess, caller_organization
from suppliers.models import Facility


class FacilityFilter(FilterSet):
    mineral = django_filters.CharFilter(field_name="mineral__slug", help_text="Mineral slug.")
    stage = django_filters.ChoiceFilter(choices=Stage.choices)
    country = django_filters.CharFilter(field_name="country_id", help_text="ISO3.")
    status = django_filters.ChoiceFilter(choices=Facility.Status.choices)
    china_controlled = django_filters.BooleanFilter(
        help_text=(
            "Located in China or under FEOC control "
            f"(recorded, or owned >= {serializers.CONTROL_PERCENT} down the ownership chain)."
        )
    )

    class Meta:
        model = Facility
        fields = ["mineral", "stage", "country", "status", "china_controlled", "is_fictional"]


class FacilityViewSet(PlainRowsListMixin, ServiceModelViewSet):
    """Facilities. Served by the top app because China control is the risk engine's rule."""

    permission_classes = [ReferenceAccess]
    throttle_scope = "reference"
    services_module = supplier_services
    write_model = Facility
    output_serializer_class = serializers.FacilityOutputSerializer
    input_serializer_class = serializers.FacilityInputSerializer
    filterset_class = FacilityFilter
    lookup_field = "key"
    ordering_fields = ["id", "key"]
    ordering = ["id"]
    queryset = Facility.objects.all()  # the model, for permissions and the schema; rows: get_queryset

    def get_queryset(self) -> QuerySet[Facility]:
        if getattr(self, "swagger_fake_view", False):
            return Facility.objects.none()
        return api_selectors.facilities_with_control()

    def new_instance(self) -> Facility:
        return Facility()


def _metrics_validators(mineral: Mineral, query: dict[str, Any]) -> tuple[str, datetime | None]:
    """Weak ETag and Last-Modified of a metrics answer, from versions and times only.

    Every input of the numbers (production, trade, measures, severities, WGI, parameters)
    bumps Mineral.data_version through the services; the rows carry the version they reflect.
    `age_seconds` moves with the clock, hence a weak validator (same numbers, not same bytes).
    """
    state: MineralMetricsState | None = getattr(mineral, "metrics_state", None)
    parts = [
        mineral.slug,
        str(mineral.data_version),
        str(state.data_version if state else "-"),
        state.computed_at.isoformat() if state and state.computed_at else "-",
        *(f"{k}={query.get(k) or ''}" for k in ("stage", "year", "destination", "as_of", "edition")),
    ]
    digest = hashlib.sha256("|".join(parts).encode()).hexdigest()[:32]
    times = [t for t in (mineral.data_changed_at, state.computed_at if state else None) if t is not None]
    return "W/" + quote_etag(digest), max(times) if times else None


def _not_modified(request: Request, etag: str, last_modified: datetime | None) -> bool:
    if_none_match = request.headers.get("If-None-Match")
    if if_none_match is not None:
        # Weak comparison (RFC 9110 13.1.2): the opaque tags match with or without W/.
        wanted = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
        return "*" in wanted or etag.removeprefix("W/") in wanted
    since = parse_http_date_safe(request.headers.get("If-Modified-Since", ""))
    return since is not None and last_modified is not None and int(last_modified.timestamp()) <= since


class MetricsView(views.APIView):
    """A mineral's stored metrics with freshness and sources (`show_metrics --json` over HTTP)."""

    permission_classes = [ReferenceAccess]
    throttle_scope = "metrics"

    @extend_schema(
        parameters=[serializers.MetricsQuerySerializer],
        responses={
            200: serializers.MetricsReportSerializer,
            304: OpenApiResponse(description="Not modified since the ETag / Last-Modified the poller sent."),
        },
    )
    def get(self, request: Request) -> Response:
        params = serializers.MetricsQuerySerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        query = params.validated_data
        query.setdefault("as_of", timezone.localdate())
        query.setdefault("destination", settings.LODESTONE_DEFAULT_DESTINATION)
        mineral = get_object_or_404(Mineral.objects.select_related("metrics_state"), slug=query["mineral"])
        etag, last_modified = _metrics_validators(mineral, query)
        headers = {"ETag": etag, "Cache-Control": "private, no-cache"}
        if last_modified is not None:
            headers["Last-Modified"] = http_date(last_modified.timestamp())
        if _not_modified(request, etag, last_modified):
            return Response(status=status.HTTP_304_NOT_MODIFIED, headers=headers)
        try:
            report = selectors.mineral_metrics(
                mineral=mineral,
                stage=query.get("stage"),
                year=query.get("year"),
                destination=query["destination"],
                as_of=query["as_of"],
                edition=query.get("edition"),
            )
        except selectors.UnknownEdition as error:
            raise ValidationError({"edition": [str(error)]}) from None
        return Response(report, headers=headers)


class ExposureView(PrivateNoStore, views.APIView):
    """The caller's organization's stored exposure per mineral, with freshness."""

    permission_classes = [PortfolioAccess]
    throttle_scope = "portfolio"

    @extend_schema(
        parameters=[OpenApiParameter("mineral", str, description="Only this mineral (slug).")],
        responses=serializers.ExposureRowSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        organization = caller_organization(request)
        assert organization is not None  # PortfolioAccess refused callers without one
        rows = selectors.organization_exposure(organization=organization)
        mineral = request.query_params.get("mineral")
        if mineral:
            rows = [row for row in rows if row["mineral"] == mineral]
        return Response(rows)


class AlternativesView(views.APIView):
    """Ranked alternatives of a mineral at a stage, with their factors, and the sources that are
    not alternatives with the reason (docs/metrics.md "Alternatives")."""

    permission_classes = [ReferenceAccess]
    throttle_scope = "metrics"

    @extend_schema(
        parameters=[serializers.AlternativesQuerySerializer], responses=serializers.AlternativesReportSerializer
    )
    def get(self, request: Request) -> Response:
        params = serializers.AlternativesQuerySerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        query = params.validated_data
        mineral = get_object_or_404(Mineral, slug=query["mineral"])
        report = selectors.mineral_alternatives(
            mineral,
            exposed_volume=query.get("volume"),
            unit=mineral.canonical_unit,
            stage=query.get("stage") or Stage.REFINERY,
            as_of=query.get("as_of") or timezone.localdate(),
        )
        return Response(report)


class PlanViewSet(PrivateNoStore, viewsets.ViewSet):
    """The caller's organization's transition plans (read-only here; written on /portfolio/plan/).
    The list gives each plan with its steps; a plan gives its projection 2026-2030 beside today's
    sourcing. Another organization's plan answers 404."""

    permission_classes = [PortfolioAccess]
    throttle_scope = "portfolio"
    lookup_value_regex = "[^/\x00]+"

    @extend_schema(responses=serializers.PlanSerializer(many=True))
    def list(self, request: Request) -> Response:
        organization = caller_organization(request)
        assert organization is not None  # PortfolioAccess refused callers without one
        return Response(plan_selectors.organization_plans(organization=organization))

    @extend_schema(responses=serializers.PlanProjectionSerializer)
    def retrieve(self, request: Request, pk: str) -> Response:
        organization = caller_organization(request)
        assert organization is not None
        plan = plan_selectors.plan_of(organization=organization, plan_id=pk)
        data = plan_selectors.plan_projection(organization=organization, plan=plan)
        return Response({key: data[key] for key in ("plan", "years", "reference_dates", "computed_at", "minerals")})
