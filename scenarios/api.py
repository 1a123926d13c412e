"""/api/v1/scenarios/: list, create, read, run and results.

Who: an organization's scenarios with the portfolio scopes (`portfolio:read` to read,
`portfolio:write` or an analyst/admin session to create and run); the built-in ones also with
`reference:read` (read only). Another organization's scenario answers 404.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request
from rest_framework.response import Response

from minerals.api.fields import PrimaryKeyRelatedField, SlugRelatedField
from minerals.api.permissions import REFERENCE_READ, request_token, token_has_scope
from minerals.api.views import PrivateNoStore
from minerals.models import Country, MeasureType, Mineral, PolicyMeasure
from scenarios import selectors, services
from scenarios.models import PolicyShock, Scenario, ScenarioRun, SupplyShock
from suppliers.api.permissions import PORTFOLIO_READ, PORTFOLIO_WRITE, WRITER_ROLES, caller_membership
from suppliers.models import Facility, Organization


def _portfolio_organization(request: Request) -> Organization | None:
    """The caller's organization when it may read portfolio data (session member, or a token
    with `portfolio:read` or `portfolio:write`); else None (built-ins only)."""
    organization, _role = caller_membership(request)
    token = request_token(request)
    if token is not None and not (token_has_scope(token, PORTFOLIO_READ) or token_has_scope(token, PORTFOLIO_WRITE)):
        return None
    return organization


class ScenarioAccess(BasePermission):
    scopes = (f"{PORTFOLIO_READ} or {REFERENCE_READ}", PORTFOLIO_WRITE)  # (read, write)

    def has_permission(self, request: Request, view: Any) -> bool:
        token = request_token(request)
        if token is None and not (request.user and request.user.is_authenticated):
            return False
        organization, role = caller_membership(request)
        if request.method in SAFE_METHODS:
            if token is None:
                return True
            return token_has_scope(token, REFERENCE_READ) or (
                organization is not None and token_has_scope(token, PORTFOLIO_READ)
            )
        if organization is None:
            return False
        if token is not None:
            return token_has_scope(token, PORTFOLIO_WRITE)
        return role in WRITER_ROLES


class PolicyShockSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=PolicyShock.Kind.choices)
    measure = SlugRelatedField(slug_field="key", queryset=PolicyMeasure.objects.all(), required=False, allow_null=True)
    issuer = PrimaryKeyRelatedField(queryset=Country.objects.all(), required=False, allow_null=True)
    on = serializers.DateField(required=False, allow_null=True)
    until = serializers.DateField(required=False, allow_null=True)
    measure_type = serializers.ChoiceField(choices=MeasureType.choices, required=False, allow_blank=True)
    minerals = SlugRelatedField(slug_field="slug", queryset=Mineral.objects.all(), many=True, required=False)
    targets = PrimaryKeyRelatedField(queryset=Country.objects.all(), many=True, required=False)


class SupplyShockSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=SupplyShock.Kind.choices)
    mineral = SlugRelatedField(slug_field="slug", queryset=Mineral.objects.all(), required=False, allow_null=True)
    country = PrimaryKeyRelatedField(queryset=Country.objects.all(), required=False, allow_null=True)
    cut_percent = serializers.FloatField(required=False, allow_null=True, min_value=0, max_value=100)
    facility = SlugRelatedField(slug_field="key", queryset=Facility.objects.all(), required=False, allow_null=True)
    delay_years = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=50)


class DemandShockSerializer(serializers.Serializer):
    mineral = SlugRelatedField(slug_field="slug", queryset=Mineral.objects.all())
    change_percent = serializers.FloatField(min_value=-100, max_value=1000)


class RunSerializer(serializers.ModelSerializer):
    class Meta:
        model = ScenarioRun
        fields = ["id", "status", "progress", "data_version", "requested_at", "started_at", "finished_at", "error"]


class ScenarioSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    key = serializers.CharField(read_only=True)
    builtin = serializers.BooleanField(source="is_builtin", read_only=True)
    name = serializers.CharField(max_length=200)
    assumptions = serializers.CharField(required=False, allow_blank=True, default="")
    as_of = serializers.DateField()
    window_start = serializers.DateField()
    window_end = serializers.DateField()
    licence_approval_rate = serializers.FloatField(required=False, allow_null=True, min_value=0, max_value=1)
    policy_shocks = PolicyShockSerializer(many=True, required=False)
    supply_shocks = SupplyShockSerializer(many=True, required=False)
    demand_shocks = DemandShockSerializer(many=True, required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["window_end"] < attrs["window_start"]:
            raise serializers.ValidationError({"window_end": "The window ends before it starts."})
        return attrs

    def scenario_data(self) -> services.ScenarioData:
        d = self.validated_data
        return services.scenario_data(
            d, d.get("policy_shocks", []), d.get("supply_shocks", []), d.get("demand_shocks", [])
        )


class ResultsSerializer(serializers.Serializer):
    run = RunSerializer(allow_null=True)
    current = serializers.BooleanField()
    minerals = serializers.ListField(child=serializers.DictField())
    buyer = serializers.ListField(child=serializers.DictField())


class ScenarioViewSet(
    PrivateNoStore, mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, viewsets.GenericViewSet
):
    """Scenarios: the built-in ones and the caller's organization's."""

    permission_classes = [ScenarioAccess]
    throttle_scope = "portfolio"
    serializer_class = ScenarioSerializer
    queryset = Scenario.objects.all()  # the model, for the schema; rows: get_queryset

    def get_queryset(self) -> QuerySet[Scenario]:
        if getattr(self, "swagger_fake_view", False):
            return Scenario.objects.none()
        return selectors.visible_scenarios(_portfolio_organization(self.request)).prefetch_related(
            "policy_shocks__minerals", "policy_shocks__targets", "policy_shocks__measure", "supply_shocks__mineral",
            "supply_shocks__facility", "demand_shocks__mineral",
        )  # fmt: skip

    def perform_create(self, serializer: Any) -> None:
        organization, _role = caller_membership(self.request)
        serializer.instance = services.scenario_save(
            data=serializer.scenario_data(), organization=organization, user=self.request.user
        )

    @extend_schema(request=None, responses={202: RunSerializer})
    @action(detail=True, methods=["post"])
    def run(self, request: Request, pk: str | None = None) -> Response:
        """Run the scenario on the current data (the stored result when it already did)."""
        run = services.scenario_run_request(scenario=self.get_object())
        return Response(RunSerializer(run).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(responses=ResultsSerializer)
    @action(detail=True, methods=["get"])
    def results(self, request: Request, pk: str | None = None) -> Response:
        """The latest finished result: per mineral, and the caller's organization's volumes."""
        scenario = self.get_object()
        done = selectors.latest_done_run(scenario)
        return Response(
            {
                "run": RunSerializer(done).data if done else None,
                "current": done is not None and done.data_version == selectors.data_version(scenario),
                "minerals": done.minerals if done else [],
                "buyer": selectors.buyer_result(done, _portfolio_organization(request)),
            }
        )
