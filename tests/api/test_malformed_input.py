"""Malformed input answers 4xx, never 5xx (issue 16, probing 9), and what the probing found
to hold stays covered: tampered and revoked tokens are refused.

NUL bytes matter on PostgreSQL (text cannot hold them; the query fails) and pass unnoticed on
SQLite: run this module with DATABASE_URL too.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import URLPattern, URLResolver, reverse
from rest_framework.test import APIClient

import config.api
from tests.api.conftest import bearer, make_token

pytestmark = pytest.mark.django_db

ROLES = ("buyer_a", "staff_session", "curator_token", "token_a_portfolio_read")


def _detail_routes() -> list[tuple[str, str]]:
    """(url name, lookup kwarg) of every detail route of the API's router."""
    found = []
    for item in config.api.urlpatterns:
        if isinstance(item, URLResolver):
            for pattern in item.url_patterns:
                if isinstance(pattern, URLPattern) and pattern.name and pattern.name.endswith("-detail"):
                    (kwarg,) = pattern.pattern.regex.groupindex
                    found.append((pattern.name, kwarg))
    return sorted(found)


DETAIL_ROUTES = _detail_routes()


def test_the_router_has_detail_routes() -> None:
    assert len(DETAIL_ROUTES) >= 10


@pytest.mark.parametrize(("name", "kwarg"), DETAIL_ROUTES, ids=[n for n, _ in DETAIL_ROUTES])
def test_a_nul_byte_in_a_lookup_is_not_found(world: Any, name: str, kwarg: str) -> None:
    url = reverse(f"api:{name}", kwargs={kwarg: "gal-lium"}).replace("gal-lium", "gal%00lium")
    for role in ROLES:
        response = world.clients[role].get(url)
        assert response.status_code == 404, (role, url, response.status_code)
        assert response["Content-Type"].startswith("application/json")


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/production/?mineral=gal%00lium",
        "/api/v1/trade-flows/?exporter=CH%00N&commodity_code=81%0012",
        "/api/v1/countries/?iso3=CH%00N&ordering=%00",
        "/api/v1/policies/?mineral=ga%00&issuer=%00&in_force_on=%00",
        "/api/v1/facilities/?mineral=ga%00&country=%00",
        "/api/v1/companies/?hq_country=CH%00N",
        "/api/v1/metrics/?mineral=gal%00lium",
        "/api/v1/exposure/?mineral=ga%00",
        "/api/v1/requirements/?mineral__slug=ga%00",
        "/api/v1/sourcing/?cursor=%00",
        "/api/v1/countries/?format=%00",
    ],
)
def test_a_nul_byte_in_a_query_parameter_is_no_server_error(world: Any, url: str) -> None:
    for role in ROLES:
        response = world.clients[role].get(url)
        assert response.status_code < 500, (role, url, response.status_code)


# A natural key (a related row named by its slug, ISO code or name) with a NUL in a JSON body: the
# lookup's query failed on PostgreSQL, a 500 (found by test_schema_fuzz.py on POST sourcing/ and
# companies/); every app's serializers name related rows with minerals.api.fields' related fields.
SCENARIO = {"name": "NUL (fictional)", "as_of": "2026-01-01", "window_start": "2027-01-01", "window_end": "2027-12-31"}
NAMED_BY_KEY = [
    ("buyer_a", "/api/v1/sourcing/", {"mineral": "ga\x00llium", "annual_quantity": 1}, "mineral"),
    ("buyer_a", "/api/v1/requirements/", {"mineral": "ga\x00llium", "annual_quantity": 1, "unit": "t"}, "mineral"),
    ("curator_token", "/api/v1/companies/", {"name": "NUL Ltd (fictional)", "hq_country": "CH\x00N"}, "hq_country"),
    ("curator_token", "/api/v1/policies/", {"key": "nul", "minerals": ["ga\x00llium"]}, "minerals"),
    # A country named by its primary key (ISO3, text) in a scenario's shocks: the same lookup.
    (
        "buyer_a",
        "/api/v1/scenarios/",
        {**SCENARIO, "policy_shocks": [{"kind": "new", "issuer": "CH\x00N"}]},
        "policy_shocks",
    ),
    (
        "buyer_a",
        "/api/v1/scenarios/",
        {**SCENARIO, "policy_shocks": [{"kind": "new", "targets": ["U\x00A"]}]},
        "policy_shocks",
    ),
    (
        "buyer_a",
        "/api/v1/scenarios/",
        {**SCENARIO, "supply_shocks": [{"kind": "country_output", "country": "A\x00S"}]},
        "supply_shocks",
    ),
]


@pytest.mark.parametrize(("role", "url", "body", "field"), NAMED_BY_KEY)
def test_a_nul_byte_in_a_natural_key_is_a_bad_request(world: Any, role: str, url: str, body: Any, field: str) -> None:
    response = world.clients[role].post(url, body, format="json")
    assert response.status_code == 400, response.content[:300]
    assert "Null characters are not allowed." in str(response.json()[field])


NESTED = "[" * 100_000 + "]" * 100_000
WRITES = [
    ("curator_token", "post", "/api/v1/production/bulk/"),
    ("curator_token", "post", "/api/v1/policies/"),
    ("buyer_a", "post", "/api/v1/sourcing/bulk/"),
    ("buyer_a", "post", "/api/v1/requirements/"),
    ("buyer_a", "put", "/api/v1/requirements/{pk}/"),
]


@pytest.mark.parametrize(("role", "method", "url"), WRITES)
def test_deeply_nested_json_is_a_bad_request(world: Any, role: str, method: str, url: str) -> None:
    client = world.clients[role]
    response = getattr(client, method)(url.format(pk=world.requirement_a.pk), NESTED, content_type="application/json")
    assert response.status_code == 400, response.content[:300]
    assert "nested" in response.json()["detail"]
    # Just under the parser's limit: parsed, then refused as invalid rows or fields (still no 5xx).
    for depth in (900, 990):
        body = '{"a":' * depth + "1" + "}" * depth
        response = getattr(client, method)(url.format(pk=world.requirement_a.pk), body, content_type="application/json")
        assert response.status_code == 400, (depth, response.content[:300])


@pytest.mark.parametrize(
    ("role", "url"), [("curator_token", "/api/v1/production/bulk/"), ("buyer_a", "/api/v1/sourcing/bulk/")]
)
def test_a_csv_cell_over_one_megabyte_is_a_bad_request(world: Any, role: str, url: str) -> None:
    body = "mineral,stage,country\n" + "x" * 1_100_000 + ",refinery,CHN\n"
    client = world.clients[role]
    response = client.post(url, body, content_type="text/csv")
    assert response.status_code == 400, response.content[:300]
    assert "field larger than field limit" in response.json()["detail"]
    upload = client.post(url, {"file": _file("rows.csv", body)}, format="multipart")
    assert upload.status_code == 400, upload.content[:300]


def _file(name: str, text: str) -> Any:
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, text.encode(), content_type="text/csv")


TOKEN_URL = "/api/v1/oauth/token/"


@pytest.mark.parametrize(
    "data",
    [
        {"grant_type": "urn:ietf:params:oauth:grant-type:device_code"},
        {"grant_type": "urn:ietf:params:oauth:grant-type:device_code", "device_code": "abc"},
        {"grant_type": "urn:ietf:params:oauth:grant-type:device_code", "device_code": "a\x00b"},
        {"grant_type": "password", "username": "buyer-a", "password": "x"},
        {"grant_type": "authorization_code", "code": "abc"},
        {"grant_type": "refresh_token", "refresh_token": "abc"},
        {"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": "x"},
        {"grant_type": "\x00"},
        {},
    ],
    ids=["device-code", "device-code-with-code", "device-code-nul", "password", "authorization-code",
         "refresh-token", "jwt-bearer", "nul", "none"],
)  # fmt: skip
def test_unsupported_grants_are_a_bad_request(world: Any, data: dict[str, str]) -> None:
    from django.test import Client

    response = Client(raise_request_exception=False).post(TOKEN_URL, data)
    assert response.status_code == 400, response.content[:300]
    assert response.json()["error"] in {"unsupported_grant_type", "invalid_request"}


def _basic(client_id: str, secret: str) -> str:
    import base64

    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def test_a_tampered_token_is_refused(world: Any) -> None:
    raw = make_token(world.app_a, "portfolio:read")
    assert bearer(raw).get("/api/v1/requirements/").status_code == 200
    tampered = raw[:-1] + ("A" if raw[-1] != "A" else "B")
    for token in (tampered, raw + "x", raw[:-4], raw.upper(), raw + "\x00"):
        response = bearer(token).get("/api/v1/requirements/")
        assert response.status_code == 401, token


def test_a_token_revoked_at_the_revoke_endpoint_is_refused(world: Any, settings: Any, monkeypatch: Any) -> None:
    from minerals.api import authentication

    now = [1000.0]
    monkeypatch.setattr(authentication, "_clock", lambda: now[0])
    settings.LODESTONE_API_TOKEN_CACHE_SECONDS = 10
    raw = make_token(world.app_a, "portfolio:read portfolio:write")
    assert bearer(raw).get("/api/v1/requirements/").status_code == 200
    response = APIClient().post(
        "/api/v1/oauth/revoke/",
        f"token={raw}",
        content_type="application/x-www-form-urlencoded",
        HTTP_AUTHORIZATION=_basic(world.app_a.client_id, "secret-partner-a"),
    )
    assert response.status_code == 200, response.content
    # A write checks the token in the database at once; a read once the process's copy is 10 s old
    # (LODESTONE_API_TOKEN_CACHE_SECONDS, docs/api.md).
    assert bearer(raw).post("/api/v1/requirements/", {}, format="json").status_code == 401
    now[0] += 10
    assert bearer(raw).get("/api/v1/requirements/").status_code == 401


@pytest.mark.parametrize(
    ("role", "url"),
    [
        ("curator_token", "/api/v1/production/bulk/"),
        ("curator_token", "/api/v1/trade-flows/bulk/"),
        ("buyer_a", "/api/v1/sourcing/bulk/"),
    ],
)
def test_a_bulk_body_that_is_not_json_answers_like_invalid_rows(world: Any, role: str, url: str) -> None:
    # The token authentication reads the body before the view does (found by the schema fuzz):
    # the answer keeps the documented BulkRejected shape either way.
    response = world.clients[role].generic("POST", url, "nope", content_type="application/json")
    assert response.status_code == 400
    body = response.json()
    assert body["rows"] == 0
    assert body["errors"] == []
    assert "JSON parse error" in body["detail"]
