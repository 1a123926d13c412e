"""The set-based import statement (dashboards.metric_sql, PostgreSQL) against the pure path.

A generated dataset exercises every branch: the China group merged into CHN, flows without a
quantity, a (destination, year) with no value at all, a tie between partners, two editions
and two bases (only one dataset per year may count), a code mapped to the mineral twice
(two stages: counted once), withheld production and published NIR. Rows written by the
statement must equal the rows of the pure path (services.import_tables + risk), which must
equal risk.import_dependence over the raw flows.
"""

from __future__ import annotations

import random
from datetime import date
from typing import Any

import pytest
from django.db import connection

from dashboards import metric_sql, risk, services
from dashboards.models import ImportMetric
from minerals.models import CommodityCode, CommodityMineral, DataSource, Mineral, ProductionRecord, TradeFlow

pytestmark = pytest.mark.django_db

IMPORTERS = ["USA", "JPN", "DEU", "KOR", "FRA", "GBR"]
EXTRA_EXPORTERS = ["CHN", "HKG", "MAC", "RUS", "CAN", "AUS", "BRA", "IND", "ZAF", "VNM", "MYS", "CHL", "PER"]
YEARS = (2022, 2023, 2024)
FLOAT_FIELDS = (
    "total_value_usd", "import_coverage", "import_china_share", "import_feoc_share", "import_hhi",
    "total_quantity_kg", "quantity_coverage", "import_china_share_by_quantity", "import_feoc_share_by_quantity",
    "import_hhi_by_quantity", "nir", "nir_published",
)  # fmt: skip
EXACT_FIELDS = ("import_hhi_band", "nir_published_bound", "sources", "data_version")


def _generate(seed: int = 11) -> Mineral:
    """Trade flows of gallium on two new HS codes (one mapped twice), two editions, two bases."""
    rng = random.Random(seed)
    gallium = Mineral.objects.get(slug="gallium")
    codes = [CommodityCode.objects.create(hs6=hs6, description="test") for hs6 in ("999901", "999902")]
    CommodityMineral.objects.bulk_create(
        [
            CommodityMineral(commodity_code=codes[0], mineral=gallium, stage="refinery"),
            CommodityMineral(commodity_code=codes[0], mineral=gallium, stage="recycling"),
            CommodityMineral(commodity_code=codes[1], mineral=gallium, stage="refinery"),
        ]
    )
    old = DataSource.objects.create(
        key="trade-old", publisher="t", title="t", edition="1", published_on=date(2020, 1, 1)
    )
    new = DataSource.objects.create(
        key="trade-new", publisher="t", title="t", edition="2", published_on=date(2025, 1, 1)
    )
    exporters = sorted(set(IMPORTERS + EXTRA_EXPORTERS))
    flows = []
    for year in YEARS:
        # 2022: old edition only; 2023: old edition, two bases (import wins); 2024: both editions (new wins).
        datasets = {
            2022: [(old, "import")],
            2023: [(old, "import"), (old, "export")],
            2024: [(old, "import"), (new, "import")],
        }
        for source, basis in datasets[year]:
            for importer in IMPORTERS:
                for code in codes:
                    for exporter in exporters:
                        tie = importer == "FRA" and year == 2024 and exporter in ("CAN", "AUS")
                        if exporter == importer or (not tie and rng.random() < 0.3):
                            continue
                        value = round(rng.random() * 1e5, 2) if rng.random() > 0.1 else 0.0
                        quantity = None if rng.random() < 0.3 else round(value / rng.uniform(20, 80), 3)
                        if importer == "GBR" and year == 2022:
                            value, quantity = 0.0, None  # no value at all: every share unknown
                        if tie:
                            value, quantity = 5000.0, 100.0  # a tie: broken by the partner code
                        flows.append(
                            TradeFlow(
                                year=year, exporter_id=exporter, importer_id=importer, commodity_code=code,
                                basis=basis, value_usd=value, quantity_kg=quantity, source=source,
                            )
                        )  # fmt: skip
    TradeFlow.objects.bulk_create(flows)
    # Production in kg for the NIR: JPN withheld in 2023 (NIR unknown), KOR listed, others absent (0).
    usgs = DataSource.objects.get(key="usgs-mcs-2025")
    ProductionRecord.objects.filter(mineral=gallium, year__in=YEARS).exclude(year=2024).delete()
    ProductionRecord.objects.bulk_create(
        [
            ProductionRecord(
                mineral=gallium, stage="refinery", country_id="JPN", year=2023, quantity=None, is_withheld=True,
                unit="kg", source=usgs,
            ),
            ProductionRecord(
                mineral=gallium, stage="refinery", country_id="KOR", year=2023, quantity=50_000.0, unit="kg",
                source=usgs,
            ),
        ]
    )  # fmt: skip
    return gallium


def _rows() -> dict[tuple[str, int], dict[str, Any]]:
    fields = (*FLOAT_FIELDS, *EXACT_FIELDS, "partner_shares", "partner_shares_by_quantity")
    return {
        (row["destination_id"], row["year"]): row
        for row in ImportMetric.objects.filter(mineral__slug="gallium").values("destination_id", "year", *fields)
    }


def _write(mineral: Mineral, *, set_based: bool) -> dict[tuple[str, int], dict[str, Any]]:
    target = Mineral.objects.get(pk=mineral.pk).data_version
    metrics = services.mineral_metrics_compute(mineral_id=mineral.pk, target=target, set_based=set_based)
    assert services.mineral_metrics_write(metrics, force=True)
    return _rows()


def _assert_vector(got: list[list[Any]], expected: list[list[Any]] | tuple[tuple[str, float], ...]) -> None:
    assert [p[0] for p in got] == [p[0] for p in expected]
    assert [p[1] for p in got] == pytest.approx([p[1] for p in expected], rel=1e-12, abs=1e-15)


def _assert_close(got: float | None, expected: float | None, key: Any) -> None:
    if expected is None:
        assert got is None, key
    else:
        assert got == pytest.approx(expected, rel=1e-12, abs=1e-15), key


def _assert_same(got: dict[str, Any], expected: dict[str, Any], key: Any) -> None:
    for name in FLOAT_FIELDS:
        _assert_close(got[name], expected[name], (key, name))
    for name in EXACT_FIELDS:
        assert got[name] == expected[name], (key, name)
    _assert_vector(got["partner_shares"], expected["partner_shares"])
    _assert_vector(got["partner_shares_by_quantity"], expected["partner_shares_by_quantity"])


def test_pure_path_matches_risk_on_raw_flows(demo: None, settings: Any) -> None:
    """The per-exporter sums the pure path reads give the same results as the raw flows."""
    settings.LODESTONE_IMPORT_DESTINATIONS = ["*"]
    gallium = _generate()
    rows = _write(gallium, set_based=False)
    chosen = {2022: ("trade-old", "import"), 2023: ("trade-old", "import"), 2024: ("trade-new", "import")}
    for (destination, year), row in rows.items():
        if year not in chosen:
            continue  # published NIR only (no flows that year)
        source, basis = chosen[year]
        raw = TradeFlow.objects.filter(
            commodity_code__hs6__in=["999901", "999902"], importer_id=destination, year=year, source__key=source,
            basis=basis,
        ).values_list("exporter_id", "value_usd", "quantity_kg")  # fmt: skip
        expected = risk.import_dependence([risk.ImportFlow(e, v, q) for e, v, q in raw])
        for name in ("import_china_share", "import_feoc_share", "import_hhi", "import_hhi_by_quantity"):
            _assert_close(row[name], getattr(expected, name), (destination, year, name))
        _assert_close(row["import_feoc_share_by_quantity"], expected.import_feoc_share_by_quantity, destination)
        _assert_vector(row["partner_shares"], expected.partner_shares)
        _assert_vector(row["partner_shares_by_quantity"], expected.partner_shares_by_quantity)
    assert rows[("GBR", 2022)]["import_china_share"] is None
    assert rows[("GBR", 2022)]["partner_shares"] == []
    tie = [p[0] for p in rows[("FRA", 2024)]["partner_shares"] if p[0] in ("AUS", "CAN")]
    assert tie == ["AUS", "CAN"]  # equal shares: ranked by code


@pytest.mark.skipif(not metric_sql.supported(), reason="the set-based statement runs on PostgreSQL")
@pytest.mark.parametrize("destinations", [["*"], []])
def test_sql_path_matches_pure_path(demo: None, settings: Any, destinations: list[str]) -> None:
    settings.LODESTONE_IMPORT_DESTINATIONS = destinations
    gallium = _generate()
    pure = _write(gallium, set_based=False)
    ImportMetric.objects.filter(mineral=gallium).delete()
    sql = _write(gallium, set_based=True)
    assert set(sql) == set(pure)
    assert len(pure) >= (3 * len(IMPORTERS) if destinations else 3)
    for key, expected in pure.items():
        _assert_same(sql[key], expected, key)
    # Branches actually covered: no value, NIR computed (KOR listed) and unknown (JPN withheld).
    assert sql[("USA", 2024)]["nir_published"] == 1.0
    if destinations:
        assert sql[("GBR", 2022)]["import_hhi"] is None
        assert sql[("GBR", 2022)]["import_hhi_band"] == ""
        assert sql[("KOR", 2023)]["nir"] is not None
        assert sql[("JPN", 2023)]["nir"] is None


@pytest.mark.skipif(not metric_sql.supported(), reason="the set-based statement runs on PostgreSQL")
def test_upsert_never_goes_back_and_drops_vanished_keys(demo: None, settings: Any) -> None:
    settings.LODESTONE_IMPORT_DESTINATIONS = ["*"]
    gallium = _generate()
    target = Mineral.objects.get(pk=gallium.pk).data_version
    _write(gallium, set_based=True)
    before = _rows()
    # An older run reaching the statement (the gate normally stops it first) writes nothing.
    stale = services.mineral_metrics_compute(mineral_id=gallium.pk, target=target - 1, set_based=True)
    assert stale.import_inputs is not None
    TradeFlow.objects.filter(importer_id="USA", year=2024).update(value_usd=1.0)
    written = metric_sql.import_metrics_upsert(
        mineral_id=gallium.pk,
        version=target - 1,
        now=services.timezone.now(),
        inputs=stale.import_inputs,
        china_group=services.china_group(),
        feoc=services.feoc_countries(),
    )
    assert written == 0
    assert _rows() == before
    # Flows of a destination gone: its rows go with the next recompute.
    TradeFlow.objects.filter(importer_id="DEU").delete()
    after = _write(gallium, set_based=True)
    assert not [key for key in after if key[0] == "DEU"]
    assert ("USA", 2024) in after
    assert connection.vendor == "postgresql"
