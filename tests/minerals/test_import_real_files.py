"""The publishers' real files (../shared/data) loaded into the database; required in CI."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from minerals.imports import ImportOptions, import_file
from minerals.models import ProductionRecord, SalientStatistic, TradeFlow, WgiScore

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _reports(demo, tmp_path, settings):
    """The files are loaded on top of the demo dataset (its countries, minerals and sources), restored
    if a transactional test before this one emptied the database."""
    settings.LODESTONE_IMPORT_REPORT_DIR = tmp_path / "reports"


def share(slug: str, iso3: str, year: int = 2024, key: str = "usgs-mcs-2025") -> float:
    rows = ProductionRecord.objects.filter(mineral__slug=slug, year=year, source__key=key)
    country = rows.get(country_id=iso3)
    total = rows.get(row_kind="world_total", stage=country.stage)
    return country.quantity / total.quantity * 100


def test_world_data_on_top_of_the_demo(shared_data):
    path = shared_data / "usgs-mcs-2025" / "world_data" / "MCS2025_World_Data.csv"
    demo_rows = ProductionRecord.objects.filter(source__key="usgs-mcs-2025").count()
    outcome = import_file(importer="usgs_mcs", path=path)
    assert outcome.status == "succeeded", outcome.errors
    assert outcome.rows_read == 1250
    assert outcome.rejected == 0
    # the demo's rows are the same facts under the same source: updated in place, never duplicated
    # (20 demo rows, germanium/gallium/tellurium refinery, have no figure in the file and stay as they are)
    assert outcome.updated + outcome.unchanged == demo_rows - 20
    assert ProductionRecord.objects.filter(source__key="usgs-mcs-2025").count() == demo_rows + outcome.inserted
    assert round(share("gallium", "CHN"), 1) == 98.7
    assert round(share("graphite-natural", "CHN")) == 79
    assert round(share("rare-earths", "CHN")) == 69
    assert round(share("tungsten", "CHN")) == 83
    assert round(share("antimony", "CHN")) == 60
    germanium = ProductionRecord.objects.filter(mineral__slug="germanium", source__key="usgs-mcs-2025", year=2024)
    assert germanium.exists()
    assert all(r.is_withheld or r.quantity is None for r in germanium.filter(row_kind="world_total"))

    t5 = import_file(
        importer="usgs_mcs",
        path=shared_data / "usgs-mcs-2025" / "industry_trends" / "MCS2025_T5_Critical_Minerals_Salient.csv",
    )
    assert t5.status == "succeeded", t5.errors
    checked = [e for e in t5.report["t5"] if e["leading_share_pct"] and e["leading_share_pct"]["value"] is not None]
    assert len(checked) >= 25
    # Every mineral where USGS publishes a leading-producer share: the share computed from the
    # stored production rows (country / world total) rounds to the published whole percent.
    assert [e for e in checked if "computed_share_pct" not in e] == []
    for entry in checked:
        assert abs(entry["computed_share_pct"] - entry["leading_share_pct"]["value"]) <= 0.5, entry
    nir = SalientStatistic.objects.get(
        mineral__slug="gallium",
        country_id="USA",
        year=2024,
        statistic="net_import_reliance",
        source__key="usgs-mcs-2025",
    )
    assert nir.value == 100

    again = import_file(importer="usgs_mcs", path=path)
    assert again.status == "unchanged"


def test_mcs_2024_per_commodity_files_keep_their_edition(shared_data):
    folder = shared_data / "usgs-mcs-2024-sample"
    for path in sorted(folder.glob("*_world.csv")):
        outcome = import_file(importer="usgs_mcs", path=path)
        assert outcome.status == "succeeded", outcome.errors
    assert ProductionRecord.objects.filter(source__key="usgs-mcs-2024", mineral__slug="rare-earths").exists()


def test_all_salient_files_and_fig2(shared_data, capsys):
    # the official folders import as folders, without --skip-invalid (exit status 0)
    call_command("import_usgs_mcs", str(shared_data / "usgs-mcs-2025" / "world_data"), "--no-progress")
    call_command("import_usgs_mcs", str(shared_data / "usgs-mcs-2025" / "salient_commodity"), "--no-progress")
    out = capsys.readouterr().out
    assert "rejected (" not in out
    assert "succeeded" not in out
    assert out.count("_salient.csv: imported") == 85
    fig2 = import_file(
        importer="usgs_mcs",
        path=shared_data / "usgs-mcs-2025" / "industry_trends" / "MCS2025_Fig2_Net_Import_Reliance.csv",
    )
    assert fig2.status == "succeeded", fig2.errors
    assert SalientStatistic.objects.filter(statistic="net_import_reliance", mineral__slug="cesium").exists()


def test_comtrade_extracts(shared_data):
    for path in sorted((shared_data / "comtrade").glob("*_trade_data.csv")):
        outcome = import_file(importer="comtrade", path=path)
        assert outcome.status == "succeeded", (path.name, outcome.errors)
    assert TradeFlow.objects.filter(
        source__key="comtrade", basis="import", importer_id="USA", exporter__isnull=True
    ).exists()
    assert TradeFlow.objects.filter(source__key="comtrade", basis="export", exporter_id="CHN").exists()
    layout = import_file(
        importer="comtrade",
        path=shared_data / "comtrade" / "comtradeplus_download_sample_hs8542.csv",
        options=ImportOptions(dry_run=True),
    )
    assert layout.status == "succeeded", layout.errors


def test_wgi_workbook(shared_data):
    # Atomic, no row skipped: estimates below -3 (political stability, e.g. -3.18) are real.
    outcome = import_file(importer="wgi", path=shared_data / "wgi" / "wgidataset.xlsx", options=ImportOptions())
    assert outcome.status == "succeeded", outcome.errors
    score = WgiScore.objects.get(country_id="CHN", year=2021)
    assert score.source.key == "wgi-2022"
    assert -3 < score.control_of_corruption < 3
