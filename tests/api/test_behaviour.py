"""Isolation, read-only ownership, exports, throttling, CSRF, tokens, filters and the docs page."""

from __future__ import annotations

import io
import re
from datetime import date, timedelta
from typing import Any

import pytest
from django.utils import timezone
from oauth2_provider.models import AccessToken
from rest_framework.test import APIClient

from dashboards import risk
from dashboards.inputs import policy_measures
from minerals.models import PolicyMeasure
from suppliers.models import Facility, Requirement
from tests.api.conftest import bearer, client_credentials_token, make_application, make_token

pytestmark = pytest.mark.django_db


# ------------------------------------------------------------------ isolation and ownership


def test_other_organizations_rows_are_invisible(world: Any) -> None:
    b = world.clients["buyer_b"]
    assert b.get(f"/api/v1/requirements/{world.requirement_a.pk}/").status_code == 404
    assert b.patch(f"/api/v1/sourcing/{world.sourcing_a.pk}/", {"notes": "x"}, format="json").status_code == 404
    assert b.delete(f"/api/v1/requirements/{world.requirement_a.pk}/").status_code == 404
    filtered = b.get("/api/v1/requirements/", {"mineral__slug": world.requirement_a.mineral.slug}).json()["results"]
    assert filtered == []  # A has this requirement; a filter on it shows B nothing
    listed = b.get("/api/v1/requirements/").json()["results"]
    assert [r["organization"] for r in listed] == ["other-buyer"]
    assert b.get("/api/v1/sourcing/").json()["results"] == []
    assert b.get("/api/v1/exposure/").json() == []
    assert b.get("/api/v1/organization/").json()["slug"] == "other-buyer"
    a_rows = world.clients["token_a_portfolio_read"].get("/api/v1/requirements/").json()["results"]
    assert a_rows
    assert {r["organization"] for r in a_rows} == {world.org_a.slug}


def test_organization_comes_from_the_caller_never_the_body(world: Any) -> None:
    client = world.clients["buyer_b"]
    response = client.post(
        "/api/v1/requirements/",
        {"mineral": "tungsten", "annual_quantity": 3, "unit": "t", "organization": world.org_a.slug},
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert response.json()["organization"] == "other-buyer"
    assert Requirement.objects.get(pk=response.json()["id"]).organization == world.org_b
    patched = client.patch(
        f"/api/v1/requirements/{response.json()['id']}/", {"organization": world.org_a.slug}, format="json"
    )
    assert patched.json()["organization"] == "other-buyer"


def test_a_viewer_reads_but_does_not_write(world: Any, django_user_model: Any) -> None:
    from suppliers.models import Membership

    viewer = django_user_model.objects.create_user("viewer-a")
    Membership.objects.create(user=viewer, organization=world.org_a, role=Membership.Role.VIEWER)
    client = APIClient()
    client.force_login(viewer)
    assert client.get("/api/v1/requirements/").status_code == 200
    assert client.post("/api/v1/requirements/", {}, format="json").status_code == 403


# ------------------------------------------------------------------ tokens


def test_client_credentials_token_from_the_token_endpoint(world: Any, settings: Any, monkeypatch: Any) -> None:
    from minerals.api import authentication

    now = [1000.0]
    monkeypatch.setattr(authentication, "_clock", lambda: now[0])
    settings.LODESTONE_API_TOKEN_CACHE_SECONDS = 10
    secret = "s3cret-for-the-endpoint-test"
    app = make_application(name="endpoint-test", organization=world.org_a)
    app.client_secret = secret
    app.save()
    response = client_credentials_token(app.client_id, secret)
    assert response.status_code == 200, response.content
    token = response.json()
    assert token["token_type"] == "Bearer"
    assert token["expires_in"] > 0
    assert token["scope"] == "portfolio:read"
    client = bearer(token["access_token"])
    assert client.get("/api/v1/exposure/").status_code == 200
    # Revoked in the admin (the token row deleted): refused once the process's copy is
    # LODESTONE_API_TOKEN_CACHE_SECONDS old (docs/api.md; at once with 0).
    AccessToken.objects.filter(application=app).delete()
    now[0] += 10
    assert client.get("/api/v1/exposure/").status_code == 401


def test_expired_token_is_refused_with_a_bearer_challenge(world: Any) -> None:
    client = bearer(make_token(world.app_a, "portfolio:read", expires_in=-5))
    response = client.get("/api/v1/exposure/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_portfolio_scope_needs_a_bound_application(world: Any) -> None:
    unbound = make_application(name="unbound")
    assert bearer(make_token(unbound, "portfolio:read")).get("/api/v1/requirements/").status_code == 403


def test_reference_write_needs_a_staff_owner(world: Any, django_user_model: Any) -> None:
    owner = django_user_model.objects.create_user("not-staff")
    app = make_application(name="not-a-curator", owner=owner)
    client = bearer(make_token(app, "reference:read reference:write"))
    body = {"name": "Some Mining Co", "hq_country": "AUS"}
    assert client.post("/api/v1/companies/", body, format="json").status_code == 403
    created = world.clients["curator_token"].post("/api/v1/companies/", body, format="json")
    assert created.status_code == 201
    # Written through the services: history records the application's owner.
    from suppliers.models import Company

    company = Company.objects.get(name="Some Mining Co")
    assert company.history.first().history_user == world.app_curator.user


def test_session_writes_need_the_csrf_token(world: Any) -> None:
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(world.buyer_a)
    response = client.post("/api/v1/requirements/", {"mineral": "tungsten", "annual_quantity": 1}, format="json")
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]


# ------------------------------------------------------------------ exports


def test_csv_and_xlsx_escape_formula_cells(world: Any) -> None:
    from openpyxl import load_workbook

    curator = world.clients["curator_token"]
    evil = '=HYPERLINK("http://evil.example","x")'
    assert curator.post("/api/v1/companies/", {"name": evil, "hq_country": "USA"}, format="json").status_code == 201
    assert curator.post("/api/v1/companies/", {"name": "@SUM(1)", "hq_country": "USA", "notes": "-2+3"},
                        format="json").status_code == 201  # fmt: skip
    csv_body = curator.get("/api/v1/companies/?format=csv&page_size=1000").content.decode()
    assert "\n'=HYPERLINK(" in csv_body or ",'=HYPERLINK(" in csv_body or "\"'=HYPERLINK(" in csv_body
    assert "'@SUM(1)" in csv_body
    assert "'-2+3" in csv_body
    assert not re.search(r"(^|,)=HYPERLINK", csv_body, re.MULTILINE)
    xlsx = curator.get("/api/v1/companies/?format=xlsx&page_size=1000")
    assert xlsx["Content-Type"].startswith("application/vnd.openxmlformats")
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    names = [row[1] for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert "'" + evil in names
    assert evil not in names


def test_csv_pages_link_to_the_next(world: Any) -> None:
    response = world.clients["buyer_a"].get("/api/v1/countries/?format=csv&page_size=5")
    assert response.status_code == 200
    assert response.content.decode().count("\n") == 6  # header + 5 rows
    assert 'rel="next"' in response["Link"]


# ------------------------------------------------------------------ throttling


def test_throttle_answers_429_with_retry_after(world: Any, settings: Any) -> None:
    settings.LODESTONE_API_THROTTLE_RATES = {**settings.LODESTONE_API_THROTTLE_RATES, "reference": "3/min"}
    client = world.clients["token_reference_read"]
    statuses = [client.get("/api/v1/minerals/").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    refused = client.get("/api/v1/minerals/")
    assert int(refused["Retry-After"]) > 0
    # Per caller and per scope: another caller, and the metrics scope, are not limited.
    assert world.clients["curator_token"].get("/api/v1/minerals/").status_code == 200
    assert client.get("/api/v1/metrics/?mineral=gallium").status_code == 200


def test_the_window_counter_on_redis_counts_and_expires_with_its_window(redis_url: str) -> None:
    """One command a call (minerals.api.throttles.window_count): the count, and the expiry set
    on the window's first call only, so a counter never outlives its window."""
    import secrets

    from config.cache import KeptClientRedisCache
    from minerals.api.throttles import window_count

    cache = KeptClientRedisCache(redis_url, {"KEY_PREFIX": f"window-{secrets.token_hex(4)}"})
    key = "lodestone:throttle:reference:app1:1"
    assert [window_count(cache, key, 61) for _ in range(3)] == [1, 2, 3]
    client = cache._cache.get_client(write=True)
    full = cache.make_and_validate_key(key)
    assert 0 < client.ttl(full) <= 61
    client.expire(full, 5)
    assert window_count(cache, key, 61) == 4
    assert client.ttl(full) <= 5  # later calls leave the window's expiry alone
    client.script_flush()  # the server lost the script (a restart): loaded again, still one count
    assert window_count(cache, key, 61) == 5
    client.delete(full)


# ------------------------------------------------------------------ filters


@pytest.mark.parametrize("day", ["2023-07-31", "2023-08-01", "2024-12-03", "2025-11-10", "2026-11-30"])
def test_in_force_filter_agrees_with_the_risk_engine(world: Any, day: str) -> None:
    as_of = date.fromisoformat(day)
    measures = policy_measures()  # the risk engine's view: measures naming a mineral
    expected = {m.key for m in measures if risk.in_force(m, as_of)}
    rows = world.clients["buyer_a"].get("/api/v1/policies/", {"in_force_on": day, "page_size": 1000}).json()
    assert {r["key"] for r in rows["results"]} & {m.key for m in measures} == expected


def test_policy_filters_target_mineral_issuer(world: Any) -> None:
    client = world.clients["buyer_a"]
    rows = client.get("/api/v1/policies/", {"target": "USA", "mineral": "gallium", "issuer": "CHN"}).json()["results"]
    assert rows
    for row in rows:
        assert "gallium" in row["minerals"]
        assert row["issuer"] == "CHN"
        assert row["targets"] == [] or "USA" in row["targets"]
    keys = set(PolicyMeasure.objects.filter(issuer_id="CHN", minerals__slug="gallium").values_list("key", flat=True))
    assert {r["key"] for r in rows} <= keys


def test_facility_filters_and_china_control(world: Any) -> None:
    client = world.clients["buyer_a"]
    controlled = client.get("/api/v1/facilities/", {"china_controlled": "true", "page_size": 1000}).json()["results"]
    keys = {r["key"] for r in controlled}
    assert "tenke-fungurume" in keys  # COD, 80 % owned by CMOC Group (CHN): FEOC rule, not location
    assert all(r["china_controlled"] for r in controlled)
    free = client.get("/api/v1/facilities/", {"china_controlled": "false", "page_size": 1000}).json()["results"]
    assert "mountain-pass-mine" in {r["key"] for r in free}
    assert len(keys) + len(free) == Facility.objects.count()
    mines = client.get("/api/v1/facilities/", {"mineral": "rare-earths", "stage": "mine", "country": "USA",
                                               "status": "operating"}).json()["results"]  # fmt: skip
    assert [r["key"] for r in mines] == ["mountain-pass-mine"]


def test_cursor_pages_cover_every_row_once(world: Any) -> None:
    client = world.clients["buyer_a"]
    seen: list[str] = []
    url: str | None = "/api/v1/countries/?page_size=40"
    while url:
        page = client.get(url).json()
        seen += [c["iso3"] for c in page["results"]]
        url = page["next"]
    assert len(seen) == len(set(seen)) > 200
    assert client.get("/api/v1/countries/?page_size=5000").json()["results"].__len__() <= 1000


# ------------------------------------------------------------------ documentation


def test_swagger_ui_from_static_files_without_inline_script(world: Any) -> None:
    response = APIClient().get("/api/v1/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "script-src 'self'" in response["Content-Security-Policy"]
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", html, re.DOTALL)
    assert scripts
    assert all("src=" in attrs and not body.strip() for attrs, body in scripts)
    assert "cdn" not in html.lower()
    init = re.search(r'<script src="([^"]*script[^"]*)"', html).group(1).replace("&amp;", "&")
    js = APIClient().get(init)
    assert js.status_code == 200
    assert js["Content-Type"].startswith("application/javascript")
    assert "/api/v1/schema/" in js.content.decode()


def test_schema_documents_error_responses_for_every_operation(world: Any) -> None:
    schema = APIClient().get("/api/v1/schema/?format=json").json()
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            missing = {"400", "401", "403", "404", "429"} - set(operation["responses"])
            assert not missing, f"{method.upper()} {path} lacks {missing}"


def test_tokens_expire(world: Any) -> None:
    token = AccessToken.objects.filter(application=world.app_a).first()
    assert token.expires <= timezone.now() + timedelta(hours=1, seconds=5)


def test_xlsx_replaces_control_characters_a_worksheet_cannot_hold(world: Any) -> None:
    # A company named with a control character (0x1B) made openpyxl refuse the sheet: a 500.
    from openpyxl import load_workbook

    curator = world.clients["curator_token"]
    name = "Escape\x1b Metals (fictional)"
    assert curator.post("/api/v1/companies/", {"name": name, "hq_country": "USA"}, format="json").status_code == 201
    xlsx = curator.get("/api/v1/companies/?format=xlsx&page_size=1000")
    assert xlsx.status_code == 200
    names = [row[1] for row in load_workbook(io.BytesIO(xlsx.content)).active.iter_rows(min_row=2, values_only=True)]
    assert "Escape\ufffd Metals (fictional)" in names
