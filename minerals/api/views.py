"""Reference data over HTTP: thin views over querysets (reads) and services (writes).

Every list uses cursor pagination, django-filter and `?format=csv|xlsx`; related rows are
selected or prefetched so a page costs a fixed number of queries whatever its length. Lists
with PlainRowsListMixin read their rows as values and format them by the output serializer's
fields (minerals.api.plain_rows); the serializer still answers single objects and writes.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from oauth2_provider.views import TokenView
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from minerals import bulk_services
from minerals.api import filters, serializers
from minerals.api.permissions import ReferenceAccess, acting_user
from minerals.api.plain_rows import PlainRowsListMixin
from minerals.api.renderers import PRIVATE_NO_STORE
from minerals.api.writes import ServiceModelViewSet, bulk_rows
from minerals.models import CommodityCode, Country, DataSource, Mineral, PolicyMeasure, ProductionRecord, TradeFlow

BULK_DESCRIPTION = (
    "All or nothing: a JSON array of rows, a `text/csv` body, or a multipart upload with a CSV `file` "
    "(header line with the same column names). Rows are matched on their natural key: new rows are inserted, "
    "changed ones updated, identical ones left alone (a repeat is idempotent). Any invalid row: 400 with every "
    "error (row, field, value, expected) and nothing written. The affected minerals are marked stale once."
)


class PrivateNoStore:
    """An organization's answers (and any export) are kept by no browser or proxy cache."""

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        response = super().finalize_response(request, response, *args, **kwargs)  # type: ignore[misc]
        response["Cache-Control"] = PRIVATE_NO_STORE
        return response


class ReferenceReadViewSet(viewsets.ReadOnlyModelViewSet):
    permission_classes = [ReferenceAccess]
    throttle_scope = "reference"


class CountryViewSet(PlainRowsListMixin, ReferenceReadViewSet):
    queryset = Country.objects.all()
    serializer_class = serializers.CountryOutputSerializer
    filterset_class = filters.CountryFilter
    ordering_fields = ["iso3", "name"]
    ordering = ["iso3"]


class MineralViewSet(PlainRowsListMixin, ReferenceReadViewSet):
    queryset = Mineral.objects.prefetch_related("critical_lists")
    serializer_class = serializers.MineralOutputSerializer
    lookup_field = "slug"
    ordering_fields = ["slug", "name"]
    ordering = ["slug"]


class CommodityCodeViewSet(ReferenceReadViewSet):
    queryset = CommodityCode.objects.prefetch_related("mappings__mineral")
    serializer_class = serializers.CommodityCodeOutputSerializer
    filterset_class = filters.CommodityCodeFilter
    lookup_field = "hs6"
    ordering_fields = ["hs6"]
    ordering = ["hs6"]


class DataSourceViewSet(PlainRowsListMixin, ReferenceReadViewSet):
    queryset = DataSource.objects.all()
    serializer_class = serializers.DataSourceOutputSerializer
    lookup_field = "key"
    ordering_fields = ["key", "id"]
    ordering = ["key"]


class ClientCredentialsTokenView(TokenView):
    """django-oauth-toolkit's token endpoint for the one grant partners use: client credentials.

    Any other grant is refused with 400 before the toolkit sees it (RFC 6749 section 5.2): its
    device-code branch answered 500 to a request without a `device_code`, and looked the code up
    for a flow this API does not offer.
    """

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        grant_type = request.POST.get("grant_type")
        if not grant_type:
            return _token_error("invalid_request", "grant_type is required.")
        if grant_type != "client_credentials":
            return _token_error("unsupported_grant_type", "Only the client_credentials grant is supported.")
        return super().post(request, *args, **kwargs)


def _token_error(error: str, description: str) -> JsonResponse:
    response = JsonResponse({"error": error, "error_description": description}, status=400)
    response["Cache-Control"] = "no-store"
    return response


def _bulk_answer(request: Request, upsert: Any) -> Response:
    rows = bulk_rows(request)  # a body that does not parse: errors.api_exception_handler answers
    try:
        result = upsert(rows=rows, user=acting_user(request))
    except bulk_services.BulkRejected as rejected:
        return Response(
            {
                "detail": "Invalid rows: nothing was written.",
                "rows": rejected.rows,
                "errors": [e.as_json() for e in rejected.errors],
            },
            status=status.HTTP_400_BAD_REQUEST,
        )
    return Response(result.as_json())


def bulk_schema(row_serializer: Any, example: dict[str, Any]) -> Any:
    return extend_schema(
        description=BULK_DESCRIPTION,
        request={
            "application/json": row_serializer(many=True),
            "text/csv": OpenApiTypes.STR,
            "multipart/form-data": {"type": "object", "properties": {"file": {"type": "string", "format": "binary"}}},
        },
        responses={
            200: serializers.BulkResultSerializer,
            400: OpenApiResponse(serializers.BulkRejectedSerializer, description="Invalid rows; nothing written."),
        },
        examples=[OpenApiExample("rows", value=[example], request_only=True)],
    )


class ProductionViewSet(PlainRowsListMixin, ReferenceReadViewSet):
    queryset = ProductionRecord.objects.select_related("mineral", "source")
    serializer_class = serializers.ProductionOutputSerializer
    filterset_class = filters.ProductionFilter
    ordering_fields = ["id"]
    ordering = ["id"]

    @bulk_schema(
        serializers.ProductionBulkRowSerializer,
        {"mineral": "gallium", "stage": "refinery", "country": "CHN", "year": 2024, "quantity": 750000,
         "unit": "kg", "is_estimate": True, "source": "usgs-mcs-2025"},
    )  # fmt: skip
    @action(detail=False, methods=["post"])
    def bulk(self, request: Request) -> Response:
        return _bulk_answer(request, bulk_services.production_bulk_upsert)


class TradeFlowViewSet(PlainRowsListMixin, ReferenceReadViewSet):
    queryset = TradeFlow.objects.select_related("source")
    serializer_class = serializers.TradeFlowOutputSerializer
    filterset_class = filters.TradeFlowFilter
    # The cursor needs a unique column: id (ascending or descending) only.
    ordering_fields = ["id"]
    ordering = ["id"]

    @bulk_schema(
        serializers.TradeFlowBulkRowSerializer,
        {"year": 2024, "exporter": "CHN", "importer": "USA", "commodity_code": "811292", "basis": "import",
         "value_usd": 1250000.0, "quantity_kg": 3200.0, "source": "comtrade"},
    )  # fmt: skip
    @action(detail=False, methods=["post"])
    def bulk(self, request: Request) -> Response:
        return _bulk_answer(request, bulk_services.trade_flows_bulk_upsert)


class PolicyMeasureViewSet(PlainRowsListMixin, ServiceModelViewSet):
    """Policy measures (export controls); curators write, with their minerals, HS codes and targets."""

    queryset = PolicyMeasure.objects.select_related("source").prefetch_related("minerals", "commodity_codes", "targets")
    permission_classes = [ReferenceAccess]
    throttle_scope = "reference"
    output_serializer_class = serializers.PolicyMeasureOutputSerializer
    input_serializer_class = serializers.PolicyMeasureInputSerializer
    many_to_many = ("minerals", "commodity_codes", "targets")
    filterset_class = filters.PolicyMeasureFilter
    lookup_field = "key"
    ordering_fields = ["key", "id"]
    ordering = ["id"]
