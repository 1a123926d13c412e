"""The importers and the API's bulk writes upsert into the same unique indexes
(minerals.upsert_targets): a row one of them wrote is found, unchanged or updated in place, by the other."""

from __future__ import annotations

from pathlib import Path

import pytest

from minerals.bulk_services import production_bulk_upsert, trade_flows_bulk_upsert
from minerals.imports import import_file
from minerals.models import Mineral, ProductionRecord, TradeFlow

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
WORLD = (
    "SOURCE,COMMODITY,COUNTRY,TYPE,UNIT_MEAS,PROD_2023,PROD_EST_ 2024,PROD_NOTES\n"
    'MCS2025,Gallium,China,Primary production,kilograms,"722,000","750,000",\n'
    'MCS2025,Gallium,World total (rounded),Primary production,kilograms,"730,000","760,000",\n'
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _reports(tmp_path, settings):  # type: ignore[no-untyped-def]
    settings.LODESTONE_IMPORT_REPORT_DIR = tmp_path / "reports"


def _as_api_row(record: ProductionRecord) -> dict[str, object]:
    return {
        "mineral": record.mineral.slug,
        "stage": record.stage,
        "row_kind": record.row_kind,
        "country": record.country_id,
        "year": record.year,
        "quantity": record.quantity,
        "unit": record.unit,
        "is_estimate": record.is_estimate,
        "is_withheld": record.is_withheld,
        "bound": record.bound,
        "notes": record.notes,
        "source": record.source.key,
    }


def test_production_imported_then_sent_through_the_api_lands_on_the_same_rows(tmp_path):
    path = tmp_path / "MCS2025_World_Data_targets.csv"
    path.write_text(WORLD, encoding="utf-8")
    assert import_file(importer="usgs_mcs", path=path).status == "succeeded"
    imported = ProductionRecord.objects.filter(mineral__slug="gallium", source__key="usgs-mcs-2025", year=2024)
    china = imported.get(country_id="CHN")
    world = imported.get(row_kind="world_total")
    rows = [_as_api_row(china), _as_api_row(world)]
    count = ProductionRecord.objects.count()

    again = production_bulk_upsert(rows=rows)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 2)

    version = Mineral.objects.get(slug="gallium").data_version
    rows[0]["quantity"] = 751_000
    changed = production_bulk_upsert(rows=rows)
    assert (changed.inserted, changed.updated, changed.unchanged) == (0, 1, 1)
    assert ProductionRecord.objects.count() == count
    assert ProductionRecord.objects.get(pk=china.pk).quantity == 751_000
    assert Mineral.objects.get(slug="gallium").data_version == version + 1


def test_trade_flows_imported_then_sent_through_the_api_land_on_the_same_rows():
    outcome = import_file(importer="comtrade", path=FIXTURES / "comtrade" / "gallium_api_sample.csv")
    assert outcome.status == "succeeded", outcome.errors
    flows = TradeFlow.objects.filter(source__key="comtrade", commodity_code_id="811292", year=2024, importer_id="USA")
    bilateral = flows.get(exporter_id="CHN", basis="import")
    world = flows.get(exporter__isnull=True, basis="import")
    rows = [
        {
            "year": flow.year,
            "exporter": flow.exporter_id,
            "importer": flow.importer_id,
            "commodity_code": flow.commodity_code_id,
            "basis": flow.basis,
            "value_usd": flow.value_usd,
            "quantity_kg": flow.quantity_kg,
            "source": "comtrade",
        }
        for flow in (bilateral, world)
    ]
    count = TradeFlow.objects.count()

    again = trade_flows_bulk_upsert(rows=rows)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 2)

    rows[1]["value_usd"] = world.value_usd + 1
    changed = trade_flows_bulk_upsert(rows=rows)
    assert (changed.inserted, changed.updated, changed.unchanged) == (0, 1, 1)
    assert "gallium" in changed.stale_minerals
    assert TradeFlow.objects.count() == count
    assert TradeFlow.objects.get(pk=world.pk).value_usd == world.value_usd + 1
