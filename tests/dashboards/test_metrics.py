"""The risk engine's Django layer on the demo dataset: stored rows, selectors, monotonic writes.

Ordinary tests: Celery runs eager (tests/conftest.py), nothing reaches Redis.
"""

from __future__ import annotations

import json
from datetime import date
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.models import F

from dashboards import selectors, services
from dashboards.models import ExposureMetric, ImportMetric, MineralMetricsState, SupplyMetric
from minerals import services as reference
from minerals.models import CommodityCode, Country, DataSource, Mineral, ProductionRecord, TradeFlow
from suppliers.models import Organization

pytestmark = pytest.mark.django_db

AS_OF = date(2026, 11, 30)


def _gallium() -> Mineral:
    return Mineral.objects.get(slug="gallium")


def _recompute(slug: str) -> None:
    services.mineral_metrics_recompute(mineral_id=Mineral.objects.get(slug=slug).pk, force=True)


def test_china_share_of_us_graphite_imports_2024_from_comtrade(demo: None) -> None:
    # demo/trade_flows.csv (U.S.-reported, HS 250410): from China USD 94,199,288 of a World total
    # of USD 141,811,851; the other USD 47.6 M come from partners the extract does not name.
    _recompute("graphite-natural")
    row = ImportMetric.objects.get(mineral__slug="graphite-natural", destination_id="USA", year=2024)
    assert row.total_value_usd == 141_811_851
    assert row.import_china_share == pytest.approx(94_199_288 / 141_811_851)  # 0.664
    assert row.import_coverage == pytest.approx(94_199_288 / 141_811_851)
    assert row.partner_shares == [["CHN", pytest.approx(94_199_288 / 141_811_851)]]
    assert {s["key"] for s in row.sources} == {"comtrade", "usgs-mcs-2025"}


def test_gallium_2024_china_share_is_usgs_0_987(demo: None) -> None:
    # demo/production.csv: gallium is typed "Primary production" (stage refinery); 2024 CHN
    # 750,000 kg of a published world total of 760,000 kg -> 0.98684 (USGS T5 publishes 99 %).
    _recompute("gallium")
    row = SupplyMetric.objects.get(mineral__slug="gallium", stage="refinery", year=2024)
    assert round(row.china_share, 3) == 0.987
    assert row.world_total_source == "published"
    # FEOC adds RUS 6,000: (750,000 + 6,000) / 760,000; top 3 adds JPN or KOR 3,000.
    assert row.feoc_share == pytest.approx(756_000 / 760_000)
    assert row.top3_share == pytest.approx(759_000 / 760_000)
    assert row.hhi == pytest.approx(10_000 * ((750 / 760) ** 2 + (6 / 760) ** 2 + 2 * (3 / 760) ** 2))
    assert row.hhi_band == "high"
    assert row.data_version == _gallium().data_version
    assert row.sources[0]["key"] == "usgs-mcs-2025"


def test_published_nir_kept_with_its_bound(demo: None) -> None:
    _recompute("germanium")
    _recompute("gallium")
    germanium = ImportMetric.objects.get(mineral__slug="germanium", destination_id="USA", year=2024)
    assert (germanium.nir_published, germanium.nir_published_bound) == (0.5, ">")
    gallium = ImportMetric.objects.get(mineral__slug="gallium", destination_id="USA", year=2024)
    assert gallium.nir_published == 1.0
    assert gallium.nir is None  # no trade flows in the demo: not computable, never guessed


def test_demo_buyer_exposure_matches_hand_computation(demo: None) -> None:
    """Demo Buyer Inc. from demo/requirements.csv, sourcing.csv, supply_links.csv, ownership.csv,
    facilities.csv (fallback rule: a listed producer supplies itself, see docs/metrics.md).

    gallium: CHN 1,600 + JPN 400 (country lines) = 2,000.
        direct = controlled = 1,600 / 2,000 = 0.8; upstream = 0.8 + 0.2 * mix(JPN)[CHN] = 0.8 + 0
        (JPN is a listed gallium producer); unmapped = 1.0 (both lines are country fallbacks).
    germanium: umicore-olen (BEL refinery, no links) 600 + CHN 400.
        direct = controlled = 400 / 1,000 = 0.4; upstream = 0.4 + 0.6 * mix(BEL)[CHN] = 0.4
        (BEL is listed, withheld); unmapped = (600 * 1 + 400 * 1) / 1,000 = 1.0.
    rare-earths: demo-magnet-works (JPN) 20 + mountain-pass-refinery (USA) 12 + lynas-malaysia 8 = 40.
        direct = 0 (none located in CHN); controlled = 0 (Demo Magnet Holdings is JPN);
        upstream = (20 * (0.8 * 1 [cnre-baotou, CHN] + 0.2 * 0 [lynas]) + 12 * 0 + 8 * 0) / 40 = 16 / 40 = 0.4;
        unmapped = 0 (every chain ends in a mine).
    graphite-natural: vidalia-aam (USA <- balama-mine 1.0) 20 + CHN 30 = 50.
        direct = controlled = upstream = 30 / 50 = 0.6; unmapped = 30 / 50 = 0.6 (the country line).
    cobalt: tenke-fungurume (COD, 80 % CMOC Group, CHN >= 25 %) 10 + redwood-nevada (recycling) 2 = 12.
        direct = 0; controlled = upstream = 10 / 12 = 0.8333; unmapped = 0 (mine and recycling are primary).
    antimony: CHN 6 + umicore-hoboken (recycling) 2 = 8 -> 0.75, 0.75, 0.75; unmapped 6 / 8 = 0.75.
    tungsten: CHN 4 + VNM 1 (listed producer) = 5 -> 0.8, 0.8, 0.8; unmapped 1.0.
    lithium: CHL 12 (listed producer) + CHN 8 = 20 -> 0.4, 0.4, 0.4; unmapped 1.0.
    """
    expected = {
        "gallium": (0.8, 0.8, 0.8, 1.0),
        "germanium": (0.4, 0.4, 0.4, 1.0),
        "rare-earths": (0.0, 0.0, 0.4, 0.0),
        "graphite-natural": (0.6, 0.6, 0.6, 0.6),
        "cobalt": (0.0, 10 / 12, 10 / 12, 0.0),
        "antimony": (0.75, 0.75, 0.75, 0.75),
        "tungsten": (0.8, 0.8, 0.8, 1.0),
        "lithium": (0.4, 0.4, 0.4, 1.0),
    }
    buyer = Organization.objects.get(name="Demo Buyer Inc.")
    services.organizations_exposure_recompute(organization_ids=[buyer.pk])
    rows = {row["mineral"]: row for row in selectors.organization_exposure(organization=buyer)}
    assert set(rows) == set(expected)
    for slug, (direct, controlled, upstream, unmapped) in expected.items():
        row = rows[slug]
        got = (
            row["direct_china_share"],
            row["china_controlled_share"],
            row["upstream_china_share"],
            row["unmapped_share"],
        )
        assert got == pytest.approx((direct, controlled, upstream, unmapped)), slug
        assert row["stale"] is False


def test_gallium_restricted_share_follows_the_date(demo: None) -> None:
    # cn-2024-46-us-ban (export ban to the USA on gallium) is suspended 2025-11-09 .. 2026-11-27:
    # inside the window only the 2023 licence applies (severity 0.2), after it the ban is back (1.0).
    _recompute("gallium")
    during = selectors.mineral_metrics(mineral="gallium", stage="refinery", year=2024, as_of=date(2026, 1, 1))
    after = selectors.mineral_metrics(mineral="gallium", stage="refinery", year=2024, as_of=AS_OF)
    share = 750_000 / 760_000
    assert during["supply"][0]["restricted_supply_share"] == pytest.approx(share * 0.2)
    assert after["supply"][0]["restricted_supply_share"] == pytest.approx(share * 1.0)
    assert "cn-2024-46-us-ban" in after["supply"][0]["measures_needing_review"]
    risk_row = after["supply_risk"][0]
    assert risk_row["import_reliance"] == 1.0
    assert "sourcing_from_global_mix" in risk_row["flags"]
    assert risk_row["supply_risk"] is not None


def test_rows_are_written_only_if_newer(demo: None) -> None:
    """Duplicate delivery and out-of-order runs (a worker killed mid-task, a redelivery): the
    conditional write keeps the newest version."""
    gallium = _gallium()
    _recompute("gallium")
    older = services.mineral_metrics_compute(mineral_id=gallium.pk, target=_gallium().data_version)
    record = ProductionRecord.objects.get(mineral=gallium, stage="refinery", country_id="CHN", year=2024)
    record.quantity = 700_000
    reference.record_save(instance=record)
    newer = services.mineral_metrics_compute(mineral_id=gallium.pk, target=_gallium().data_version)
    assert newer.data_version == older.data_version + 1

    assert services.mineral_metrics_write(newer) is True
    count = MineralMetricsState.objects.get(mineral=gallium).recompute_count
    assert services.mineral_metrics_write(older) is False  # the run that was overtaken
    assert services.mineral_metrics_write(newer) is False  # the duplicate delivery
    assert MineralMetricsState.objects.get(mineral=gallium).recompute_count == count
    row = SupplyMetric.objects.get(mineral=gallium, stage="refinery", year=2024)
    assert row.data_version == newer.data_version
    assert row.china_share == pytest.approx(700_000 / 760_000)


def test_edit_recomputes_in_process_on_commit_when_eager(demo: None, django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    gallium = _gallium()
    _recompute("gallium")
    record = ProductionRecord.objects.get(mineral=gallium, stage="refinery", country_id="CHN", year=2024)
    record.quantity = 740_000
    with django_capture_on_commit_callbacks(execute=True):
        reference.record_save(instance=record)
    row = SupplyMetric.objects.get(mineral=gallium, stage="refinery", year=2024)
    assert row.data_version == _gallium().data_version
    assert row.china_share == pytest.approx(740_000 / 760_000)


def test_sweep_lists_what_is_stale(demo: None) -> None:
    gallium = _gallium()
    _recompute("gallium")
    buyer = Organization.objects.get(name="Demo Buyer Inc.")
    services.organizations_exposure_recompute(organization_ids=[buyer.pk])
    assert gallium.pk not in services.stale_mineral_ids()
    assert buyer.pk not in services.stale_organization_ids()
    Mineral.objects.filter(pk=gallium.pk).update(data_version=F("data_version") + 1)
    assert gallium.pk in services.stale_mineral_ids()
    assert buyer.pk in services.stale_organization_ids()  # its gallium row is behind
    report = selectors.mineral_metrics(mineral="gallium")
    assert report["stale"] is True
    assert all(row["stale"] for row in report["supply"])


def _add_gallium_trade(exporters: list[str], year: int = 2024) -> None:
    source, _ = DataSource.objects.get_or_create(key="test-trade", defaults={"publisher": "t", "title": "t"})
    code = CommodityCode.objects.get(hs6="811292")
    TradeFlow.objects.bulk_create(
        TradeFlow(
            year=year,
            exporter_id=iso3,
            importer_id="USA",
            commodity_code=code,
            basis="import",
            value_usd=1000.0 + i,
            quantity_kg=10.0,
            source=source,
        )
        for i, iso3 in enumerate(exporters)
    )


def _add_production(mineral: Mineral, countries: list[str]) -> None:
    source = DataSource.objects.get(key="usgs-mcs-2025")
    ProductionRecord.objects.bulk_create(
        ProductionRecord(
            mineral=mineral, stage="refinery", country_id=c, year=2024, quantity=1.0, unit="kg", source=source
        )
        for c in countries
    )


def test_recompute_query_count_does_not_grow_with_rows(demo: None, django_assert_num_queries) -> None:  # type: ignore[no-untyped-def]
    gallium = _gallium()
    countries = list(
        Country.objects.exclude(production_records__mineral=gallium)
        .exclude(iso3__in=["HKG", "MAC"])
        .values_list("iso3", flat=True)[:60]
    )
    _add_gallium_trade(countries[:3])
    _add_production(gallium, countries[:3])
    # PostgreSQL reads the mapped codes, then sets work_mem/jit, computes into a temporary
    # table, upserts from it and deletes obsolete rows (4 statements) where the pure path
    # (SQLite) reads the mapped codes' comparability (risk.nir_comparability), flows and
    # exports, deletes and bulk-inserts: 33 and 33.
    with django_assert_num_queries(33) as small:
        services.mineral_metrics_recompute(mineral_id=gallium.pk, force=True)
    _add_gallium_trade(countries[3:60])
    _add_production(gallium, countries[3:60])
    with django_assert_num_queries(len(small.captured_queries)):
        result = services.mineral_metrics_recompute(mineral_id=gallium.pk, force=True)
    assert result.written
    imports = ImportMetric.objects.get(mineral=gallium, destination_id="USA", year=2024)
    assert len(imports.partner_shares) == 60


def test_selector_query_counts_are_fixed(demo: None, django_assert_num_queries) -> None:  # type: ignore[no-untyped-def]
    gallium = _gallium()
    _recompute("gallium")
    with django_assert_num_queries(11):  # + the mapped HS codes (basket? traded?)
        selectors.mineral_metrics(mineral="gallium")
    countries = list(
        Country.objects.exclude(production_records__mineral=gallium)
        .exclude(iso3__in=["HKG", "MAC"])
        .values_list("iso3", flat=True)[:30]
    )
    _add_production(gallium, countries)
    _add_gallium_trade(countries)
    _recompute("gallium")
    with django_assert_num_queries(11):
        report = selectors.mineral_metrics(mineral="gallium")
    assert len(report["imports"][0]["partner_shares"]) == 30
    buyer = Organization.objects.get(name="Demo Buyer Inc.")
    with django_assert_num_queries(1):
        selectors.organization_exposure(organization=buyer)


def test_show_metrics_prints_json_with_metric_names(demo: None) -> None:
    _recompute("gallium")
    out = StringIO()
    call_command(
        "show_metrics", "--mineral", "gallium", "--year", "2024", "--stage", "refinery", "--as-of", "2026-11-30",
        "--json", stdout=out,
    )  # fmt: skip
    report = json.loads(out.getvalue())
    row = report["supply"][0]
    for name in ("china_share", "feoc_share", "top3_share", "hhi", "coverage", "restricted_supply_share", "stale"):
        assert name in row
    assert round(row["china_share"], 3) == 0.987
    assert report["imports"][0]["nir_published"] == 1.0
    assert report["supply_risk"][0]["stage"] == "refinery"


def test_recompute_metrics_command_sync(demo: None) -> None:
    out = StringIO()
    call_command("recompute_metrics", "--mineral", "gallium", "--sync", stdout=out)
    assert "Recomputed 1 of 1" in out.getvalue()
    assert not ExposureMetric.objects.filter(mineral__slug="gallium", mineral_data_version__lt=_gallium().data_version)
    # Every mineral, in batches (17 demo minerals: more than one batch), rows as one by one.
    before = _metric_rows()
    call_command("recompute_metrics", "--all", "--sync", stdout=out)
    assert f"Recomputed {Mineral.objects.count()} of {Mineral.objects.count()}" in out.getvalue()
    assert _metric_rows() == before


def test_newest_edition_wins(demo: None) -> None:
    gallium = _gallium()
    newer = DataSource.objects.create(
        key="usgs-mcs-2026", publisher="USGS", title="MCS", edition="MCS 2026", published_on=date(2026, 2, 6)
    )
    ProductionRecord.objects.create(
        mineral=gallium, stage="refinery", country_id="CHN", year=2024, quantity=500.0, unit="kg", source=newer
    )
    ProductionRecord.objects.create(
        mineral=gallium, stage="refinery", row_kind="world_total", year=2024, quantity=1000.0, unit="kg", source=newer
    )
    _recompute("gallium")
    row = SupplyMetric.objects.get(mineral=gallium, stage="refinery", year=2024)
    assert row.china_share == 0.5  # published 2026-02-06, after MCS 2025 (2025-01-31)
    assert row.sources[0]["key"] == "usgs-mcs-2026"


def _metric_rows() -> dict[str, list[tuple[Any, ...]]]:
    skip = {"id", "computed_at"}
    out = {}
    for model in (SupplyMetric, ImportMetric, ExposureMetric):
        fields = [f.attname for f in model._meta.concrete_fields if f.attname not in skip]
        out[model.__name__] = sorted(model.objects.values_list(*fields), key=repr)
    return out


def test_batch_recompute_writes_the_same_rows_and_keeps_the_gate(demo: None, django_assert_num_queries) -> None:  # type: ignore[no-untyped-def]
    """minerals_metrics_recompute (one batch: exposure and ownership control once, one
    transaction) writes what the one-by-one recompute writes; per mineral, the gate still
    skips a version already stored."""
    ids = list(Mineral.objects.values_list("id", flat=True).order_by("id"))
    for mineral_id in ids:
        services.mineral_metrics_recompute(mineral_id=mineral_id, force=True)
    one_by_one = _metric_rows()
    # 17 demo minerals. PostgreSQL: one query per mineral (its gate) plus a fixed number
    # (states, sources, production, the import inputs of all minerals, exposure once, the
    # writes, the 5 statements of all minerals' import rows). SQLite (pure path): about 6 per
    # mineral (gate, dataset choice, mapped codes' comparability, flows, exports, published
    # NIR; fewer without flows). Pinned for the demo: one-by-one it would be 17 x 33 = 561.
    with django_assert_num_queries(122 if connection.vendor == "sqlite" else 50):
        results = services.minerals_metrics_recompute(mineral_ids=ids, force=True)
    assert [r.mineral_id for r in results] == ids
    assert all(r.written for r in results)
    assert _metric_rows() == one_by_one
    # Current everywhere: without force nothing is computed or written (duplicate delivery).
    assert not any(r.written for r in services.minerals_metrics_recompute(mineral_ids=ids))
    assert _metric_rows() == one_by_one
