"""Companies (reference data) and the caller's portfolio: organization, requirements, sourcing.

Isolation: every portfolio queryset is filtered by the caller's organization in
`get_queryset`, so another organization's row answers 404 and never shows in a list;
`organization` is set from the caller on create and is read-only in every answer.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import views
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from minerals.api.permissions import ReferenceAccess
from minerals.api.plain_rows import PlainRowsListMixin
from minerals.api.views import PrivateNoStore, _bulk_answer, bulk_schema
from minerals.api.writes import ServiceModelViewSet
from suppliers import portfolio_services, services
from suppliers.api import serializers
from suppliers.api.permissions import PortfolioAccess, caller_organization
from suppliers.models import Company, Organization, Requirement, Sourcing


class CompanyViewSet(PlainRowsListMixin, ServiceModelViewSet):
    queryset = Company.objects.all()
    permission_classes = [ReferenceAccess]
    throttle_scope = "reference"
    services_module = services
    output_serializer_class = serializers.CompanyOutputSerializer
    input_serializer_class = serializers.CompanyInputSerializer
    filterset_fields = ["hq_country", "is_fictional", "recorded_foreign_control"]
    ordering_fields = ["id", "name"]
    ordering = ["id"]


class OrganizationView(PrivateNoStore, views.APIView):
    """The organization the caller acts for (the session's membership, or the token's binding)."""

    permission_classes = [PortfolioAccess]
    throttle_scope = "portfolio"

    @extend_schema(responses=serializers.OrganizationOutputSerializer)
    def get(self, request: Request) -> Response:
        return Response(serializers.OrganizationOutputSerializer(caller_organization(request)).data)


class PortfolioViewSet(PlainRowsListMixin, PrivateNoStore, ServiceModelViewSet):
    # Each subclass sets a QuerySet of its model (the stubs also allow a Manager or None).
    queryset: QuerySet[Any]
    permission_classes = [PortfolioAccess]
    throttle_scope = "portfolio"
    services_module = services
    ordering_fields = ["id"]
    ordering = ["id"]

    def organization(self) -> Organization:
        organization = caller_organization(self.request)
        assert organization is not None  # PortfolioAccess refused callers without one
        return organization

    def get_queryset(self) -> QuerySet[Any]:
        if getattr(self, "swagger_fake_view", False):  # schema generation: no caller
            return self.queryset.none()
        return self.queryset.filter(organization=self.organization())

    def new_instance(self) -> Any:
        return self.queryset.model(organization=self.organization())


class RequirementViewSet(PortfolioViewSet):
    queryset = Requirement.objects.select_related("organization", "mineral")
    output_serializer_class = serializers.RequirementOutputSerializer
    input_serializer_class = serializers.RequirementInputSerializer
    filterset_fields = {"mineral__slug": ["exact"]}


class SourcingViewSet(PortfolioViewSet):
    queryset = Sourcing.objects.select_related("organization", "mineral", "facility")
    output_serializer_class = serializers.SourcingOutputSerializer
    input_serializer_class = serializers.SourcingInputSerializer
    filterset_fields = {"mineral__slug": ["exact"], "country": ["exact"]}

    @bulk_schema(
        serializers.SourcingBulkRowSerializer,
        {"mineral": "gallium", "country": "JPN", "annual_quantity": 400, "notes": "spot purchases"},
    )
    @action(detail=False, methods=["post"])
    def bulk(self, request: Request) -> Response:
        organization = self.organization()

        def upsert(*, rows: Any, user: Any) -> Any:
            return portfolio_services.sourcing_bulk_upsert(organization=organization, rows=rows, user=user)

        return _bulk_answer(request, upsert)
