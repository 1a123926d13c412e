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
