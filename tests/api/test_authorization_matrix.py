"""Every route and method of /api/v1/ against every role: the expected status of each.

The routes are enumerated from the URL configuration (config.api); a route or method without
an entry in EXPECTED fails the test, so a new endpoint cannot ship without its access rules.
Write requests carry an empty body: a caller that is let through gets 400 (validation), one
that is not gets 401/403/404, so the matrix checks access without depending on payloads.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from django.db import transaction
from django.urls import URLPattern, URLResolver

import config.api
from minerals.models import PolicyMeasure, ProductionRecord
from suppliers.models import Company, Facility, TransitionPlan

pytestmark = pytest.mark.django_db

ROLES = (
    "anonymous",
    "buyer_a",
    "buyer_b",
    "token_a_portfolio_read",
    "token_reference_read",
    "curator_token",
    "staff_session",
)


def _row(*statuses: int) -> dict[str, int]:
    return dict(zip(ROLES, statuses, strict=True))


#                       anon buyerA buyerB tokA-pr tok-ref curator staff
REFERENCE_READ = _row(401, 200, 200, 403, 200, 200, 200)
REFERENCE_WRITE = _row(401, 403, 403, 403, 403, 400, 400)
REFERENCE_PATCH = _row(401, 403, 403, 403, 403, 200, 200)  # an empty PATCH is a valid no-op
REFERENCE_DELETE = _row(401, 403, 403, 403, 403, 204, 204)
# Portfolio objects of organization A (buyer B sees 404: not "forbidden", simply not there).
PORTFOLIO_LIST = _row(401, 200, 200, 200, 403, 403, 403)  # staff and the curator app have no organization
PORTFOLIO_CREATE = _row(401, 400, 400, 403, 403, 403, 403)
PORTFOLIO_OBJECT_READ = _row(401, 200, 404, 200, 403, 403, 403)
PORTFOLIO_OBJECT_PUT = _row(401, 400, 404, 403, 403, 403, 403)
PORTFOLIO_OBJECT_PATCH = _row(401, 200, 404, 403, 403, 403, 403)
PORTFOLIO_OBJECT_DELETE = _row(401, 204, 404, 403, 403, 403, 403)
PUBLIC = _row(200, 200, 200, 200, 200, 200, 200)
EVENTS_READ = _row(401, 200, 200, 403, 403, 403, 200)  # sessions, or a token with events:read
# Scenarios: built-ins for every reader, organization A's own to A's members and portfolio tokens.
SCENARIO_LIST = _row(401, 200, 200, 200, 200, 200, 200)
SCENARIO_CREATE = _row(401, 400, 400, 403, 403, 403, 403)
SCENARIO_OBJECT_READ = _row(401, 200, 404, 200, 404, 404, 404)
SCENARIO_RUN = _row(401, 202, 404, 403, 403, 403, 403)
TOKEN_ENDPOINT = _row(400, 400, 400, 400, 400, 400, 400)  # an empty body: no grant_type, no client

EXPECTED: dict[tuple[str, str], dict[str, int]] = {
    **{(f"{name}-list", "GET"): REFERENCE_READ for name in
       ("country", "mineral", "commodity-code", "source", "production", "trade-flow", "policy", "company",
        "facility")},
    **{(f"{name}-detail", "GET"): REFERENCE_READ for name in
       ("country", "mineral", "commodity-code", "source", "production", "trade-flow", "policy", "company",
        "facility")},
    ("metrics", "GET"): REFERENCE_READ,
    ("alternatives", "GET"): REFERENCE_READ,
    ("production-bulk", "POST"): REFERENCE_WRITE,
    ("trade-flow-bulk", "POST"): REFERENCE_WRITE,
    **{(f"{name}-list", "POST"): REFERENCE_WRITE for name in ("policy", "company", "facility")},
    **{(f"{name}-detail", "PUT"): REFERENCE_WRITE for name in ("policy", "company", "facility")},
    **{(f"{name}-detail", "PATCH"): REFERENCE_PATCH for name in ("policy", "company", "facility")},
    **{(f"{name}-detail", "DELETE"): REFERENCE_DELETE for name in ("policy", "company", "facility")},
    ("organization", "GET"): PORTFOLIO_LIST,
    ("exposure", "GET"): PORTFOLIO_LIST,
    ("events", "GET"): EVENTS_READ,
    **{(f"{name}-list", "GET"): PORTFOLIO_LIST for name in ("requirement", "sourcing", "plan")},
    **{(f"{name}-list", "POST"): PORTFOLIO_CREATE for name in ("requirement", "sourcing")},
    ("sourcing-bulk", "POST"): PORTFOLIO_CREATE,
    **{(f"{name}-detail", "GET"): PORTFOLIO_OBJECT_READ for name in ("requirement", "sourcing", "plan")},
    **{(f"{name}-detail", "PUT"): PORTFOLIO_OBJECT_PUT for name in ("requirement", "sourcing")},
    **{(f"{name}-detail", "PATCH"): PORTFOLIO_OBJECT_PATCH for name in ("requirement", "sourcing")},
    **{(f"{name}-detail", "DELETE"): PORTFOLIO_OBJECT_DELETE for name in ("requirement", "sourcing")},
    ("scenario-list", "GET"): SCENARIO_LIST,
    ("scenario-list", "POST"): SCENARIO_CREATE,
    ("scenario-detail", "GET"): SCENARIO_OBJECT_READ,
    ("scenario-results", "GET"): SCENARIO_OBJECT_READ,
    ("scenario-run", "POST"): SCENARIO_RUN,
    ("schema", "GET"): PUBLIC,
    ("docs", "GET"): PUBLIC,
    ("oauth-token", "POST"): TOKEN_ENDPOINT,
    ("oauth-revoke", "POST"): TOKEN_ENDPOINT,
}  # fmt: skip


def _methods(pattern: URLPattern) -> set[str]:
    callback = pattern.callback
    actions = getattr(callback, "actions", None)
    if actions:  # a DRF viewset route: {"get": "list", "post": "create"}
        # DRF adds "head" (served as GET) to this shared dict on the route's first request:
        # leave it out, or the listing depends on which tests ran before in the process.
        return {m.upper() for m in actions if m != "head"}
    view_class = getattr(callback, "view_class", None) or getattr(callback, "cls", None)
    return {m.upper() for m in ("get", "post", "put", "patch", "delete") if hasattr(view_class, m)}


def api_routes() -> list[tuple[str, str]]:
    """(url name, method) of every route under /api/v1/, read from the URL configuration."""
    found: list[tuple[str, str]] = []

    def walk(patterns: list[Any]) -> None:
        for item in patterns:
            if isinstance(item, URLResolver):
                walk(item.url_patterns)
            elif isinstance(item, URLPattern):
                found.extend((item.name, method) for method in sorted(_methods(item)))

    walk(config.api.urlpatterns)
    return sorted(set(found))


def test_every_route_has_an_entry() -> None:
    routes = set(api_routes())
    assert routes - set(EXPECTED) == set(), "routes without an authorization entry"
    assert set(EXPECTED) - routes == set(), "entries for routes that no longer exist"


def _scenario_a(world: Any) -> Any:
    from scenarios import services
    from scenarios.models import Scenario

    existing = Scenario.objects.filter(organization=world.org_a).first()
    data = services.ScenarioData(
        name="A's scenario", as_of=date(2026, 1, 1), window_start=date(2027, 1, 1), window_end=date(2027, 12, 31)
    )
    return existing or services.scenario_save(data=data, organization=world.org_a)


def _url(name: str, world: Any) -> str:
    from django.urls import reverse

    company_without_facilities = Company.objects.filter(facilities__isnull=True).order_by("id").first()
    facility_without_buyers = Facility.objects.filter(buyers__isnull=True, upstream_links__isnull=True,
                                                      downstream_links__isnull=True).order_by("id").first()  # fmt: skip
    kwargs = {
        "country-detail": {"pk": "USA"},
        "mineral-detail": {"slug": "gallium"},
        "commodity-code-detail": {"hs6": "811292"},
        "source-detail": {"key": "usgs-mcs-2025"},
        "production-detail": {"pk": ProductionRecord.objects.order_by("id").first().pk},
        "trade-flow-detail": {"pk": world.trade_flow.pk},
        "policy-detail": {"key": PolicyMeasure.objects.order_by("id").first().key},
        "company-detail": {"pk": company_without_facilities.pk},
        "facility-detail": {"key": facility_without_buyers.key},
        "requirement-detail": {"pk": world.requirement_a.pk},
        "sourcing-detail": {"pk": world.sourcing_a.pk},
        **{f"scenario-{kind}": {"pk": _scenario_a(world).pk} for kind in ("detail", "results", "run")},
        "plan-detail": {"pk": TransitionPlan.objects.get_or_create(organization=world.org_a, name="Matrix plan")[0].pk},
    }.get(name, {})
    url = reverse(f"api:{name}", kwargs=kwargs)
    return url + "?mineral=gallium" if name in ("metrics", "alternatives") else url


@pytest.mark.parametrize(("name", "method"), api_routes(), ids=lambda v: str(v))
def test_status_per_role(world: Any, name: str, method: str) -> None:
    expected = EXPECTED[(name, method)]
    url = _url(name, world)
    seen = {}
    for role in ROLES:
        client = world.clients[role]
        # Each role starts from the same data: a DELETE by one role is rolled back for the next.
        with transaction.atomic():
            sid = transaction.savepoint()
            response = getattr(client, method.lower())(url, data={} if method != "GET" else None, format="json")
            transaction.savepoint_rollback(sid)
        seen[role] = response.status_code
    assert seen == expected, f"{method} {url}"
