"""The MCS 2026 long file (MCS2026_Commodities_Data.csv): parsed, stored beside older editions,
and the newest edition wins for a year."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from dashboards.inputs import data_sources, published_nir, supply_tables
from minerals.importers.errors import ImportStats, ParseError
from minerals.importers.usgs_mcs import ProductionRow, SalientValue, parse_usgs_mcs
from minerals.imports import import_file
from minerals.models import DataSource, Mineral, ProductionRecord, SalientStatistic

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "usgs" / "mcs2026" / "MCS2026_Commodities_Data.csv"
MALFORMED = FIXTURE.parents[1] / "mcs2026-malformed"


@pytest.fixture(autouse=True)
def _reports(tmp_path, settings):
    settings.LODESTONE_IMPORT_REPORT_DIR = tmp_path / "reports"


def parsed(path: Path = FIXTURE) -> tuple[list[ProductionRow], list[SalientValue], ImportStats]:
    stats = ImportStats()
    items = list(parse_usgs_mcs(path, stats=stats))
    assert [str(i) for i in items if isinstance(i, ParseError)] == []
    return (
        [i for i in items if isinstance(i, ProductionRow)],
        [i for i in items if isinstance(i, SalientValue)],
        stats,
    )


# ------------------------------------------------------------------------------- the parser (pure)


def test_the_fixture_is_windows_1252():
    raw = FIXTURE.read_bytes()
    assert b"\x97" in raw  # em dash in cp1252
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")


def test_world_production_rows():
    production, _, _ = parsed()
    rows = {(r.country_iso3 or r.row_kind, r.year): r for r in production}
    china = rows[("CHN", 2025)]
    assert (china.mineral_slug, china.stage, china.quantity, china.unit) == ("cobalt", "mine", 2000, "t")
    assert china.edition == "MCS 2026"
    assert china.is_estimate  # Notes "Estimated."
    assert not rows[("CHN", 2024)].is_estimate
    world = rows[("world_total", 2025)]
    assert (world.quantity, world.measure) == (310_000, "Mine production")  # ": rounded" is the row kind's
    assert rows[("other", 2025)].quantity == 9_100
    assert rows[("COD", 2025)].quantity == 230_000  # Congo (Kinshasa)


def test_em_dash_is_zero_na_is_no_figure_w_is_withheld():
    production, salient, _ = parsed()
    rows = {(r.country_iso3, r.year): r for r in production}
    assert rows[("DEU", 2025)].quantity == 0  # "—": USGS's zero
    morocco = rows[("MAR", 2025)]
    assert (morocco.quantity, morocco.is_withheld) == (None, False)
    us_mine = next(s for s in salient if s.statistic == "production")
    assert (us_mine.value, us_mine.is_withheld) == (None, True)


def test_salient_statistics_and_out_of_scope_rows():
    _, salient, stats = parsed()
    nir = {s.year: s for s in salient if s.statistic == "net_import_reliance"}
    assert (nir[2025].value, nir[2025].unit, nir[2025].is_estimate) == (76, "percent", True)
    assert (nir[2024].value, nir[2024].bound) == (50, ">")
    imports = [s for s in salient if s.statistic == "imports"]
    # by form and a total: only the total stands for the statistic; components are never summed
    assert [(s.value, s.is_primary) for s in imports] == [(5000, False), (300, False), (5300, True)]
    assert stats.skipped["world reserves (out of scope)"] == 1
    assert stats.skipped["import sources (not stored)"] == 1


def test_the_shared_utf8_extract_parses_too(shared_data):
    path = shared_data / "usgs-mcs-2026-sample" / "MCS2026_Commodities_Data-cobalt-copper.csv"
    production, salient, stats = parsed(path)
    assert (len(production), salient, stats.rows) == (104, [], 104)
    rows = {(r.mineral_slug, r.stage, r.country_iso3 or r.row_kind, r.year): r for r in production}
    assert rows[("copper", "mine", "DEU", 2024)].quantity == 0  # "—"
    assert rows[("copper", "refinery", "CHN", 2025)].quantity == 14_000_000  # thousand metric tons
    assert rows[("copper", "refinery", "world_total", 2025)].quantity == 29_000_000
    assert rows[("cobalt", "mine", "CHN", 2024)].is_estimate


# ------------------------------------------------------------------------------- loaded


def newest(slug: str, stage: str, year: int) -> tuple[str, float | None]:
    mineral = Mineral.objects.get(slug=slug)
    sources = data_sources()
    table = next(t for t in supply_tables([mineral.pk], sources) if (t.stage, t.year) == (stage, year))
    return sources[table.source_id].key, table.concentration.china_share


@pytest.mark.django_db
def test_the_2026_file_is_stored_beside_the_older_editions_and_wins_for_its_years(capsys):
    demo_2024 = ProductionRecord.objects.filter(mineral__slug="cobalt", year=2024, source__key="usgs-mcs-2025")
    kept = demo_2024.count()
    assert kept > 0
    call_command("import_usgs_mcs", str(FIXTURE), "--no-progress")
    assert "MCS2026_Commodities_Data.csv: imported" in capsys.readouterr().out
    source = DataSource.objects.get(key="usgs-mcs-2026")
    assert (source.edition, source.published_on) == ("MCS 2026", date(2026, 2, 6))
    assert demo_2024.count() == kept  # the older edition's figures stay stored
    key, china = newest("cobalt", "mine", 2024)
    assert key == "usgs-mcs-2026"
    assert china == pytest.approx(2000 / 302_000)
    cobalt = Mineral.objects.get(slug="cobalt")
    stated = published_nir([cobalt.pk], ["USA"], data_sources())[cobalt.pk]
    assert stated[("USA", 2025)]["value"] == 76
    imports = SalientStatistic.objects.get(mineral=cobalt, year=2025, statistic="imports", source=source)
    assert imports.value == 5300  # the total, not a component
    assert ProductionRecord.objects.get(mineral=cobalt, country_id="DEU", year=2025, source=source).quantity == 0


@pytest.mark.django_db
def test_a_malformed_2026_file_writes_nothing(capsys):
    with pytest.raises(CommandError, match="import failed"):
        call_command("import_usgs_mcs", str(MALFORMED), "--no-progress")
    captured = capsys.readouterr()
    assert "rejected (1 error)" in captured.out
    assert "column Value: 'about 230000' is not a number" in captured.err
    assert not ProductionRecord.objects.filter(source__key="usgs-mcs-2026").exists()


@pytest.mark.django_db
def test_the_shared_extract_imports_on_top_of_the_demo(shared_data, capsys):
    path = shared_data / "usgs-mcs-2026-sample" / "MCS2026_Commodities_Data-cobalt-copper.csv"
    outcome = import_file(importer="usgs_mcs", path=path)
    assert outcome.status == "succeeded", outcome.errors
    assert outcome.inserted == 104
    key, china = newest("cobalt", "mine", 2024)
    assert key == "usgs-mcs-2026"
    assert round(china * 100, 2) == 0.66  # 2,000 of 302,000 t (MCS 2026 revised the 2024 table)
    assert ProductionRecord.objects.filter(mineral__slug="cobalt", year=2024, source__key="usgs-mcs-2025").exists()
