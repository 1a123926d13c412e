"""The parsers against the publishers' real files in ../shared/data (read-only reference copies)."""

from __future__ import annotations

import math

import pytest

from minerals.importers.comtrade import parse_comtrade
from minerals.importers.errors import ImportStats, ParseError
from minerals.importers.usgs_mcs import ProductionRow, parse_usgs_mcs
from minerals.importers.wgi import parse_wgi
from tests.conftest import SHARED_DATA as DATA
from tests.conftest import require

MCS2025 = DATA / "usgs-mcs-2025"


@pytest.fixture(scope="module", autouse=True)
def _shared_data():
    require(DATA.is_dir(), f"the shared data folder {DATA}")


def split(results):
    records, errors = [], []
    for item in results:
        (errors if isinstance(item, ParseError) else records).append(item)
    return records, errors


@pytest.fixture(scope="module")
def world():
    stats = ImportStats()
    records, errors = split(parse_usgs_mcs(MCS2025 / "world_data" / "MCS2025_World_Data.csv", stats=stats))
    assert errors == [], [str(e) for e in errors[:10]]
    return records, stats


def test_world_data_parses_fully(world):
    records, stats = world
    assert stats.rows == 1250
    assert stats.errors == 0
    assert len(records) > 2000
    assert all(isinstance(r, ProductionRow) for r in records)
    assert {r.unit for r in records} == {"kg", "t"}
    assert {r.stage for r in records} == {"mine", "refinery"}
    assert {r.row_kind for r in records} == {"country", "world_total", "other"}
    assert all(r.country_iso3 for r in records if r.row_kind == "country")
    # every skip has a stated reason; no production series disappears silently
    assert set(stats.skipped) <= {
        "capacity series (out of scope)", "reserves series (out of scope)", "capacity/reserves cell (out of scope)",
        "empty production cell", "non-mass unit (carats, cubic meters)", "combined world total across series",
        "unit label corrected (row kept): titanium-mineral-concentrates metric tons -> thousand metric tons",
        "unit label corrected (row kept): titanium-mineral-concentrates (empty) -> thousand metric tons",
    }  # fmt: skip


def test_gallium_2024(world):
    records, _ = world
    gallium = [r for r in records if r.mineral_slug == "gallium" and r.year == 2024]
    china = next(r for r in gallium if r.country_iso3 == "CHN")
    total = next(r for r in gallium if r.row_kind == "world_total")
    assert (china.quantity, total.quantity, china.unit) == (750000.0, 760000.0, "kg")
    assert round(china.quantity / total.quantity * 100, 1) == 98.7


def test_readme_checks(world):
    records, _ = world

    def share(slug, iso3="CHN"):
        rows = [r for r in records if r.mineral_slug == slug and r.year == 2024]
        country = next(r for r in rows if r.country_iso3 == iso3)
        total = next(r for r in rows if r.row_kind == "world_total" and r.measure == country.measure)
        return country.quantity / total.quantity * 100

    assert round(share("graphite-natural")) == 79
    assert round(share("rare-earths")) == 69
    assert round(share("tungsten")) == 83
    assert round(share("antimony")) == 60
    china_antimony_2023 = next(
        r for r in records if r.mineral_slug == "antimony" and r.country_iso3 == "CHN" and r.year == 2023
    )
    assert (china_antimony_2023.quantity, china_antimony_2023.edition) == (62300.0, "MCS 2025")
    assert not [r for r in records if r.mineral_slug == "germanium" and r.quantity is not None]


def half_up(x: float) -> int:
    return math.floor(x + 0.5)


# T5 minerals whose leading share is not computable from the world file, each with the reason.
T5_EXCEPTIONS = {
    "germanium": "USGS withholds germanium production: T5 publishes NA and the world file is empty",
    "scandium": "not in the world file; T5 publishes NA",
    "yttrium": "not in the world file; T5 publishes NA",
}
# T5 minerals whose world file holds several stages: the stage T5 refers to.
T5_STAGE = {"bauxite": "mine"}  # the alumina refinery series has Guinea at 0.2 %


def test_t5_leading_shares_match_world_file(world):
    records, _ = world
    t5, errors = split(parse_usgs_mcs(MCS2025 / "industry_trends" / "MCS2025_T5_Critical_Minerals_Salient.csv"))
    assert errors == []
    assert len(t5) == 31
    matched, mismatched = [], []
    for row in t5:
        published = row.leading_country_share_pct
        if row.mineral_slug in T5_EXCEPTIONS:
            assert published is None or published.value is None, row.mineral
            continue
        assert published is not None, row.mineral
        assert published.value is not None, row.mineral
        rows = [
            r for r in records
            if r.mineral_slug == row.mineral_slug and r.year == row.year
            and r.stage == T5_STAGE.get(row.mineral_slug, r.stage)
        ]  # fmt: skip
        country = [r for r in rows if r.country_iso3 == row.leading_country_iso3 and r.quantity is not None]
        assert len(country) == 1, (row.mineral, country)
        total = [r for r in rows if r.row_kind == "world_total" and r.measure == country[0].measure]
        assert len(total) == 1, (row.mineral, total)
        computed = country[0].quantity / total[0].quantity * 100
        (matched if half_up(computed) == published.value else mismatched).append(
            (row.mineral, computed, published.value)
        )
    assert mismatched == []
    assert len(matched) == 28


def test_mcs2024_sample_files_parse():
    folder = DATA / "usgs-mcs-2024-sample"
    files = sorted(folder.glob("mcs2024-*_world.csv"))
    assert len(files) == 3
    by_slug = {}
    for path in files:
        records, errors = split(parse_usgs_mcs(path))
        assert errors == [], [str(e) for e in errors]
        assert {r.edition for r in records} == {"MCS 2024"}
        by_slug[records[0].mineral_slug] = records
    assert set(by_slug) == {"gallium", "graphite-natural", "rare-earths"}
    japan = next(r for r in by_slug["gallium"] if r.country_iso3 == "JPN" and r.year == 2023)
    assert japan.quantity == 3000.0
    assert japan.country_name == "Japane"
    china_ree = next(r for r in by_slug["rare-earths"] if r.country_iso3 == "CHN" and r.year == 2023)
    assert (china_ree.quantity, china_ree.unit, china_ree.stage) == (240000.0, "t", "mine")


def test_salient_t5_fig2_parse():
    folder = MCS2025 / "salient_commodity"
    files = sorted(folder.glob("*_salient.csv"))
    assert len(files) == 85
    for path in files:
        records, errors = split(parse_usgs_mcs(path))
        assert errors == [], [str(e) for e in errors[:5]]
        assert records, path.name
    fig2, errors = split(parse_usgs_mcs(MCS2025 / "industry_trends" / "MCS2025_Fig2_Net_Import_Reliance.csv"))
    assert errors == []
    assert len(fig2) == 64
    gallium = next(r for r in fig2 if r.mineral_slug == "gallium")
    assert gallium.import_sources_iso3 == ("JPN", "CHN", "DEU", "CAN")
    assert gallium.reliance_pct.value == 100.0


def test_every_comtrade_file_parses():
    files = sorted((DATA / "comtrade").glob("*.csv"))
    assert len(files) == 8
    total = 0
    for path in files:
        stats = ImportStats()
        records, errors = split(parse_comtrade(path, stats=stats))
        assert errors == [], [str(e) for e in errors[:5]]
        assert records, path.name
        total += len(records)
    assert total > 800


def test_comtrade_gallium_values():
    records, _ = split(parse_comtrade(DATA / "comtrade" / "gallium_trade_data.csv"))
    row = next(
        r for r in records if r.year == 2020 and r.flow == "M" and r.reporter_iso3 == "USA" and r.partner_iso3 == "CHN"
    )
    assert (row.exporter_iso3, row.importer_iso3, row.hs6, row.value_usd, row.quantity_kg) == (
        "CHN", "USA", "811292", 12636598.0, 35970.0,
    )  # fmt: skip


def test_wgi_workbook_parses():
    stats = ImportStats()
    records, errors = split(parse_wgi(DATA / "wgi" / "wgidataset.xlsx", stats=stats))
    assert errors == []
    country_years = {(r.iso3, r.year) for r in records}
    assert 4000 < len(country_years) < 6000  # 214 economies x 23 years
    assert {r.dimension for r in records} == {"va", "pv", "ge", "rq", "rl", "cc"}
    assert {r.year for r in records} >= {1996, 2021}
    china = {r.dimension: r.estimate for r in records if r.iso3 == "CHN" and r.year == 2021}
    assert set(china) == {"va", "pv", "ge", "rq", "rl", "cc"}
    assert china["va"] < -1
