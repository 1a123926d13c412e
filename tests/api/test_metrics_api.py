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
    assert etag.startswith('W/"')

    with CaptureQueriesContext(connection) as queries:
        cached = client.get("/api/v1/metrics/?mineral=gallium", HTTP_IF_NONE_MATCH=etag)
    assert cached.status_code == 304
    assert cached.content == b""
    # token lookup (1) + the mineral with its metrics state (1): no metric row is read
    assert len(queries) <= 3, [q["sql"] for q in queries]
    assert client.get("/api/v1/metrics/?mineral=gallium", HTTP_IF_MODIFIED_SINCE=last_modified).status_code == 304
    # Other parameters are another representation.
    assert client.get("/api/v1/metrics/?mineral=gallium&year=2024", HTTP_IF_NONE_MATCH=etag).status_code == 200

    reference.minerals_mark_stale(mineral_ids=[Mineral.objects.get(slug="gallium").pk])
    changed = client.get("/api/v1/metrics/?mineral=gallium", HTTP_IF_NONE_MATCH=etag)
    assert changed.status_code == 200
    assert changed["ETag"] != etag
    assert changed.json()["stale"] is True


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
