"""Bulk upserts: one request, all or nothing, idempotent, per-row errors, stale marked once."""

from __future__ import annotations

from typing import Any

import pytest

from minerals.models import Country, Mineral, ProductionRecord, TradeFlow
from suppliers.models import Sourcing

pytestmark = pytest.mark.django_db

URL = "/api/v1/trade-flows/bulk/"


def ten_thousand_flows() -> list[dict[str, Any]]:
    iso3 = list(Country.objects.order_by("iso3").values_list("iso3", flat=True)[:101])
    rows = [
        {"year": 2023, "exporter": exporter, "importer": importer, "commodity_code": "811292", "basis": "import",
         "value_usd": float(i * 10 + j), "quantity_kg": float(j), "source": "usgs-mcs-2025"}
        for i, exporter in enumerate(iso3) for j, importer in enumerate(iso3) if exporter != importer
    ]  # fmt: skip
    return rows[:10_000]


def _versions() -> dict[str, int]:
    return dict(Mineral.objects.filter(slug__in=["gallium", "germanium"]).values_list("slug", "data_version"))


def test_ten_thousand_trade_flows_one_request_idempotent(world: Any) -> None:
    client = world.clients["curator_token"]
    rows = ten_thousand_flows()
    before, versions = TradeFlow.objects.count(), _versions()

    response = client.post(URL, rows, format="json")
    assert response.status_code == 200, response.content[:500]
    body = response.json()
    assert (body["rows"], body["inserted"], body["updated"], body["unchanged"]) == (10_000, 10_000, 0, 0)
    assert TradeFlow.objects.count() == before + 10_000
    # 811292 maps to gallium and germanium: each marked stale exactly once for the whole request.
    assert _versions() == {slug: v + 1 for slug, v in versions.items()}
    assert set(body["stale_minerals"]) >= {"gallium", "germanium"}

    again = client.post(URL, rows, format="json").json()
    assert (again["inserted"], again["updated"], again["unchanged"]) == (0, 0, 10_000)
    assert TradeFlow.objects.count() == before + 10_000
    assert _versions() == {slug: v + 1 for slug, v in versions.items()}  # nothing changed: not marked

    rows[17]["value_usd"] = 123.0
    changed = client.post(URL, rows, format="json").json()
    assert (changed["inserted"], changed["updated"], changed["unchanged"]) == (0, 1, 9_999)


def test_one_bad_row_writes_nothing_and_is_reported(world: Any) -> None:
    rows = ten_thousand_flows()
    rows[4_999]["exporter"] = "XXX"
    before = TradeFlow.objects.count()
    response = world.clients["curator_token"].post(URL, rows, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["errors"] == [
        {"row": 5_000, "field": "exporter", "value": "XXX", "expected": "an ISO3 code of the countries table"}
    ]
    assert TradeFlow.objects.count() == before


def test_errors_name_row_field_value_expected_and_repeats(world: Any) -> None:
    rows = [
        {"year": 1800, "exporter": "CHN", "importer": "USA", "commodity_code": "811292", "basis": "import",
         "value_usd": -1, "source": "usgs-mcs-2025"},
        {"year": 2024, "exporter": "CHN", "importer": "USA", "commodity_code": "999999", "basis": "smuggled",
         "value_usd": "lots", "source": "nope"},
        {"year": 2024, "exporter": "", "importer": "", "commodity_code": "811292", "basis": "import",
         "value_usd": 1, "source": "usgs-mcs-2025"},
        {"year": 2024, "exporter": "CHN", "importer": "USA", "commodity_code": "811292", "basis": "import",
         "value_usd": 1, "source": "usgs-mcs-2025"},
        {"year": 2024, "exporter": "chn", "importer": "usa", "commodity_code": "811292", "basis": "import",
         "value_usd": 2, "source": "usgs-mcs-2025"},
    ]  # fmt: skip
    body = world.clients["staff_session"].post(URL, rows, format="json").json()
    found = {(e["row"], e["field"]) for e in body["errors"]}
    assert {(1, "year"), (1, "value_usd"), (2, "value_usd"), (3, "importer"), (5, "")} <= found
    assert all(set(e) == {"row", "field", "value", "expected"} for e in body["errors"])
    repeat = next(e for e in body["errors"] if e["row"] == 5)
    assert "repeats row 4" in repeat["expected"]


def test_trade_flows_from_a_csv_upload(world: Any) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    csv_text = (
        "year,exporter,importer,commodity_code,basis,value_usd,quantity_kg,source\n"
        "2022,CHN,USA,811292,import,100.5,3,usgs-mcs-2025\n"
        "2022,,USA,811292,import,200,,usgs-mcs-2025\n"
    )
    upload = SimpleUploadedFile("flows.csv", csv_text.encode(), content_type="text/csv")
    response = world.clients["curator_token"].post(URL, {"file": upload}, format="multipart")
    assert response.status_code == 200, response.json()
    assert response.json()["inserted"] == 2
    world_row = TradeFlow.objects.get(
        year=2022, exporter__isnull=True, importer_id="USA", commodity_code_id="811292", source__key="usgs-mcs-2025"
    )
    assert world_row.value_usd == 200
    assert world_row.quantity_kg is None
    # The same file as a raw text/csv body: idempotent.
    raw = world.clients["curator_token"].generic("POST", URL, csv_text, content_type="text/csv")
    assert raw.json()["unchanged"] == 2


def test_production_bulk_converts_to_the_canonical_unit(world: Any) -> None:
    gallium = Mineral.objects.get(slug="gallium")
    rows = [
        {"mineral": "gallium", "stage": "refinery", "country": "CHN", "year": 2030, "quantity": 700,
         "unit": "t" if gallium.canonical_unit == "kg" else "kg", "is_estimate": "true", "source": "usgs-mcs-2025"},
        {"mineral": "gallium", "stage": "refinery", "row_kind": "world_total", "year": 2030, "quantity": None,
         "unit": gallium.canonical_unit, "is_withheld": True, "source": "usgs-mcs-2025"},
    ]  # fmt: skip
    version = gallium.data_version
    response = world.clients["curator_token"].post("/api/v1/production/bulk/", rows, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["inserted"] == 2
    china = ProductionRecord.objects.get(mineral=gallium, year=2030, country_id="CHN")
    assert china.unit == gallium.canonical_unit
    assert china.quantity == (700_000 if gallium.canonical_unit == "kg" else 0.7)
    assert Mineral.objects.get(pk=gallium.pk).data_version == version + 1
    bad = [{**rows[0], "country": None}]
    errors = world.clients["curator_token"].post("/api/v1/production/bulk/", bad, format="json").json()["errors"]
    assert errors[0]["row"] == 1
    assert errors[0]["field"] == "country"


def test_sourcing_bulk_is_the_callers_and_marks_stale_once(world: Any) -> None:
    org = world.org_a
    version = org.data_version
    csv_text = (
        "mineral,facility,country,annual_quantity,share,notes,organization\ngallium,,KOR,50,,new supplier,other-buyer\n"
    )
    client = world.clients["buyer_a"]
    response = client.generic("POST", "/api/v1/sourcing/bulk/", csv_text, content_type="text/csv")
    # `organization` is not a column: the caller's organization is implied, never taken from the body.
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "organization"
    csv_text = "mineral,facility,country,annual_quantity,share,notes\ngallium,,KOR,50,,new supplier\n"
    response = client.generic("POST", "/api/v1/sourcing/bulk/", csv_text, content_type="text/csv")
    assert response.status_code == 200, response.json()
    assert response.json()["inserted"] == 1
    line = Sourcing.objects.get(organization=org, mineral__slug="gallium", country_id="KOR")
    assert line.annual_quantity == 50
    org.refresh_from_db()
    assert org.data_version == version + 1
    assert not Sourcing.objects.filter(organization=world.org_b, country_id="KOR").exists()
    # Read-only token: refused.
    assert (
        world.clients["token_a_portfolio_read"]
        .post("/api/v1/sourcing/bulk/", [{"mineral": "gallium", "country": "KOR", "share": 0.1}], format="json")
        .status_code
        == 403
    )
