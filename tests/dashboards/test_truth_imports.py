"""Issue 11, the trade side: computed NIR only where sound, rare-earth heading 2846, basket
labels in the API, and `?edition=` / `--edition` on import rows and the published NIR.

Every expected value is computed by hand in the comments. The NIR cases run on the pure path
(SQLite) and, where PostgreSQL is configured, on the set-based statement too.
"""

from __future__ import annotations

import csv
import json
from datetime import date
from io import StringIO
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command

from dashboards import metric_sql, page_selectors, risk, selectors, services
from dashboards.models import ImportMetric
from minerals.imports import import_file
from minerals.models import (
    CommodityCode,
    CommodityMineral,
    DataSource,
    Mineral,
    ProductionRecord,
    QuantityBasis,
    SalientStatistic,
    TradeFlow,
)

AS_OF = date(2026, 11, 30)
pytestmark = pytest.mark.django_db


def _recompute(mineral: Mineral) -> None:
    services.mineral_metrics_recompute(mineral_id=mineral.pk, force=True)


def _paths() -> list[bool]:
    return [False, True] if metric_sql.supported() else [False]


def _usa_row(mineral: Mineral, year: int, *, set_based: bool) -> ImportMetric:
    ImportMetric.objects.filter(mineral=mineral).delete()
    target = Mineral.objects.get(pk=mineral.pk).data_version
    metrics = services.mineral_metrics_compute(mineral_id=mineral.pk, target=target, set_based=set_based)
    assert services.mineral_metrics_write(metrics, force=True)
    return ImportMetric.objects.get(mineral=mineral, destination_id="USA", year=year)


# ---------------------------------------------------------------------------------------------
# Item 1: the computed NIR, only where it is sound


@pytest.fixture
def testium(demo: None, settings):  # type: ignore[no-untyped-def]
    """A mineral with one HS code weighing the mineral as production counts it (content).

    Production 2030 (t): USA 100, CHN 900, World 1,000 -> USA 100,000 kg.
    Imports (USA's report, basis import): World 60,000 kg (USD 1,000), China 50,000 kg (USD 800).
    USA's own export records (basis export): to the World 20,000 kg, to Canada 5,000 kg (a part
    of the World row: the larger, 20,000 kg, counts). Canada's report of its imports from the
    USA (basis import, 7,000 kg) is the mirror of those exports: never added to them.
    NIR = (60,000 - 20,000) / (100,000 + 60,000 - 20,000) = 40,000 / 140,000 = 0.285714...
    """
    settings.LODESTONE_IMPORT_DESTINATIONS = ["USA"]
    mineral = Mineral.objects.create(slug="testium", name="Testium", canonical_unit="t")
    code = CommodityCode.objects.create(hs6="999931", description="Unwrought testium")
    CommodityMineral.objects.create(
        commodity_code=code, mineral=mineral, stage="refinery", quantity_basis=QuantityBasis.CONTENT
    )
    usgs = DataSource.objects.create(key="usgs-test", publisher="t", title="t", published_on=date(2031, 1, 31))
    for country, kind, quantity in (
        ("USA", "country", 100.0),
        ("CHN", "country", 900.0),
        (None, "world_total", 1000.0),
    ):
        ProductionRecord.objects.create(
            mineral=mineral, stage="refinery", row_kind=kind, country_id=country, year=2030, quantity=quantity,
            unit="t", source=usgs,
        )  # fmt: skip
    trade = DataSource.objects.create(key="trade-test", publisher="t", title="t", published_on=date(2031, 6, 1))
    rows = [
        (None, "USA", "import", 1000.0, 60_000.0), ("CHN", "USA", "import", 800.0, 50_000.0),
        ("USA", None, "export", 300.0, 20_000.0), ("USA", "CAN", "export", 80.0, 5_000.0),
        ("USA", "CAN", "import", 90.0, 7_000.0),
    ]  # fmt: skip
    TradeFlow.objects.bulk_create(
        TradeFlow(year=2030, exporter_id=e, importer_id=i, commodity_code=code, basis=b, value_usd=v, quantity_kg=q,
                  source=trade)
        for e, i, b, v, q in rows
    )  # fmt: skip
    return mineral


@pytest.mark.parametrize("set_based", _paths())
def test_computed_nir_counts_the_reporters_own_export_records(testium: Mineral, set_based: bool) -> None:
    row = _usa_row(testium, 2030, set_based=set_based)
    assert row.total_quantity_kg == pytest.approx(60_000.0)
    assert row.nir == pytest.approx(40_000 / 140_000)
    assert row.nir_note == ""
    # With the mirror (Canada's 7,000 kg) instead, it would be 53,000 / 153,000 = 0.346.


@pytest.mark.parametrize("set_based", _paths())
def test_computed_nir_without_export_records_is_unknown_not_zero_exports(testium: Mineral, set_based: bool) -> None:
    TradeFlow.objects.filter(basis="export").delete()
    row = _usa_row(testium, 2030, set_based=set_based)
    # Exports as 0 would give 60,000 / 160,000 = 0.375: a number nobody published.
    assert row.nir is None
    assert row.nir_note == "no export records: exports unknown"


@pytest.mark.parametrize("set_based", _paths())
def test_a_world_row_without_quantity_makes_the_computed_nir_unknown(testium: Mineral, set_based: bool) -> None:
    TradeFlow.objects.filter(exporter__isnull=True, importer_id="USA").update(quantity_kg=None)
    row = _usa_row(testium, 2030, set_based=set_based)
    # China's 50,000 kg would otherwise be 100 % of a total of 50,000 kg.
    assert row.total_quantity_kg is None
    assert row.import_china_share_by_quantity is None
    assert row.nir is None
    assert row.nir_note.startswith("import quantities unknown")


@pytest.mark.parametrize("set_based", _paths())
def test_gross_product_weight_is_never_set_against_contained_production(testium: Mineral, set_based: bool) -> None:
    CommodityMineral.objects.filter(mineral=testium).update(quantity_basis=QuantityBasis.GROSS)
    row = _usa_row(testium, 2030, set_based=set_based)
    assert row.nir is None
    assert row.nir_note == risk.NIR_GROSS_WEIGHT
    assert row.import_china_share == pytest.approx(0.8)  # the shares stay: 800 of USD 1,000


@pytest.mark.parametrize("set_based", _paths())
def test_a_basket_code_makes_the_computed_nir_unsound(testium: Mineral, set_based: bool) -> None:
    CommodityCode.objects.filter(hs6="999931").update(is_basket=True)
    row = _usa_row(testium, 2030, set_based=set_based)
    assert row.nir is None
    assert row.nir_note == risk.NIR_BASKET


def test_nir_comparability_of_mapped_codes() -> None:
    assert risk.nir_comparability([(False, "content"), (False, "content")]) == ""
    assert risk.nir_comparability([(False, "content"), (False, "gross")]) == risk.NIR_GROSS_WEIGHT
    assert risk.nir_comparability([(True, "content")]) == risk.NIR_BASKET
    assert risk.nir_comparability([]) == ""
    assert max(len(risk.NIR_BASKET), len(risk.NIR_GROSS_WEIGHT)) <= 100  # ImportMetric.nir_note
    assert risk.nir_unknown_reason(1.0, 1.0, 0.0, has_trade=True, not_comparable=risk.NIR_BASKET) == risk.NIR_BASKET
    assert risk.nir_unknown_reason(None, None, None, has_trade=False, not_comparable="x") == "no trade figures"


def test_demo_minerals_in_gross_weight_have_no_computed_nir(demo: None) -> None:
    # Cobalt's traded code 282200 (oxides and hydroxides) is gross product weight; cobalt mine
    # production is contained cobalt: no computed NIR, the published 76 % is the headline.
    cobalt = Mineral.objects.get(slug="cobalt")
    _recompute(cobalt)
    row = ImportMetric.objects.get(mineral=cobalt, destination_id="USA", year=2024)
    assert (row.nir, row.nir_note) == (None, risk.NIR_GROSS_WEIGHT)
    assert row.import_reliance == pytest.approx(0.76)
    # the EU supply-risk input IR is the published NIR on every stage's row
    risk_rows = selectors.mineral_metrics(mineral=cobalt, year=2024, as_of=AS_OF)["supply_risk"]
    assert risk_rows  # cobalt 2024: the demo's mine table (MCS 2025)
    assert all(r["import_reliance"] == pytest.approx(0.76) for r in risk_rows)


# ---------------------------------------------------------------------------------------------
# Item 4: rare-earth imports include heading 2846 (compounds), not only 280530 (metals)

# UN Comtrade, U.S.-reported imports 2024 (light_ree_trade_data.csv), USD:
# 280530 World 4,695,777, China 3,672,400; 2846 World 170,469,283, China 116,100,303.
WITH_2846 = (3_672_400 + 116_100_303) / (4_695_777 + 170_469_283)  # 0.68376 -> 68.4 %
WITHOUT_2846 = 3_672_400 / 4_695_777  # 0.78207 -> 78.2 %


def test_rare_earth_import_share_uses_heading_2846(demo: None) -> None:
    rare_earths = Mineral.objects.get(slug="rare-earths")
    assert set(rare_earths.commodity_codes.values_list("hs6", flat=True)) == {"280530", "2846"}
    _recompute(rare_earths)
    row = ImportMetric.objects.get(mineral=rare_earths, destination_id="USA", year=2024)
    assert row.import_china_share == pytest.approx(WITH_2846)
    assert f"{row.import_china_share:.1%}" == "68.4%"
    CommodityMineral.objects.filter(mineral=rare_earths, commodity_code_id="2846").delete()
    _recompute(rare_earths)
    row = ImportMetric.objects.get(mineral=rare_earths, destination_id="USA", year=2024)
    assert f"{row.import_china_share:.1%}" == "78.2%"
    assert row.import_china_share == pytest.approx(WITHOUT_2846)


HEADER = (
    "typeCode,freqCode,refPeriodId,refYear,refMonth,period,reporterCode,reporterISO,reporterDesc,flowCode,flowDesc,"
    "partnerCode,partnerISO,partnerDesc,partner2Code,partner2ISO,partner2Desc,classificationCode,"
    "classificationSearchCode,isOriginalClassification,cmdCode,cmdDesc,aggrLevel,isLeaf,customsCode,customsDesc,"
    "mosCode,motCode,motDesc,qtyUnitCode,qtyUnitAbbr,qty,isQtyEstimated,altQtyUnitCode,altQtyUnitAbbr,altQty,"
    "isAltQtyEstimated,netWgt,isNetWgtEstimated,grossWgt,isGrossWgtEstimated,cifvalue,fobvalue,primaryValue,"
    "legacyEstimationFlag,isReported,isAggregate"
)


def _comtrade_row(partner: int, code: str, value: float, kg: float, flow: str = "M") -> str:
    return (
        f"C,A,20240101,2024,52,2024,842,,,{flow},,{partner},,,0,,,H6,HS,True,{code},,,,C00,,0,0,,8,,{kg},False,8,,"
        f"{kg},False,{kg},False,0.0,False,{value},,{value},0,False,True"
    )


def _small_rare_earth_file(tmp_path: Path) -> Path:
    """The four 2024 rows of light_ree_trade_data.csv behind the 68.4 % (layout of the API
    extract), plus a heading 7502 row nobody stored (skipped, listed)."""
    path = tmp_path / "ree_2024.csv"
    lines = [
        HEADER,
        _comtrade_row(0, "280530", 4_695_777.0, 80_262.0),
        _comtrade_row(156, "280530", 3_672_400.0, 68_353.0),
        _comtrade_row(0, "2846", 170_469_283.0, 13_267_184.0),
        _comtrade_row(156, "2846", 116_100_303.0, 10_248_721.0),
        _comtrade_row(156, "7502", 103_205.0, 19_928.0),
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_comtrade_import_keeps_a_stored_heading_and_the_share_uses_it(demo: None, tmp_path, settings) -> None:  # type: ignore[no-untyped-def]
    settings.LODESTONE_IMPORT_REPORT_DIR = tmp_path / "reports"
    settings.LODESTONE_IMPORT_DESTINATIONS = ["USA"]
    # A fresh mineral on the small file only (the demo's own rows come from another source).
    mineral = Mineral.objects.create(slug="ree-test", name="REE test", canonical_unit="t")
    for code in ("280530", "2846"):
        CommodityMineral.objects.create(commodity_code_id=code, mineral=mineral, stage="refinery")
    TradeFlow.objects.filter(commodity_code_id__in=["280530", "2846"]).delete()
    outcome = import_file(importer="comtrade", path=_small_rare_earth_file(tmp_path))
    assert outcome.status == "succeeded", outcome.errors
    stored = TradeFlow.objects.filter(commodity_code_id="2846", year=2024, importer_id="USA")
    assert stored.get(exporter_id="CHN").value_usd == 116_100_303.0
    assert stored.get(exporter__isnull=True).quantity_kg == 13_267_184.0
    assert outcome.report["short_codes"] == ["7502"]  # a heading no curator stored: skipped, listed
    assert not TradeFlow.objects.filter(commodity_code_id="7502").exists()
    _recompute(mineral)
    with_heading = ImportMetric.objects.get(mineral=mineral, destination_id="USA", year=2024).import_china_share
    CommodityMineral.objects.filter(mineral=mineral, commodity_code_id="2846").delete()
    _recompute(mineral)
    without = ImportMetric.objects.get(mineral=mineral, destination_id="USA", year=2024).import_china_share
    assert (round(with_heading, 3), round(without, 3)) == (0.684, 0.782)


def test_a_heading_and_its_own_subheading_are_never_mapped_together(demo: None) -> None:
    rare_earths = Mineral.objects.get(slug="rare-earths")
    mapping = CommodityMineral(commodity_code_id="284690", mineral=rare_earths, stage="refinery")
    with pytest.raises(ValidationError, match="overlaps HS 2846"):
        mapping.full_clean()
    # another mineral may map the subheading; a heading of four digits is a valid code
    CommodityMineral(
        commodity_code_id="284690", mineral=Mineral.objects.get(slug="gallium"), stage="refinery"
    ).full_clean()
    CommodityCode(hs6="8105", description="Cobalt heading").full_clean()
    with pytest.raises(ValidationError):
        CommodityCode(hs6="81052", description="five digits").full_clean()


def test_demo_trade_rows_of_2846_are_the_comtrade_figures(demo: None) -> None:
    # demo/trade_flows.csv against the figures in docs: 2024, USD and kg as Comtrade reports them.
    flows = TradeFlow.objects.filter(commodity_code_id="2846", year=2024, importer_id="USA", source__key="comtrade")
    assert {(f.exporter_id, f.value_usd, f.quantity_kg) for f in flows} == {
        (None, 170_469_283.0, 13_267_184.0),
        ("CHN", 116_100_303.0, 10_248_721.0),
    }
    demo_csv = Path(__file__).resolve().parents[2] / "demo" / "commodity_codes.csv"
    heading = next(r for r in csv.DictReader(demo_csv.open()) if r["hs6"] == "2846")
    assert (heading["mineral"], heading["quantity_basis"]) == ("rare-earths", "gross")


# ---------------------------------------------------------------------------------------------
# Item 3: basket codes labelled as baskets in the API output too


def add_basket_flows() -> None:
    """One 2024 flow of the basket 811292 (Ga, Ge, In, Nb, V ...) from China, USD 194 of a World
    total of USD 1,000: gallium's China share (19.4 %) is the basket's, not gallium's."""
    comtrade = DataSource.objects.get(key="comtrade")
    for exporter, value, kg in (("CHN", 194.0, 1.0), (None, 1000.0, 5.0)):
        TradeFlow.objects.create(
            year=2024, exporter_id=exporter, importer_id="USA", commodity_code_id="811292", basis="import",
            value_usd=value, quantity_kg=kg, source=comtrade,
        )  # fmt: skip
    _recompute(Mineral.objects.get(slug="gallium"))


def test_metrics_label_basket_import_shares(demo: None) -> None:
    add_basket_flows()
    report = selectors.mineral_metrics(mineral="gallium", year=2024, as_of=AS_OF)
    row = report["imports"][0]
    assert row["import_china_share"] == pytest.approx(0.194)
    assert (row["shares_of"], row["basket_codes"]) == ("basket", ["811292"])
    basket = next(c for c in report["trade_codes"] if c["hs6"] == "811292")
    assert (basket["is_basket"], basket["traded"]) == (True, True)
    # the mineral page says it in its imports note
    from dashboards.page_content import mineral

    page = mineral(page_selectors.mineral_page(mineral=Mineral.objects.get(slug="gallium"), as_of=AS_OF), today=AS_OF)
    assert "Basket HS code(s) 811292 cover other products too" in page["tables"]["imports"].note
    # a mineral on its own codes only says so
    cobalt = selectors.mineral_metrics(mineral="cobalt", year=2024, as_of=AS_OF)["imports"][0]
    assert (cobalt["shares_of"], cobalt["basket_codes"]) == ("mineral", [])


# ---------------------------------------------------------------------------------------------
# Item 2: ?edition= and --edition apply to the import rows and the published NIR


def older_antimony_edition() -> DataSource:
    """MCS 2024 published antimony's 2023 NIR as 82 %, MCS 2025 as 83 % (issue 11, fault 1)."""
    antimony = Mineral.objects.get(slug="antimony")
    older = DataSource.objects.create(
        key="usgs-mcs-2024", publisher="USGS", title="MCS", edition="MCS 2024", published_on=date(2024, 1, 31)
    )
    SalientStatistic.objects.create(
        mineral=antimony, country_id="USA", year=2023, statistic="net_import_reliance", value=82.0, unit="percent",
        source=older,
    )  # fmt: skip
    _recompute(antimony)
    return older


def test_edition_gives_that_editions_published_nir(demo: None) -> None:
    older_antimony_edition()
    newest = selectors.mineral_metrics(mineral="antimony", year=2023, as_of=AS_OF)["imports"][0]
    assert newest["nir_published"] == pytest.approx(0.83)
    older = selectors.mineral_metrics(mineral="antimony", year=2023, as_of=AS_OF, edition="usgs-mcs-2024")
    assert older["imports"][0]["nir_published"] == pytest.approx(0.82)
    assert {s["key"] for s in older["imports"][0]["sources"]} == {"usgs-mcs-2024"}
    assert older["supply"] == []  # this test's MCS 2024 carries no antimony production table
    # an edition that does not publish a year's NIR gives none for it (not the newest's)
    assert (
        selectors.mineral_metrics(mineral="antimony", year=2024, as_of=AS_OF, edition="usgs-mcs-2024")["imports"] == []
    )
    # show_metrics --edition says the same (the API: tests/api/test_metrics_api.py)
    out = StringIO()
    call_command("show_metrics", mineral="antimony", year=2023, edition="usgs-mcs-2024", json=True, stdout=out)
    assert json.loads(out.getvalue())["imports"][0]["nir_published"] == pytest.approx(0.82)


def test_edition_of_a_trade_source_gives_its_import_rows(demo: None, settings) -> None:  # type: ignore[no-untyped-def]
    settings.LODESTONE_IMPORT_DESTINATIONS = ["USA"]
    cobalt = Mineral.objects.get(slug="cobalt")
    # A later trade extract revising cobalt's 2024 imports: China USD 500 of 1,000 (50 %); the
    # demo's Comtrade extract (the older edition now) has China 927,700 of 36,511,866 (2.54 %).
    revised = DataSource.objects.create(key="trade-rev", publisher="t", title="t", published_on=date(2026, 6, 1))
    for exporter, value in (("CHN", 500.0), (None, 1000.0)):
        TradeFlow.objects.create(
            year=2024, exporter_id=exporter, importer_id="USA", commodity_code_id="282200", basis="import",
            value_usd=value, source=revised,
        )  # fmt: skip
    _recompute(cobalt)
    assert ImportMetric.objects.get(mineral=cobalt, destination_id="USA", year=2024).import_china_share == 0.5
    older = selectors.mineral_metrics(mineral=cobalt, year=2024, as_of=AS_OF, edition="comtrade")["imports"][0]
    assert older["import_china_share"] == pytest.approx(927_700 / 36_511_866)
    assert "comtrade" in {s["key"] for s in older["sources"]}
    # a USGS edition holds no trade figures: its import rows keep the newest trade figures
    usgs = selectors.mineral_metrics(mineral=cobalt, year=2024, as_of=AS_OF, edition="usgs-mcs-2025")["imports"][0]
    assert usgs["import_china_share"] == 0.5
    assert usgs["nir_published"] == pytest.approx(0.76)


def test_mineral_page_edition_shows_that_editions_nir(demo: None, client) -> None:  # type: ignore[no-untyped-def]
    older_antimony_edition()
    data = page_selectors.mineral_page(
        mineral=Mineral.objects.get(slug="antimony"), as_of=AS_OF, edition="usgs-mcs-2024"
    )
    by_year = {r["year"]: r for r in data["metrics"]["imports"]}
    assert by_year[2023]["nir_published"] == pytest.approx(0.82)
    assert 2024 not in by_year  # MCS 2024 publishes no 2024 NIR of its own in this test
    page = client.get("/minerals/antimony/", {"edition": "usgs-mcs-2024"})
    assert page.status_code == 200


# ---------------------------------------------------------------------------------------------
# Fault 8 on the NIR: the published NIR of the most recent year is a USGS estimate, marked "e"


def test_published_nir_estimate_is_marked_everywhere(demo: None) -> None:
    from dashboards.downloads import table_rows
    from dashboards.page_content import mineral, overview

    # demo/salient.csv: antimony USA 2024 NIR 85, is_estimate true (MCS 2025); 2023: 83, not.
    antimony = Mineral.objects.get(slug="antimony")
    _recompute(antimony)
    rows = {r.year: r for r in ImportMetric.objects.filter(mineral=antimony, destination_id="USA")}
    assert (rows[2024].nir_published_estimate, rows[2023].nir_published_estimate) == (True, False)
    report = selectors.mineral_metrics(mineral=antimony, as_of=AS_OF)
    assert [(r["year"], r["nir_published_estimate"]) for r in report["imports"][:2]] == [(2024, True), (2023, False)]

    table = overview(page_selectors.minerals_overview(as_of=AS_OF), [], today=AS_OF)["tables"]["minerals"]
    index = next(i for i, c in enumerate(table.columns) if c.key == "nir")
    assert next(r for r in table.rows if r[0].text == "Antimony")[index].text == "85 % e"
    assert next(r for r in table_rows(table) if r[0] == "Antimony")[index] == "85 % e"  # the CSV download

    content = mineral(page_selectors.mineral_page(mineral=antimony, as_of=AS_OF), today=AS_OF)
    kpi = next(k for k in content["kpis"] if "net import reliance" in k["label"])
    assert kpi["value"] == "85 % e"
    imports = content["tables"]["imports"]
    column = next(i for i, c in enumerate(imports.columns) if c.key == "nir_published")
    assert [r[column].text for r in imports.rows[:2]] == ["85 % e", "83 %"]
