"""Parsing of the public data formats against small hand-written fixtures (no Django, no database)."""

from __future__ import annotations

import io
import tracemalloc
from pathlib import Path

import pycountry
import pytest

from minerals.importers.baci import load_baci_country_codes, parse_baci
from minerals.importers.comtrade import normalize_hs, parse_comtrade
from minerals.importers.country_names import (
    FOOTNOTE_LETTERS,
    UnknownCountryCode,
    is_aggregate_m49,
    m49_to_iso3,
    resolve_country,
    wgi_code_to_iso3,
)
from minerals.importers.csv_source import MAX_LINE_BYTES, read_csv
from minerals.importers.errors import ImportStats, ParseError
from minerals.importers.numbers import NumberFormatError, parse_usgs_number
from minerals.importers.usgs_commodities import mineral_slug_for, stage_for_measure
from minerals.importers.usgs_mcs import (
    CriticalMineralSummary,
    NetImportReliance,
    ProductionRow,
    SalientValue,
    parse_usgs_mcs,
)
from minerals.importers.wgi import parse_wgi

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
USGS = FIXTURES / "usgs"


def split(results):
    records, errors = [], []
    for item in results:
        (errors if isinstance(item, ParseError) else records).append(item)
    return records, errors


def one(records, **where):
    found = [r for r in records if all(getattr(r, k) == v for k, v in where.items())]
    assert len(found) == 1, (where, found)
    return found[0]


# ----------------------------------------------------------------- numbers


@pytest.mark.parametrize(
    ("raw", "value", "bound", "withheld"),
    [
        ("72000", 72000.0, "", False),
        ("72,000", 72000.0, "", False),
        (" 8.5 ", 8.5, "", False),
        ("\u221288", -88.0, "", False),
        ("W", None, "", True),
        (">50", 50.0, ">", False),
        ("<25", 25.0, "<", False),
        ("<100,000", 100000.0, "<", False),
        (">17,000,000", 17000000.0, ">", False),
        ("Less than 1/2 unit.", 0.5, "<", False),
        ("Less than 50,000\u00a0tons", 50000.0, "<", False),
    ],
)
def test_usgs_numbers(raw, value, bound, withheld):
    parsed = parse_usgs_number(raw)
    assert (parsed.value, parsed.bound, parsed.is_withheld) == (value, bound, withheld)


def test_usgs_number_text_forms():
    assert parse_usgs_number("") is None
    assert parse_usgs_number("   ") is None
    assert parse_usgs_number("NA").is_not_available
    assert parse_usgs_number("    NA").is_not_available
    assert parse_usgs_number("XX").is_not_available
    included = parse_usgs_number("Included in World total.")
    assert included.value is None
    assert included.note == "Included in World total."
    assert parse_usgs_number("50\u2013300").value is None
    assert parse_usgs_number("E", allow_net_exporter=True).is_net_exporter
    for bad in ("12x", "E", "1.2.3", "abc", "W2"):
        with pytest.raises(NumberFormatError):
            parse_usgs_number(bad)


# ----------------------------------------------------------------- countries


@pytest.mark.parametrize(
    ("name", "iso3"),
    [
        ("Korea, Republic of", "KOR"), ("Korea, North", "PRK"), ("Republic of Korea", "KOR"),
        ("Burma", "MMR"), ("Congo (Kinshasa)", "COD"), ("Congo (Brazzaville)", "COG"),
        ("Russia ", "RUS"), ("Russian Federation", "RUS"), ("Turkey", "TUR"), ("Türkiye", "TUR"),
        ("Laos", "LAO"), ("Vietnam", "VNM"), ("Iran", "IRN"), ("Côte d\u2019Ivoire", "CIV"),
        ("United\u00a0States", "USA"), ("Taiwan", "TWN"), ("Hong Kong SAR", "HKG"), ("Hong Kong", "HKG"),
        ("Japane", "JPN"), ("Korea, Republic ofe", "KOR"), ("Russiae", "RUS"),
        ("CHN", "CHN"), ("Other Asia, nes", "TWN"), ("Kosovo", "XKX"),
    ],
)  # fmt: skip
def test_resolve_country(name, iso3):
    assert resolve_country(name) == iso3


@pytest.mark.parametrize("name", ["World", "Other countries", "Atlantis", "Indian", "Dominican", "Chin", "", "china x"])
def test_resolve_country_unknown_or_aggregate(name):
    assert resolve_country(name) is None


def test_footnote_letter_rule_never_remaps_a_real_name():
    """Every real name resolves to itself; a footnote letter is only dropped from non-names."""
    names = []
    for country in pycountry.countries:
        for attr in ("name", "official_name", "common_name"):
            value = getattr(country, attr, None)
            if value:
                names.append((value, country.alpha_3))
                assert resolve_country(value) == country.alpha_3, value
    known = {n.casefold() for n, _ in names}
    for value, iso3 in names:
        for letter in FOOTNOTE_LETTERS:
            glued = value + letter
            # the glued form is never itself another country's name, so dropping the letter is safe
            assert glued.casefold() not in known, glued
            assert resolve_country(glued) == iso3
    # demonyms and plurals are not footnotes
    for word in ("Indian", "Nigerian", "Cuban", "Chinas", "Omani"):
        assert resolve_country(word) is None


def test_m49_codes():
    assert m49_to_iso3(842) == "USA"
    assert m49_to_iso3("156") == "CHN"
    assert m49_to_iso3(840) == "USA"
    assert m49_to_iso3(0) is None
    assert is_aggregate_m49(0)
    assert m49_to_iso3(490) == "TWN"
    assert not is_aggregate_m49(490)
    assert m49_to_iso3(899) is None
    assert is_aggregate_m49(899)
    assert m49_to_iso3(36) == "AUS"
    with pytest.raises(UnknownCountryCode):
        m49_to_iso3(12345)


def test_wgi_codes():
    assert [wgi_code_to_iso3(c) for c in ("ADO", "ROM", "ZAR", "TMP", "WBG", "KSV", "CHN")] == [
        "AND", "ROU", "COD", "TLS", "PSE", "XKX", "CHN",
    ]  # fmt: skip
    with pytest.raises(UnknownCountryCode):
        wgi_code_to_iso3("QQQ")


# ----------------------------------------------------------------- commodities


@pytest.mark.parametrize(
    ("name", "measure", "slug"),
    [
        ("Gallium ", "", "gallium"), ("Graphite (natural)", "", "graphite-natural"),
        ("Graphite", "", "graphite-natural"),
        ("Rare earths", "", "rare-earths"), ("Magnesium metal", "", "magnesium-metal"), ("Gemanium", "", "germanium"),
        ("Rare earths (compounds and metals)", "", "rare-earths"), ("Aluminum (bauxite)", "", "bauxite"),
        ("Platinum-Group metals", "Mine production, Palladium content", "palladium"),
        ("Platinum-Group metals", "Mine production, Platinum content", "platinum"),
        ("Titanium & titanium dioxide", "Sponge Metal Production", "titanium-metal"),
        ("Nitrogen(fixed) - Ammonia", "", "nitrogen-fixed-ammonia"), ("Unobtainium ore", "", "unobtainium-ore"),
    ],
)  # fmt: skip
def test_mineral_slugs(name, measure, slug):
    assert mineral_slug_for(name, measure) == slug


@pytest.mark.parametrize(
    ("measure", "stage"),
    [
        ("Mine production, antimony content", "mine"), ("Mine poduction, Kaolin", "mine"),
        ("Primary production", "refinery"), ("Refinery production, copper", "refinery"),
        ("Magnesium smelter production", "refinery"), ("Sponge Metal Production", "refinery"),
        ("Primary and secondary refinery production", "refinery"),
        ("Refinery production, alumina - calcined equivalent weights", "refinery"),
        ("Production, helium gas content", "mine"),
        ("Plant capacity, fused aluminum oxide", None), ("Pigment Capacity", None),
        ("Clinker capacity, estimated", None), ("Reserves, recoverable ore", None),
    ],
)  # fmt: skip
def test_stage_for_measure(measure, stage):
    assert stage_for_measure(measure) == stage


# ----------------------------------------------------------------- USGS world data (MCS 2025 layout)


@pytest.fixture(scope="module")
def world_2025():
    stats = ImportStats()
    records, errors = split(parse_usgs_mcs(USGS / "MCS2025_World_Data_sample.csv", stats=stats))
    return records, errors, stats


def test_world_2025_parses_without_errors(world_2025):
    records, errors, stats = world_2025
    assert errors == []
    assert all(isinstance(r, ProductionRow) for r in records)
    assert {r.edition for r in records} == {"MCS 2025"}
    assert stats.skipped["capacity series (out of scope)"] == 2
    assert stats.skipped["reserves series (out of scope)"] == 1
    assert stats.skipped["non-mass unit (carats, cubic meters)"] == 1
    assert stats.skipped["combined world total across series"] == 1


def test_world_2025_gallium(world_2025):
    records = world_2025[0]
    china = one(records, mineral_slug="gallium", country_iso3="CHN", year=2024)
    world = one(records, mineral_slug="gallium", row_kind="world_total", year=2024)
    assert (china.quantity, china.unit, china.stage, china.commodity) == (750000.0, "kg", "refinery", "Gallium")
    assert china.is_estimate
    assert china.line == 7
    assert world.quantity == 760000.0
    assert world.country_iso3 is None
    assert round(china.quantity / world.quantity * 100, 1) == 98.7
    # United States row is all empty: no record; Other Countries has no production figure
    assert not [r for r in records if r.mineral_slug == "gallium" and r.country_iso3 == "USA"]
    assert not [r for r in records if r.mineral_slug == "gallium" and r.row_kind == "other"]


def test_world_2025_quirks(world_2025):
    records = world_2025[0]
    antimony = one(records, mineral_slug="antimony", row_kind="world_total", year=2024)
    assert antimony.quantity == 100000.0
    assert antimony.country_name == "World total (rounded)"
    assert one(records, mineral_slug="antimony", country_iso3="CHN", year=2023).is_estimate
    assert not one(records, mineral_slug="antimony", country_iso3="RUS", year=2023).is_estimate
    assert one(records, mineral_slug="antimony", country_iso3="RUS", year=2024).is_estimate  # PROD_EST_ 2024
    brazil = one(records, mineral_slug="graphite-natural", country_iso3="BRA", year=2023)
    assert brazil.quantity == 66300.0
    assert "beneficiated" in brazil.notes
    turkey_w = one(records, mineral_slug="graphite-natural", country_iso3="TUR", year=2023)
    assert turkey_w.is_withheld
    assert turkey_w.quantity is None
    turkey_na = one(records, mineral_slug="graphite-natural", country_iso3="TUR", year=2024)
    assert not turkey_na.is_withheld
    assert turkey_na.quantity is None
    other_2023 = one(records, mineral_slug="graphite-natural", row_kind="other", year=2023)
    other_2024 = one(records, mineral_slug="graphite-natural", row_kind="other", year=2024)
    assert (other_2023.bound, other_2023.quantity, other_2024.bound, other_2024.quantity) == ("<", 25.0, ">", 50.0)
    magnesium = one(records, mineral_slug="magnesium-metal", country_iso3="CHN", year=2024)
    assert (magnesium.quantity, magnesium.unit) == (950000.0, "t")  # thousand metric tons -> t
    titanium = [r for r in records if r.mineral_slug == "titanium-metal"]
    assert [(t.year, t.is_withheld, t.quantity) for t in titanium] == [(2023, True, None), (2024, True, None)]
    ilmenite = one(records, mineral_slug="titanium-mineral-concentrates", country_iso3="CHN", year=2024)
    assert ilmenite.quantity == 3300000.0  # labelled metric tons, published in thousand metric tons
    palladium = one(records, mineral_slug="palladium", year=2024)
    assert (palladium.quantity, palladium.unit, palladium.stage) == (75000.0, "kg", "mine")
    indium = one(records, mineral_slug="indium", year=2023)
    assert (indium.quantity, indium.unit) == (19000.0, "kg")  # metric tons -> canonical kg


def test_world_2024_per_commodity_gallium():
    stats = ImportStats()
    records, errors = split(parse_usgs_mcs(USGS / "mcs2024-galli_world.csv", stats=stats))
    assert errors == []
    assert {r.edition for r in records} == {"MCS 2024"}
    assert one(records, country_iso3="JPN", year=2022).quantity == 3000.0
    assert one(records, country_iso3="JPN", year=2022).country_name == "Japane"
    assert one(records, country_iso3="KOR", year=2023).quantity == 2000.0
    assert one(records, row_kind="other", year=2023).country_name == "Other countries"
    china_2022 = one(records, country_iso3="CHN", year=2022)
    assert china_2022.is_estimate
    assert china_2022.unit == "kg"
    assert china_2022.mineral_slug == "gallium"
    assert not one(records, country_iso3="USA", year=2022).is_estimate
    assert one(records, row_kind="world_total", year=2023).quantity == 610000.0
    assert stats.skipped["blank row"] == 2


def test_world_2024_per_commodity_graphite_trailing_columns():
    records, errors = split(parse_usgs_mcs(USGS / "mcs2024-graph_world.csv"))
    assert errors == []
    assert one(records, country_iso3="BRA", year=2022).quantity == 72000.0
    assert one(records, country_iso3="BRA", year=2022).is_estimate  # "Also estimated in 2022"
    germany = one(records, country_iso3="DEU", year=2023)
    assert germany.quantity is None
    assert germany.notes == "Included in World total."
    assert one(records, country_iso3="RUS", year=2022).quantity == 16000.0  # 'Russiae'
    assert {r.mineral_slug for r in records} == {"graphite-natural"}


def test_salient():
    records, errors = split(parse_usgs_mcs(USGS / "mcs2025-galli_salient.csv"))
    assert errors == []
    assert all(isinstance(r, SalientValue) for r in records)
    imports = one(records, year=2023, column="Imports_Metal_kg")
    assert (imports.value, imports.unit, imports.statistic) == (11400.0, "kg", "imports")
    withheld = one(records, year=2024, column="USprod_Primary_kg", is_estimate=False)
    assert withheld.is_withheld
    assert withheld.statistic == "production"
    nir_bound = one(records, year=2024, column="NIR_pct", is_estimate=False)
    assert (nir_bound.value, nir_bound.bound, nir_bound.unit) == (50.0, ">", "percent")
    exporter = one(records, year=2024, column="NIR_pct", is_estimate=True)
    assert exporter.is_net_exporter
    assert exporter.value is None
    assert one(records, year=2023, column="Exports_kg").is_not_available
    assert one(records, year=2023, column="Price_High-purity_dkg").unit == "dkg"


def test_t5_table():
    records, errors = split(parse_usgs_mcs(USGS / "MCS2025_T5_sample.csv"))
    assert errors == []
    assert all(isinstance(r, CriticalMineralSummary) for r in records)
    gallium = one(records, mineral_slug="gallium")
    assert (gallium.year, gallium.is_estimate, gallium.leading_country_iso3) == (2024, True, "CHN")
    assert gallium.leading_country_share_pct.value == 99.0
    germanium = one(records, mineral_slug="germanium")
    assert germanium.leading_country_share_pct.is_not_available
    assert germanium.net_import_reliance.bound == ">"
    assert one(records, mineral_slug="indium").primary_import_source_iso3 == "KOR"
    zirconium = one(records, mineral_slug="zirconium")
    assert (zirconium.primary_production.bound, zirconium.primary_production.value) == ("<", 100000.0)


def test_fig2():
    records, errors = split(parse_usgs_mcs(USGS / "MCS2025_Fig2_sample.csv"))
    assert errors == []
    assert all(isinstance(r, NetImportReliance) for r in records)
    gallium = one(records, mineral_slug="gallium")
    assert (gallium.form, gallium.year, gallium.import_sources_iso3) == ("metal", 2024, ("JPN", "CHN", "DEU", "CAN"))
    assert one(records, mineral_slug="titanium-metal").reliance_pct.bound == ">"
    assert one(records, mineral_slug="aluminum").import_sources_iso3[-1] == "CHN"  # 'China3' footnote
    assert one(records, mineral_slug="niobium").import_sources_iso3 == ("BRA", "CAN")


# ----------------------------------------------------------------- malformed USGS files


def world_text() -> str:
    return (USGS / "MCS2025_World_Data_sample.csv").read_bytes().decode("utf-8-sig")


def write(tmp_path: Path, name: str, data: bytes | str) -> Path:
    path = tmp_path / name
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


def test_text_in_number_column(tmp_path):
    text = world_text().replace("1530000,1600000", "1530000,12x")
    records, errors = split(parse_usgs_mcs(write(tmp_path, "MCS2025_World_Data.csv", text)))
    assert len(errors) == 1
    error = errors[0]
    assert (error.line, error.column, error.value) == (15, "PROD_EST_ 2024", "12x")
    assert str(error) == (
        "MCS2025_World_Data.csv line 15, column PROD_EST_ 2024: '12x' is not a number "
        "(expected a number, W, NA, or a bound such as >50)"
    )
    assert one(records, mineral_slug="graphite-natural", row_kind="world_total", year=2023).quantity == 1530000.0


def test_unknown_country(tmp_path):
    text = world_text().replace("Austria,", "Atlantis,")
    _, errors = split(parse_usgs_mcs(write(tmp_path, "MCS2025_World_Data.csv", text)))
    assert [(e.line, e.column, e.value, e.problem) for e in errors] == [
        (11, "COUNTRY", "Atlantis", "is not a known country")
    ]


def test_truncated_file(tmp_path):
    text = world_text().rstrip("\r\n")
    text = text[: text.rindex(",Refinery production")]  # last row cut mid-way
    records, errors = split(parse_usgs_mcs(write(tmp_path, "MCS2025_World_Data.csv", text)))
    assert len(errors) == 1
    assert errors[0].line == 24
    assert "row has 3 fields" in str(errors[0])
    assert "truncated" in str(errors[0])
    assert records  # everything before the cut is kept


def test_wrong_header(tmp_path):
    path = write(tmp_path, "mystery.csv", "a,b,c\n1,2,3\n")
    records, errors = split(parse_usgs_mcs(path))
    assert records == []
    assert len(errors) == 1
    assert errors[0].line == 1
    assert "mystery.csv" in str(errors[0])
    assert "PROD_EST_<year>" in str(errors[0])


def test_bad_encoding_latin1(tmp_path):
    lines = world_text().split("\r\n")
    lines[1] = lines[1].replace("\u00a0", " ")  # keep line 2 valid: the bad byte is on line 11
    text = "\r\n".join(lines).replace("Austria", "\u00d6sterreich")
    data = b"\xef\xbb\xbf" + text.encode("latin-1")
    offset = data.index(b"\xd6")
    records, errors = split(parse_usgs_mcs(write(tmp_path, "MCS2025_World_Data.csv", data)))
    assert len(errors) == 1
    assert errors[0].line == 11
    assert f"byte offset {offset}" in str(errors[0])
    assert "'d6 73 74 65'" in str(errors[0])
    assert len(records) > 0  # rows before the bad line


def test_empty_file(tmp_path):
    _, errors = split(parse_usgs_mcs(write(tmp_path, "empty.csv", b"")))
    assert len(errors) == 1
    assert "is empty" in str(errors[0])


def test_missing_file(tmp_path):
    _, errors = split(parse_usgs_mcs(tmp_path / "nope.csv"))
    assert len(errors) == 1
    assert "cannot be opened" in str(errors[0])


def test_fifty_megabyte_line(tmp_path):
    path = tmp_path / "MCS2025_World_Data.csv"
    header = world_text().splitlines()[0]
    with path.open("wb") as fh:
        fh.write((header + "\r\n").encode())
        fh.write(b"MCS2025,Gallium,China,Primary production,kilograms,1,2,")
        chunk = b"x," * 500_000
        for _ in range(50):
            fh.write(chunk)
        fh.write(b"\r\nMCS2025,Gallium,Japan,Primary production,kilograms,1,2,,,,,,\r\n")
    tracemalloc.start()
    records, errors = split(parse_usgs_mcs(path))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert records == []
    assert len(errors) == 1
    assert errors[0].line == 2
    assert f"longer than {MAX_LINE_BYTES:,} bytes" in str(errors[0])
    assert peak < 20 * MAX_LINE_BYTES


def test_streams_from_binary_and_text_file_objects():
    data = (USGS / "mcs2024-galli_world.csv").read_bytes()
    from_bytes, errors = split(parse_usgs_mcs(io.BytesIO(data), commodity="Gallium"))
    assert errors == []
    assert len(from_bytes) == 12
    from_text, errors = split(parse_usgs_mcs(io.StringIO(data.decode("utf-8-sig"), newline=""), commodity="Gallium"))
    assert errors == []
    assert from_text == from_bytes


# ----------------------------------------------------------------- Comtrade


def test_comtrade_api_layout():
    stats = ImportStats()
    records, errors = split(parse_comtrade(FIXTURES / "comtrade" / "gallium_api_sample.csv", stats=stats))
    assert errors == []
    us_from_china = one(records, reporter_iso3="USA", partner_iso3="CHN")
    assert (us_from_china.flow, us_from_china.hs6, us_from_china.value_usd, us_from_china.quantity_kg) == (
        "M", "811292", 12636598.0, 35970.0,
    )  # fmt: skip
    assert (us_from_china.exporter_iso3, us_from_china.importer_iso3) == ("CHN", "USA")
    world = one(records, reporter_iso3="USA", partner_iso3=None, hs_code="811292")
    assert world.is_partner_aggregate
    assert world.quantity_kg == 282303.0
    china_exports = one(records, reporter_iso3="CHN")
    assert (china_exports.exporter_iso3, china_exports.importer_iso3, china_exports.quantity_kg) == ("CHN", "USA", None)
    assert one(records, partner_iso3="TWN").is_partner_aggregate is False
    areas = one(records, hs_code="028469")
    assert areas.is_partner_aggregate
    assert areas.partner_iso3 is None
    assert areas.hs6 == "028469"
    assert stats.skipped["flow RX (only M and X are imported)"] == 1
    assert stats.skipped["breakdown row (mode of transport / customs procedure / second partner)"] == 1


def test_comtrade_plus_layout_quoted_trailing_comma_cp1252():
    stats = ImportStats()
    records, errors = split(parse_comtrade(FIXTURES / "comtrade" / "comtradeplus_sample.csv", stats=stats))
    assert errors == []
    assert [(r.reporter_iso3, r.partner_iso3, r.hs_code) for r in records] == [
        ("AND", "TWN", "8542"), ("TUR", None, "8542"), ("AZE", "CHN", "8542"),
    ]  # fmt: skip
    assert records[0].value_usd == 47.601
    assert records[0].quantity_kg == 0.07
    assert records[2].quantity_kg is None  # NetWgt 0 and no kg quantity
    assert stats.skipped["lines decoded as cp1252 (rows kept)"] == 1


def test_comtrade_malformed(tmp_path):
    text = (FIXTURES / "comtrade" / "gallium_api_sample.csv").read_text()
    lines = text.splitlines(keepends=True)
    bad_value = lines[1].replace("12636598.0", "12x")
    bad_code = lines[2].replace(",842,", ",12345,", 1)
    truncated = lines[3][:40]
    path = write(tmp_path, "bad.csv", lines[0] + bad_value + bad_code + truncated)
    _, errors = split(parse_comtrade(path))
    assert [(e.line, e.column, e.value) for e in errors] == [
        (2, "primaryValue", "12x"),
        (3, "reporterCode", "12345"),
        (4, None, ""),
    ]
    _, errors = split(parse_comtrade(write(tmp_path, "x.csv", "a,b\n1,2\n")))
    assert len(errors) == 1
    assert "missing refyear" in str(errors[0])
    _, errors = split(
        parse_comtrade(write(tmp_path, "y.csv", (lines[0] + lines[1]).replace("United", "x").encode() + b"\xff\n"))
    )
    assert len(errors) == 1
    assert "not valid UTF-8" in str(errors[0])


def test_normalize_hs():
    assert [normalize_hs(c) for c in ("811292", "28469", "8105", "7", "TOTAL", "")] == [
        "811292", "028469", "8105", "07", None, None,
    ]  # fmt: skip


# ----------------------------------------------------------------- BACI


def test_baci():
    codes = load_baci_country_codes(FIXTURES / "baci" / "country_codes_V202401_sample.csv")
    assert codes[490] == "TWN"
    assert codes[899] is None
    assert codes[251] == "FRA"
    stats = ImportStats()
    records, errors = split(parse_baci(FIXTURES / "baci" / "BACI_HS22_Y2022_V202401_sample.csv", codes, stats=stats))
    assert errors == []
    first = records[0]
    assert (first.year, first.exporter_iso3, first.importer_iso3, first.hs6) == (2022, "CHN", "USA", "811292")
    assert first.value_usd == pytest.approx(1234567.0)
    assert first.quantity_kg == pytest.approx(12500.0)
    assert records[1].hs6 == "028469"
    assert records[1].quantity_kg is None
    assert records[2].quantity_kg is None  # blank
    assert records[3].exporter_iso3 == "TWN"
    assert stats.skipped["exporter or importer is not a country"] == 1
    filtered = list(parse_baci(FIXTURES / "baci" / "BACI_HS22_Y2022_V202401_sample.csv", codes, hs_codes={"250410"}))
    assert [r.hs6 for r in filtered] == ["250410"]


def test_baci_malformed(tmp_path):
    codes = {156: "CHN", 842: "USA"}
    path = write(tmp_path, "baci.csv", "t,i,j,k,v,q\n2022,156,842,811292,abc,1\n2022,156,777,811292,1,1\n2022,156\n")
    _, errors = split(parse_baci(path, codes))
    assert [(e.line, e.column, e.value) for e in errors] == [(2, "v", "abc"), (3, "j", "777"), (4, None, "2022,156")]
    _, errors = split(parse_baci(write(tmp_path, "wrong.csv", "year,exporter\n"), codes))
    assert "t,i,j,k,v,q" in str(errors[0])


# ----------------------------------------------------------------- WGI


def test_wgi_long_csv():
    records, errors = split(parse_wgi(FIXTURES / "wgi" / "wgi_long_sample.csv"))
    assert errors == []
    assert [(r.iso3, r.year, r.dimension, r.estimate) for r in records] == [
        ("CHN", 2022, "cc", -0.0405), ("CHN", 2022, "va", -1.6), ("AND", 2022, "cc", None), ("COD", 2022, "rl", -1.59),
    ]  # fmt: skip


def test_wgi_databank_csv():
    stats = ImportStats()
    records, errors = split(parse_wgi(FIXTURES / "wgi" / "wgi_databank_sample.csv", stats=stats))
    assert errors == []
    assert [(r.iso3, r.year, r.dimension, r.estimate) for r in records] == [
        ("CHN", 2021, "cc", 0.05), ("CHN", 2022, "cc", -0.04), ("XKX", 2021, "rl", None), ("XKX", 2022, "rl", -0.2),
    ]  # fmt: skip
    assert stats.skipped["series other than the estimate"] == 1


def _workbook(tmp_path: Path) -> Path:
    import openpyxl  # a runtime dependency (requirements.txt): never skipped

    wb = openpyxl.Workbook()
    intro = wb.active
    intro.title = "Introduction"
    intro["F2"] = "The Worldwide Governance Indicators, 2022 Update"
    full = wb.create_sheet("ControlofCorruption")
    full.append(["Control of Corruption"])
    full.append([])
    full.append([None, None, 2020, 2020, 2020, 2020, 2020, 2020, 2021, 2021, 2021, 2021, 2021, 2021])
    labels = ["Estimate", "StdErr", "NumSrc", "Rank", "Lower", "Upper"]
    full.append(["Country/Territory", "Code", *labels, *labels])
    full.append(["China", "CHN", 0.1, 0.2, 9, 50, 40, 60, 0.05, 0.2, 9, 50, 40, 60])
    full.append(["Andorra", "ADO", "#N/A", "#N/A", "#N/A", "#N/A", "#N/A", "#N/A", 1.3, 0.4, 1, 87, 72, 96])
    reduced = wb.create_sheet("Political StabilityNoViolence")
    reduced.append(["Political Stability and Absence of Violence/Terrorism"])
    reduced.append(["Country/Territory", "Code", 2020, 2021])
    reduced.append(["China", "CHN", -0.4, -0.48])
    reduced.append(["Kosovo", "KSV", "#N/A", -0.2])
    path = tmp_path / "wgidataset.xlsx"
    wb.save(path)
    return path


def test_wgi_workbook_2022_layout(tmp_path):
    stats = ImportStats()
    records, errors = split(parse_wgi(_workbook(tmp_path), stats=stats))
    assert errors == []
    assert [(r.iso3, r.year, r.dimension, r.estimate) for r in records] == [
        ("CHN", 2020, "cc", 0.1), ("CHN", 2021, "cc", 0.05), ("AND", 2020, "cc", None), ("AND", 2021, "cc", 1.3),
        ("CHN", 2020, "pv", -0.4), ("CHN", 2021, "pv", -0.48), ("XKX", 2020, "pv", None), ("XKX", 2021, "pv", -0.2),
    ]  # fmt: skip
    assert records[0].line == 5
    assert stats.skipped["sheet without WGI data: Introduction"] == 1


def test_wgi_malformed(tmp_path):
    path = write(tmp_path, "wgi.csv", "code,year,indicator,estimate\nCHN,2022,cc,abc\nQQQ,2022,cc,1\nCHN,20x2,cc,1\n")
    _, errors = split(parse_wgi(path))
    assert [(e.line, e.column, e.value) for e in errors] == [
        (2, "estimate", "abc"), (3, "code", "QQQ"), (4, "year", "20x2"),
    ]  # fmt: skip
    _, errors = split(parse_wgi(write(tmp_path, "other.csv", "a,b\n")))
    assert len(errors) == 1
    assert "DataBank" in str(errors[0])
    _, errors = split(parse_wgi(write(tmp_path, "broken.xlsx", b"not a zip")))
    assert len(errors) == 1
    assert "cannot be read as XLSX" in str(errors[0])


# ----------------------------------------------------------------- finite numbers (issue 16, probing 3)


def _comtrade_with_value(tmp_path: Path, value: str, weight: str = "35970.0") -> Path:
    lines = (FIXTURES / "comtrade" / "gallium_api_sample.csv").read_text(encoding="utf-8").splitlines()
    cells = lines[1].split(",")
    header = lines[0].split(",")
    cells[header.index("primaryValue")] = value
    cells[header.index("netWgt")] = weight
    return write(tmp_path, "comtrade.csv", "\n".join([lines[0], ",".join(cells)]) + "\n")


@pytest.mark.parametrize("value", ["nan", "NaN", "inf", "-Infinity", "1e306", "1e999", "-5"])
def test_comtrade_refuses_values_that_are_not_finite_or_in_range(tmp_path, value):
    records, errors = split(parse_comtrade(_comtrade_with_value(tmp_path, value)))
    assert records == []
    assert [(e.line, e.column, e.value, e.problem) for e in errors] == [
        (2, "primaryValue", value, "is not a finite number in range")
    ]
    assert "expected a finite number from 0 to 1e+15 (US dollars)" in str(errors[0])


@pytest.mark.parametrize("weight", ["nan", "inf", "1e306"])
def test_comtrade_refuses_weights_that_are_not_finite(tmp_path, weight):
    records, errors = split(parse_comtrade(_comtrade_with_value(tmp_path, "100.0", weight)))
    assert records == []
    assert [(e.line, e.column, e.value) for e in errors] == [(2, "netWgt", weight)]


def test_comtrade_largest_value_in_range_is_kept(tmp_path):
    records, errors = split(parse_comtrade(_comtrade_with_value(tmp_path, "1e15")))
    assert errors == []
    assert records[0].value_usd == 1e15


@pytest.mark.parametrize(
    ("row", "column", "value"),
    [
        ("2022,156,842,811292,nan,1", "v", "nan"),
        ("2022,156,842,811292,inf,1", "v", "inf"),
        ("2022,156,842,811292,1e306,1", "v", "1e306"),
        ("2022,156,842,811292,-1,1", "v", "-1"),
        ("2022,156,842,811292,10,nan", "q", "nan"),
        ("2022,156,842,811292,10,1e306", "q", "1e306"),
        ("2022,156,842,811292,10,-Infinity", "q", "-Infinity"),
    ],
)
def test_baci_refuses_numbers_that_are_not_finite_or_in_range(tmp_path, row, column, value):
    codes = load_baci_country_codes(FIXTURES / "baci" / "country_codes_V202401_sample.csv")
    path = write(tmp_path, "baci.csv", f"t,i,j,k,v,q\n{row}\n2022,156,842,811291,10,1\n")
    records, errors = split(parse_baci(path, codes))
    assert [(e.line, e.column, e.value, e.problem) for e in errors] == [
        (2, column, value, "is not a finite number in range")
    ]
    assert "from 0 to 1e+12" in errors[0].expected
    assert [r.hs6 for r in records] == ["811291"]  # the next row is read


@pytest.mark.parametrize("raw", ["9" * 400, "1" + "0" * 16])
def test_usgs_number_out_of_range_is_an_error(raw):
    with pytest.raises(NumberFormatError, match="finite number"):
        parse_usgs_number(raw)


@pytest.mark.parametrize("estimate", ["nan", "inf", "1e306"])
def test_wgi_refuses_estimates_that_are_not_finite(tmp_path, estimate):
    text = f"code,year,indicator,estimate\nCHN,2022,cc,{estimate}\nCHN,2022,va,-1.6\n"
    records, errors = split(parse_wgi(write(tmp_path, "wgi.csv", text)))
    assert [(e.line, e.column, e.value) for e in errors] == [(2, "estimate", estimate)]
    assert [r.dimension for r in records] == ["va"]


def test_a_quoted_record_spanning_lines_cannot_bypass_the_line_cap(tmp_path):
    # Every physical line is under the cap, but the quoted cells make one 12 MB record.
    cell = '"' + "x" * 300_000 + "\n" + "y" * 300_000 + '"'
    path = tmp_path / "spanning.csv"
    path.write_text("a,b\n" + ",".join([cell] * 20) + "\nlast,row\n", encoding="utf-8")
    tracemalloc.start()
    items = list(read_csv(path))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert items[0] == (1, ["a", "b"])
    error = items[-1]
    assert isinstance(error, ParseError)
    assert len(items) == 2
    assert error.line == 2
    assert f"starts a record (a quoted cell spanning lines) longer than {MAX_LINE_BYTES:,} bytes" in str(error)
    assert peak < 8 * MAX_LINE_BYTES


def test_a_record_spanning_lines_under_the_cap_is_read(tmp_path):
    path = write(tmp_path, "ok.csv", 'a,b\n"one\ntwo",3\n4,5\n')
    assert list(read_csv(path)) == [(1, ["a", "b"]), (2, ["one\ntwo", "3"]), (4, ["4", "5"])]
