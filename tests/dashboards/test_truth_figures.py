"""Issue 11: the figures a buyer reads first (faults 2 to 6 and 8 on the pages' side).

Each test reproduces one fault on the demo dataset or on the pure functions.
"""

from __future__ import annotations

from datetime import date

import pytest

from dashboards import page_selectors, risk, services
from dashboards.models import ImportMetric
from minerals.models import Mineral

AS_OF = date(2026, 11, 30)


def _recompute(*slugs: str) -> None:
    for slug in slugs:
        services.mineral_metrics_recompute(mineral_id=Mineral.objects.get(slug=slug).pk, force=True)


def _overview_row(slug: str) -> dict:  # type: ignore[type-arg]
    rows = page_selectors.minerals_overview(as_of=AS_OF)["minerals"]
    return next(r for r in rows if r["slug"] == slug)


# ---------------------------------------------------------------------------------------------
# Fault 3: the published net import reliance is the headline; the computed one a cross-check.


@pytest.mark.django_db
def test_headline_nir_is_the_usgs_published_value(demo: None) -> None:
    # demo/salient.csv, MCS 2025: cobalt 2024 NIR 76 %, rare earths 80 % (compounds and metals).
    # The trade extract (oxides only for cobalt, no export rows) once gave 16.6 % and 0.18 %.
    _recompute("cobalt", "rare-earths")
    for slug, published in (("cobalt", 0.76), ("rare-earths", 0.80)):
        row = ImportMetric.objects.get(mineral__slug=slug, destination_id="USA", year=2024)
        assert row.import_reliance == pytest.approx(published)
        overview = _overview_row(slug)
        assert (overview["nir"], overview["nir_year"]) == (pytest.approx(published), 2024)


@pytest.mark.django_db
def test_computed_nir_is_unknown_without_export_records_with_a_reason(demo: None) -> None:
    # The demo has no U.S. export rows: exports are unknown, not zero, so no computed NIR.
    _recompute("cobalt", "lithium")
    for slug in ("cobalt", "lithium"):
        row = ImportMetric.objects.get(mineral__slug=slug, destination_id="USA", year=2024)
        assert row.nir is None
        assert row.nir_note


@pytest.mark.django_db
def test_world_row_without_quantity_makes_quantity_shares_unknown(demo: None) -> None:
    # demo/trade_flows.csv 2024 HS 282200: World USD 36.5 M without quantity, China 59,583 kg:
    # China's share by quantity is unknown, not 100 %.
    _recompute("cobalt")
    row = ImportMetric.objects.get(mineral__slug="cobalt", destination_id="USA", year=2024)
    assert row.import_china_share_by_quantity is None
    assert row.total_quantity_kg is None
    assert row.partner_shares_by_quantity == []


def test_import_dependence_quantity_unknown_when_a_flow_has_none() -> None:
    flows = [risk.ImportFlow("CHN", 100.0, 10.0), risk.ImportFlow(None, 900.0, None)]
    result = risk.import_dependence(flows)
    assert result.total_quantity_kg is None
    assert result.import_china_share_by_quantity is None
    assert result.partner_shares_by_quantity == ()
    assert result.import_china_share == pytest.approx(0.1)


def test_net_exporter_counts_as_zero_reliance() -> None:
    assert risk.published_import_reliance(None, bound="", withheld=False, net_exporter=True) == 0.0
    assert risk.published_import_reliance(None, bound="", withheld=True, net_exporter=False) is None
    assert risk.published_import_reliance(None, bound="", withheld=False, net_exporter=False) is None
    assert risk.published_import_reliance(50.0, bound=">", withheld=False, net_exporter=False) == 0.5


# ---------------------------------------------------------------------------------------------
# Fault 2: a country absent from a table is unknown (an upper bound where "Other countries" is
# published), never 0 % and never complete; withheld and not published are told apart.


def test_country_absent_from_table_is_unknown_with_the_other_countries_bound() -> None:
    # MCS 2025 cobalt mine 2024: China not listed; Other countries 6,200 t of 290,000 t.
    figures = [risk.ProductionFigure("COD", 220_000.0), risk.ProductionFigure("IDN", 28_000.0)]
    result = risk.supply_concentration(figures, 290_000.0, residual=6_200.0)
    assert result.china_share is None
    assert result.china_share_upper == pytest.approx(6_200 / 290_000)
    assert result.complete is False
    without_residual = risk.supply_concentration(figures, 290_000.0)
    assert (without_residual.china_share, without_residual.china_share_upper) == (None, None)


def test_not_published_is_not_withheld() -> None:
    figures = [
        risk.ProductionFigure("CHN", 100.0),
        risk.ProductionFigure("USA", None, withheld=True),
        risk.ProductionFigure("RUS", None),  # NA or empty: not published
    ]
    result = risk.supply_concentration(figures, 120.0)
    assert result.withheld_countries == ("USA",)
    assert result.unpublished_countries == ("RUS",)
    assert result.complete is False


def test_import_hhi_unknown_when_few_partners_are_named() -> None:
    # Cobalt 2024: China USD 0.93 M named of a World total of USD 36.5 M (2.5 %): HHI is unknown.
    flows = [risk.ImportFlow("CHN", 927_700.0), risk.ImportFlow(None, 36_511_866.0 - 927_700.0)]
    result = risk.import_dependence(flows)
    assert result.import_hhi is None
    assert result.import_hhi_band is None
    assert result.import_china_share == pytest.approx(927_700 / 36_511_866)
    named = risk.import_dependence([risk.ImportFlow("CHN", 95.0), risk.ImportFlow(None, 5.0)])
    assert named.import_hhi == pytest.approx(10_000 * 0.95**2)


@pytest.mark.django_db
def test_overview_shows_cobalt_china_mining_as_a_bound_not_zero(demo: None) -> None:
    from dashboards.models import SupplyMetric
    from dashboards.page_content import overview

    _recompute("cobalt")
    row = SupplyMetric.objects.get(mineral__slug="cobalt", stage="mine", year=2024)
    assert row.china_share is None
    assert row.china_share_upper == pytest.approx(6_200 / 290_000)
    assert row.complete is False
    data = page_selectors.minerals_overview(as_of=AS_OF)
    table = overview(data, [], today=AS_OF)["tables"]["minerals"]
    index = next(i for i, c in enumerate(table.columns) if c.key == "china_mine")
    cobalt = next(r for r in table.rows if r[0].text == "Cobalt")
    assert cobalt[index].text == "\u2264 2.1 %"
    assert cobalt[index].value is None


# ---------------------------------------------------------------------------------------------
# Fault 6: rank and colour by the stage most dominated by China; mining and refining side by side.


def test_dominant_stage_is_the_one_china_dominates() -> None:
    # Cobalt: China ~0 % of mining (not listed), ~75 % of refining.
    assert risk.dominant_stage({"mine": None, "refinery": 0.75}) == "refinery"
    assert risk.dominant_stage({"mine": 0.02, "refinery": 0.75}) == "refinery"
    assert risk.dominant_stage({"mine": 0.80, "refinery": 0.60}) == "mine"  # not refining by habit
    assert risk.dominant_stage({"mine": 0.5, "refinery": 0.5}) == "refinery"
    assert risk.dominant_stage({"mine": None}) == "mine"
    assert risk.dominant_stage({}) is None


@pytest.mark.django_db
def test_overview_headline_stage_follows_china_dominance(demo: None) -> None:
    # Demo rare earths: mine only; gallium: refinery only; a mine-only mineral keeps mining.
    from dashboards.models import SupplyMetric

    _recompute("copper")
    mine = SupplyMetric.objects.get(mineral__slug="copper", stage="mine", year=2024).china_share
    refinery = SupplyMetric.objects.get(mineral__slug="copper", stage="refinery", year=2024).china_share
    expected = "refinery" if refinery >= mine else "mine"
    row = _overview_row("copper")
    assert row["headline_stage"] == expected
    assert row["mine"]["china_share"] == pytest.approx(mine)
    assert row["refinery"]["china_share"] == pytest.approx(refinery)


# ---------------------------------------------------------------------------------------------
# Fault 4 and 8: each edition's row shows that edition's figures, estimates marked.


def test_trend_rows_show_each_editions_own_share_and_mark_estimates() -> None:
    from dashboards.page_content import _trend_cell, trend_records
    from dashboards.tables import Column

    editions = [
        {"stage": "refinery", "year": 2024, "source": "usgs-mcs-2025", "edition": "MCS 2025",
         "china_quantity": 750_000.0, "world_quantity": 760_000.0, "unit": "kg", "china_estimate": True},
        {"stage": "refinery", "year": 2024, "source": "usgs-mcs-2026", "edition": "MCS 2026",
         "china_quantity": 752_000.0, "world_quantity": 760_000.0, "unit": "kg"},
    ]  # fmt: skip
    supply = [
        {"stage": "refinery", "year": 2024, "china_share": 752 / 760, "feoc_share": 0.99,
         "sources": [{"key": "usgs-mcs-2026"}]},
    ]  # fmt: skip
    older, newer = trend_records(editions, supply)
    assert older["china_share"] == pytest.approx(750 / 760)  # 98.7 % in MCS 2025
    assert newer["china_share"] == pytest.approx(752 / 760)  # 98.9 % in MCS 2026
    assert (older["feoc_share"], newer["feoc_share"]) == (None, 0.99)
    share = Column("china_share", "China", "share")
    assert _trend_cell(share, older)["text"] == "98.7 % e"
    assert _trend_cell(share, newer) == {}


# ---------------------------------------------------------------------------------------------
# Fault 5: basket HS codes are shown as a basket; codes without trade rows are a labelled gap.


@pytest.mark.django_db
def test_basket_import_share_is_labelled_as_a_basket(demo: None) -> None:
    from dashboards.page_content import overview
    from minerals.models import CommodityCode, DataSource, TradeFlow

    # One real-shaped flow of the basket 811292 (gallium, germanium, indium ...): the overview must
    # not present its China share as gallium's own.
    TradeFlow.objects.create(
        year=2024,
        exporter_id="CHN",
        importer_id="USA",
        commodity_code=CommodityCode.objects.get(pk="811292"),
        basis="import",
        value_usd=1.0,
        source=DataSource.objects.get(key="comtrade"),
    )
    data = page_selectors.minerals_overview(as_of=AS_OF)
    gallium = next(r for r in data["minerals"] if r["slug"] == "gallium")
    assert gallium["imports_basket"] is True
    gallium["import_china_share"] = 0.194
    table = overview(data, [], today=AS_OF)["tables"]["minerals"]
    index = next(i for i, c in enumerate(table.columns) if c.key == "import_china_share")
    row = next(r for r in table.rows if r[0].text == "Gallium")
    assert "basket" in row[index].text
    assert row[index].text.startswith("19.4 %")


@pytest.mark.django_db
def test_mapped_codes_without_trade_rows_are_named_as_a_gap(demo: None) -> None:
    # demo/trade_flows.csv holds cobalt's HS 282200 (oxides) only; 260500 (ores) and 810520
    # (unwrought cobalt) are mapped without rows: the page says the share covers 282200 only.
    data = page_selectors.mineral_page(mineral=Mineral.objects.get(slug="cobalt"), as_of=AS_OF)
    untraded = {c["hs6"] for c in data["trade_codes"] if not c["traded"]}
    assert untraded == {"260500", "810520"}
    from dashboards.page_content import mineral

    content = mineral(data, today=AS_OF)
    assert "No trade rows for HS 260500, 810520" in content["tables"]["imports"].note


# ---------------------------------------------------------------------------------------------
# Contracts: show_metrics --edition and /api/v1/metrics/?edition= (null + a separate bound field).


def _older_gallium_edition() -> None:
    from minerals.models import DataSource, ProductionRecord

    gallium = Mineral.objects.get(slug="gallium")
    # MCS 2025 is dated 2025-01-31 (issue 11 fault 1, branch truth-usgs); set here if the demo predates it.
    DataSource.objects.filter(key="usgs-mcs-2025", published_on__isnull=True).update(published_on=date(2025, 1, 31))
    older = DataSource.objects.create(
        key="usgs-mcs-2024", publisher="USGS", title="MCS", edition="MCS 2024", published_on=date(2024, 1, 31)
    )
    ProductionRecord.objects.create(
        mineral=gallium, stage="refinery", country_id="CHN", year=2024, quantity=600.0, unit="kg", source=older
    )
    ProductionRecord.objects.create(
        mineral=gallium, stage="refinery", row_kind="world_total", year=2024, quantity=1000.0, unit="kg", source=older
    )
    _recompute("gallium")


@pytest.mark.django_db
def test_show_metrics_edition_reports_that_editions_figures(demo: None) -> None:
    import json
    from io import StringIO

    from django.core.management import call_command
    from django.core.management.base import CommandError

    _older_gallium_edition()
    out = StringIO()
    call_command("show_metrics", mineral="gallium", year=2024, json=True, stdout=out)
    newest = json.loads(out.getvalue())
    assert newest["edition"] is None
    assert round(newest["supply"][0]["china_share"], 3) == 0.987  # MCS 2025 (published 2025-01-31)
    out = StringIO()
    call_command("show_metrics", mineral="gallium", year=2024, edition="usgs-mcs-2024", json=True, stdout=out)
    older = json.loads(out.getvalue())
    assert older["edition"] == "usgs-mcs-2024"
    assert older["supply"][0]["china_share"] == 0.6
    assert older["supply"][0]["sources"][0]["key"] == "usgs-mcs-2024"
    assert "china_share_upper" in older["supply"][0]
    with pytest.raises(CommandError, match="unknown edition"):
        call_command("show_metrics", mineral="gallium", edition="usgs-mcs-1999", json=True, stdout=StringIO())


@pytest.mark.django_db
def test_mineral_page_takes_the_edition(demo: None, client) -> None:  # type: ignore[no-untyped-def]
    _older_gallium_edition()
    page = client.get("/minerals/gallium/", {"edition": "usgs-mcs-2024"})
    assert page.status_code == 200
    assert 'data-value="0.6"' in page.content.decode() or "60.0 %" in page.content.decode()
    assert client.get("/minerals/gallium/", {"edition": "usgs-mcs-1999"}).status_code == 404


# ---------------------------------------------------------------------------------------------
# Fault 8: estimates are marked wherever the figure is shown.


def test_estimated_rows_are_carried_by_the_concentration() -> None:
    figures = [risk.ProductionFigure("CHN", 750.0, estimate=True), risk.ProductionFigure("JPN", 3.0)]
    assert risk.supply_concentration(figures, 760.0).estimated_countries == ("CHN",)


@pytest.mark.django_db
def test_overview_marks_china_estimate_with_e(demo: None) -> None:
    from dashboards.models import SupplyMetric
    from dashboards.page_content import overview

    # demo/production.csv: gallium 2024 CHN 750,000 kg is an estimate (is_estimate true, MCS 2025).
    _recompute("gallium")
    assert "CHN" in SupplyMetric.objects.get(mineral__slug="gallium", stage="refinery", year=2024).estimated_countries
    table = overview(page_selectors.minerals_overview(as_of=AS_OF), [], today=AS_OF)["tables"]["minerals"]
    index = next(i for i, c in enumerate(table.columns) if c.key == "china_refinery")
    gallium = next(r for r in table.rows if r[0].text == "Gallium")
    assert gallium[index].text == "98.7 % e"


@pytest.mark.django_db
def test_csv_download_keeps_bounds_and_estimates(demo: None) -> None:
    from dashboards.downloads import table_rows
    from dashboards.page_content import overview

    _recompute("cobalt", "gallium")
    table = overview(page_selectors.minerals_overview(as_of=AS_OF), [], today=AS_OF)["tables"]["minerals"]
    rows = table_rows(table)
    index = next(i for i, c in enumerate(table.columns) if c.key == "china_mine")
    cobalt = next(r for r in rows if r[0] == "Cobalt")
    assert cobalt[index] == "\u2264 2.1 %"  # never an empty cell or 0
    refinery = next(i for i, c in enumerate(table.columns) if c.key == "china_refinery")
    assert next(r for r in rows if r[0] == "Gallium")[refinery] == "98.7 % e"
