"""/api/v1/: the REST API for partner systems (issue #6). Wiring only; views live in the apps.

Reference data: minerals.api (and companies from suppliers.api, facilities and metrics from
dashboards.api); the caller's portfolio: suppliers.api and dashboards.api (exposure).
Tokens: OAuth2 client credentials from django-oauth-toolkit's token view (other grants refused
with 400, minerals.api.views) and its own revoke view.
"""

from typing import Any

from django.http import HttpRequest, JsonResponse
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from oauth2_provider import views as oauth2_views
from rest_framework.routers import DefaultRouter

from alerts.api import EventListView
from dashboards.api.views import AlternativesView, ExposureView, FacilityViewSet, MetricsView, PlanViewSet
from minerals.api import views as reference
from scenarios.api import ScenarioViewSet
from suppliers.api import views as portfolio

app_name = "api"


def not_found(request: HttpRequest, *args: object) -> JsonResponse:
    """Anything else under /api/v1/ answers JSON, like the API's own 404s (not Django's HTML page)."""
    return JsonResponse({"detail": "Not found."}, status=404)


class ApiRouter(DefaultRouter):
    include_root_view = False  # the schema and docs are the index
    include_format_suffixes = False  # ?format=csv|xlsx instead of suffixed routes

    def get_lookup_regex(self, viewset: Any, lookup_prefix: str = "") -> str:
        # Any key without a slash (DRF's default also refuses dots): a bad key answers the view's 404.
        # No NUL either: PostgreSQL text cannot hold one, so the lookup query would fail (a 500).
        field = getattr(viewset, "lookup_field", "pk")
        return f"(?P<{lookup_prefix}{field}>[^/\x00]+)"


router = ApiRouter(trailing_slash=True)
router.register("countries", reference.CountryViewSet, basename="country")
router.register("minerals", reference.MineralViewSet, basename="mineral")
router.register("commodity-codes", reference.CommodityCodeViewSet, basename="commodity-code")
router.register("sources", reference.DataSourceViewSet, basename="source")
router.register("production", reference.ProductionViewSet, basename="production")
router.register("trade-flows", reference.TradeFlowViewSet, basename="trade-flow")
router.register("policies", reference.PolicyMeasureViewSet, basename="policy")
router.register("companies", portfolio.CompanyViewSet, basename="company")
router.register("facilities", FacilityViewSet, basename="facility")
router.register("requirements", portfolio.RequirementViewSet, basename="requirement")
router.register("sourcing", portfolio.SourcingViewSet, basename="sourcing")
router.register("scenarios", ScenarioViewSet, basename="scenario")
router.register("plans", PlanViewSet, basename="plan")

urlpatterns = [
    path("", include(router.urls)),
    path("metrics/", MetricsView.as_view(), name="metrics"),
    path("organization/", portfolio.OrganizationView.as_view(), name="organization"),
    path("exposure/", ExposureView.as_view(), name="exposure"),
    path("alternatives/", AlternativesView.as_view(), name="alternatives"),
    path("events/", EventListView.as_view(), name="events"),
    path("oauth/token/", reference.ClientCredentialsTokenView.as_view(), name="oauth-token"),
    path("oauth/revoke/", oauth2_views.RevokeTokenView.as_view(), name="oauth-revoke"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves Swagger UI's initializer as a separate script: no inline script (CSP).
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api:schema"), name="docs"),
    re_path(r"^.*$", not_found),
]
