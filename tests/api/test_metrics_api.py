"""/api/v1/metrics/: the numbers of `show_metrics --json`, and conditional GET for pollers."""

from __future__ import annotations

import json
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from minerals import services as reference
from minerals.models import Mineral

pytestmark = pytest.mark.django_db

AS_OF = "2026-11-30"


def _without_clock(value: Any) -> Any:
    """Drop `age_seconds`: it moves with the clock between the two reads."""
    if isinstance(value, dict):
        return {k: _without_clock(v) for k, v in value.items() if k != "age_seconds"}
    if isinstance(value, list):
        return [_without_clock(v) for v in value]
    return value


@pytest.mark.parametrize("slug", ["gallium", "germanium", "rare-earths", "graphite-natural"])
def test_same_numbers_as_show_metrics_json(world: Any, slug: str) -> None:
    out = StringIO()
    call_command("show_metrics", "--mineral", slug, "--as-of", AS_OF, "--json", stdout=out)
    expected = json.loads(out.getvalue())
    response = world.clients["token_reference_read"].get("/api/v1/metrics/", {"mineral": slug, "as_of": AS_OF})
    assert response.status_code == 200
    assert _without_clock(response.json()) == _without_clock(expected)
    assert expected["supply"], "the demo has supply metrics for this mineral"


def test_gallium_2024_china_share_through_the_api(world: Any) -> None:
    body = world.clients["buyer_a"].get("/api/v1/metrics/?mineral=gallium&stage=refinery&year=2024").json()
    (row,) = body["supply"]
    assert round(row["china_share"], 3) == 0.987
    assert row["sources"][0]["key"] == "usgs-mcs-2025"
    assert {"stale", "computed_at", "data_version"} <= set(row)


def test_conditional_get_answers_304_until_the_data_changes(world: Any) -> None:
    client = world.clients["curator_token"]
    first = client.get("/api/v1/metrics/?mineral=gallium")
    assert first.status_code == 200
    etag, last_modified = first["ETag"], first["Last-Modified"]
    assert etag.startswith('"')  # a token's answer is stored: a strong ETag of its bytes
    assert first["Cache-Control"] == "private, no-cache"

    with CaptureQueriesContext(connection) as queries:
        cached = client.get("/api/v1/metrics/?mineral=gallium", HTTP_IF_NONE_MATCH=etag)
    assert cached.status_code == 304
    assert cached.content == b""
    # the data generation (2, from the database without a shared cache); the token is kept
    assert len(queries) <= 2, [q["sql"] for q in queries]
    assert client.get("/api/v1/metrics/?mineral=gallium", HTTP_IF_MODIFIED_SINCE=last_modified).status_code == 304
    # Other parameters are another representation.
    assert client.get("/api/v1/metrics/?mineral=gallium&year=2024", HTTP_IF_NONE_MATCH=etag).status_code == 200

    reference.minerals_mark_stale(mineral_ids=[Mineral.objects.get(slug="gallium").pk])
    changed = client.get("/api/v1/metrics/?mineral=gallium", HTTP_IF_NONE_MATCH=etag)
    assert changed.status_code == 200
    assert changed["ETag"] != etag
    assert changed.json()["stale"] is True


def test_a_tokens_stored_answer_is_sent_gzipped_to_a_client_that_accepts_it(world: Any) -> None:
    import gzip

    client = world.clients["token_reference_read"]
    plain = client.get("/api/v1/metrics/?mineral=gallium")
    zipped = client.get("/api/v1/metrics/?mineral=gallium", HTTP_ACCEPT_ENCODING="gzip")
    assert zipped["Content-Encoding"] == "gzip"
    assert {"Authorization", "Accept-Encoding"} <= {v.strip() for v in zipped["Vary"].split(",")}
    assert json.loads(gzip.decompress(zipped.content)) == plain.json()
    assert zipped["ETag"] != plain["ETag"]


def test_a_session_caller_keeps_the_weak_validators(world: Any) -> None:
    """Browsers (sessions) go down the ordinary path: the view's own weak ETag and 304."""
    client = world.clients["buyer_a"]
    first = client.get("/api/v1/metrics/?mineral=gallium")
    assert first["ETag"].startswith('W/"')
    assert client.get("/api/v1/metrics/?mineral=gallium", HTTP_IF_NONE_MATCH=first["ETag"]).status_code == 304


def test_unknown_mineral_404_missing_mineral_400(world: Any) -> None:
    client = world.clients["curator_token"]
    assert client.get("/api/v1/metrics/?mineral=unobtainium").status_code == 404
    assert client.get("/api/v1/metrics/").status_code == 400
    assert client.get("/api/v1/metrics/?mineral=gallium&stage=moon").status_code == 400


def test_metrics_api_takes_the_edition(world: Any) -> None:
    # Issue 11 contract: ?edition=SOURCE_KEY reports that edition's figures, as show_metrics --edition.
    from datetime import date

    from minerals.models import DataSource, ProductionRecord

    gallium = Mineral.objects.get(slug="gallium")
    # MCS 2025 is dated 2025-01-31 (issue 11 fault 1, branch truth-usgs); set here if the demo predates it.
    DataSource.objects.filter(key="usgs-mcs-2025", published_on__isnull=True).update(published_on=date(2025, 1, 31))
    older = DataSource.objects.create(
        key="usgs-mcs-2024", publisher="USGS", title="MCS", edition="MCS 2024", published_on=date(2024, 1, 31)
    )
    for kind, country, kg in (("country", "CHN", 600.0), ("world_total", None, 1000.0)):
        ProductionRecord.objects.create(
            mineral=gallium, stage="refinery", row_kind=kind, country_id=country, year=2024, quantity=kg, unit="kg",
            source=older,
        )  # fmt: skip
    client = world.clients["buyer_a"]
    query = {"mineral": "gallium", "stage": "refinery", "year": 2024}
    newest = client.get("/api/v1/metrics/", query).json()
    assert newest["edition"] is None
    assert round(newest["supply"][0]["china_share"], 3) == 0.987
    older = client.get("/api/v1/metrics/", {**query, "edition": "usgs-mcs-2024"})
    assert older.status_code == 200
    assert older.json()["supply"][0]["china_share"] == 0.6
    assert older.json()["edition"] == "usgs-mcs-2024"
    unknown = client.get("/api/v1/metrics/", {**query, "edition": "usgs-mcs-1999"})
    assert unknown.status_code == 400
    assert "unknown edition" in unknown.json()["edition"][0]


def test_metrics_api_labels_basket_shares_and_takes_the_edition_for_nir(world: Any) -> None:
    # Issue 11: a basket code's import share is labelled as the basket's; ?edition= gives that
    # edition's published NIR (MCS 2024: antimony 2023 82 %; the newest, MCS 2025: 83 %).
    from datetime import date

    from dashboards import services
    from minerals.models import DataSource, SalientStatistic, TradeFlow

    comtrade = DataSource.objects.get(key="comtrade")
    for exporter, value in (("CHN", 194.0), (None, 1000.0)):  # the basket 811292 (Ga, Ge, In, Nb, V)
        TradeFlow.objects.create(
            year=2024, exporter_id=exporter, importer_id="USA", commodity_code_id="811292", basis="import",
            value_usd=value, source=comtrade,
        )  # fmt: skip
    older = DataSource.objects.create(
        key="usgs-mcs-2024", publisher="USGS", title="MCS", edition="MCS 2024", published_on=date(2024, 1, 31)
    )
    antimony = Mineral.objects.get(slug="antimony")
    SalientStatistic.objects.create(
        mineral=antimony, country_id="USA", year=2023, statistic="net_import_reliance", value=82.0, unit="percent",
        source=older,
    )  # fmt: skip
    for slug in ("gallium", "antimony"):
        services.mineral_metrics_recompute(mineral_id=Mineral.objects.get(slug=slug).pk, force=True)
    client = world.clients["buyer_a"]
    gallium = client.get("/api/v1/metrics/", {"mineral": "gallium", "year": 2024}).json()["imports"][0]
    assert (gallium["shares_of"], gallium["basket_codes"]) == ("basket", ["811292"])
    assert gallium["import_china_share"] is not None  # shown, but as the basket's share
    query = {"mineral": "antimony", "year": 2023}
    assert client.get("/api/v1/metrics/", query).json()["imports"][0]["nir_published"] == 0.83
    edition = client.get("/api/v1/metrics/", {**query, "edition": "usgs-mcs-2024"}).json()
    assert edition["imports"][0]["nir_published"] == 0.82
    assert [s["key"] for s in edition["imports"][0]["sources"]] == ["usgs-mcs-2024"]


# --------------------------------------------------------------------------------------------
# Stored answers for tokens (config/stored_responses.py)

STORED = ("/api/v1/metrics/?mineral=gallium", "/api/v1/minerals/")


@pytest.mark.parametrize("url", STORED)
def test_a_stored_answer_costs_no_query_with_the_generation_and_token_kept(world: Any, settings: Any, url: str) -> None:
    settings.LODESTONE_GENERATION_CACHE_SECONDS = 300
    client = world.clients["token_reference_read"]
    first = client.get(url)
    assert first.status_code == 200
    assert first["ETag"].startswith('"')
    with CaptureQueriesContext(connection) as queries:
        again = client.get(url)
        revalidated = client.get(url, HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.content == first.content
    assert revalidated.status_code == 304
    assert len(queries) == 0, [q["sql"] for q in queries]


def test_an_edit_and_its_recompute_give_new_bytes_and_a_new_etag(world: Any, settings: Any) -> None:
    from dashboards import services
    from minerals.models import ProductionRecord

    settings.LODESTONE_GENERATION_CACHE_SECONDS = 300
    client = world.clients["token_reference_read"]
    url = "/api/v1/metrics/?mineral=gallium&stage=refinery&year=2024"
    old = client.get(url)
    gallium = Mineral.objects.get(slug="gallium")
    for row in ProductionRecord.objects.filter(mineral=gallium, stage="refinery", year=2024, country_id="CHN"):
        row.quantity = row.quantity / 2
        reference.record_save(instance=row)
    services.mineral_metrics_recompute(mineral_id=gallium.pk)
    new = client.get(url, HTTP_IF_NONE_MATCH=old["ETag"])
    assert new.status_code == 200
    assert new["ETag"] != old["ETag"]
    assert new.json()["supply"][0]["china_share"] < old.json()["supply"][0]["china_share"]


def test_tokens_without_the_scope_expired_or_missing_are_refused_on_a_hit(world: Any) -> None:
    from tests.api.conftest import bearer, make_application, make_token

    url = "/api/v1/metrics/?mineral=gallium"
    assert world.clients["token_reference_read"].get(url).status_code == 200  # stored now
    assert world.clients["token_a_portfolio_read"].get(url).status_code == 403
    expired = bearer(make_token(make_application(name="expired"), "reference:read", expires_in=-1))
    assert expired.get(url).status_code == 401
    assert bearer("not-a-token").get(url).status_code == 401
    assert world.clients["anonymous"].get(url).status_code in (401, 403)


def test_a_revoked_token_is_refused_within_the_token_cache_time(world: Any, settings: Any, monkeypatch: Any) -> None:
    from oauth2_provider.models import AccessToken

    from minerals.api import authentication
    from tests.api.conftest import bearer, make_application, make_token

    now = [1000.0]
    monkeypatch.setattr(authentication, "_clock", lambda: now[0])
    settings.LODESTONE_API_TOKEN_CACHE_SECONDS = 10
    raw = make_token(make_application(name="revoked-soon"), "reference:read")
    client = bearer(raw)
    url = "/api/v1/minerals/"
    assert client.get(url).status_code == 200
    assert client.get(url).status_code == 200  # stored, the token kept
    AccessToken.objects.get(application__name="revoked-soon").revoke()
    now[0] += 9.9
    assert client.get(url).status_code == 200  # documented: up to LODESTONE_API_TOKEN_CACHE_SECONDS
    now[0] += 0.1
    assert client.get(url).status_code == 401
    settings.LODESTONE_API_TOKEN_CACHE_SECONDS = 0  # then a revocation takes effect at once
    other = bearer(make_token(make_application(name="revoked-now"), "reference:read"))
    assert other.get(url).status_code == 200
    AccessToken.objects.get(application__name="revoked-now").revoke()
    assert other.get(url).status_code == 401


@pytest.mark.parametrize(
    "query", ["&utm_source=x", "&mineral=germanium", "&format=csv", "&year=not-a-year", "&stage=moon"]
)
def test_unknown_repeated_and_malformed_parameters_are_answered_uncached(world: Any, query: str) -> None:
    client = world.clients["token_reference_read"]
    response = client.get("/api/v1/metrics/?mineral=gallium" + query)
    assert not response.get("ETag", "").startswith('"')  # the ordinary path: weak or no validator
    assert response.status_code in (200, 400)


def test_every_token_gets_the_same_public_bytes_and_no_private_answer_is_stored(world: Any) -> None:
    from tests.api.conftest import bearer, make_token

    reader = world.clients["token_reference_read"]
    partner = bearer(make_token(world.app_a, "reference:read portfolio:read"))
    for url in STORED:
        assert reader.get(url).content == partner.get(url).content
    exposure = partner.get("/api/v1/exposure/")
    assert exposure.status_code == 200
    assert "ETag" not in exposure
    assert exposure["Cache-Control"] == "private, no-store"


def test_the_throttle_counts_stored_answers(world: Any, settings: Any) -> None:
    settings.LODESTONE_API_THROTTLE_RATES = {**settings.LODESTONE_API_THROTTLE_RATES, "reference": "3/min"}
    client = world.clients["token_reference_read"]
    statuses = [client.get("/api/v1/minerals/").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]  # one computed (DRF counts it), two stored, refused


def test_csv_and_other_accept_headers_take_the_ordinary_path(world: Any) -> None:
    client = world.clients["token_reference_read"]
    assert client.get("/api/v1/minerals/")["ETag"].startswith('"')
    csv = client.get("/api/v1/minerals/", HTTP_ACCEPT="text/csv")
    assert csv.status_code == 200
    assert csv["Content-Type"].startswith("text/csv")
    assert "ETag" not in csv
