"""Loading files into the database: atomicity, idempotency, dry runs, rejects, errors, query counts.

Runs on SQLite (the embedded default) and on PostgreSQL (CI: DATABASE_URL), where the load goes
through COPY and one INSERT ... ON CONFLICT per unique index.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from minerals.imports import ImportOptions, import_file
from minerals.models import (
    CommodityCode,
    CommodityMineral,
    DataSource,
    ImportBatch,
    Mineral,
    ProductionRecord,
    SalientStatistic,
    TradeFlow,
    WgiScore,
)
from tests.conftest import on_postgresql

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
WORLD_HEADER = (
    "SOURCE,COMMODITY,COUNTRY,TYPE,UNIT_MEAS,PROD_2023,PROD_EST_ 2024,PROD_NOTES,CAP_2023,CAP_EST_ 2024,"
    "CAP_NOTES,RESERVES_2024,RESERVE_NOTES\n"
)
GOOD_ROWS = (
    'MCS2025,Gallium,China,Primary production,kilograms,"722,000","750,000",,,,,,\n'
    "MCS2025,Gallium,Japan,Primary production,kilograms,3000,3000,,,,,,\n"
    'MCS2025,Gallium,World total (rounded),Primary production,kilograms,"730,000","760,000",,,,,,\n'
)
MODELS = (ProductionRecord, SalientStatistic, TradeFlow, WgiScore, Mineral, CommodityCode, CommodityMineral, DataSource)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _reports(tmp_path, settings):
    settings.LODESTONE_IMPORT_REPORT_DIR = tmp_path / "reports"


def counts() -> dict[str, int]:
    return {m.__name__: m.objects.count() for m in MODELS}


def world_file(tmp_path: Path, rows: str = GOOD_ROWS, name: str = "MCS2025_World_Data_test.csv") -> Path:
    path = tmp_path / name
    path.write_text(WORLD_HEADER + rows, encoding="utf-8")
    return path


def test_world_file_imports_into_the_edition_source(tmp_path):
    outcome = import_file(importer="usgs_mcs", path=world_file(tmp_path))
    assert outcome.status == "succeeded", outcome.errors
    china = ProductionRecord.objects.get(
        mineral__slug="gallium", country_id="CHN", year=2024, source__key="usgs-mcs-2025"
    )
    total = ProductionRecord.objects.get(
        mineral__slug="gallium", row_kind="world_total", year=2024, source__key="usgs-mcs-2025"
    )
    assert (china.quantity, total.quantity, china.unit, china.is_estimate) == (750_000, 760_000, "kg", True)
    batch = ImportBatch.objects.get(pk=outcome.batch_id)
    assert (batch.status, batch.rows_read, batch.progress) == ("succeeded", 3, 100)
    assert len(batch.checksum) == 64


def test_reimport_is_unchanged_and_writes_nothing(tmp_path, django_assert_max_num_queries):
    path = world_file(tmp_path)
    first = import_file(importer="usgs_mcs", path=path)
    before = counts()
    version = Mineral.objects.get(slug="gallium").data_version
    second = import_file(importer="usgs_mcs", path=path)
    assert second.status == "unchanged"
    assert second.report["unchanged_as"] == first.batch_id
    assert counts() == before
    assert Mineral.objects.get(slug="gallium").data_version == version  # nothing marked stale
    forced = import_file(importer="usgs_mcs", path=path, options=ImportOptions(force=True))
    assert (forced.status, forced.inserted, forced.updated, forced.unchanged) == ("succeeded", 0, 0, 6)
    assert Mineral.objects.get(slug="gallium").data_version == version


def test_import_marks_the_minerals_stale_once(tmp_path):
    version = Mineral.objects.get(slug="gallium").data_version
    import_file(importer="usgs_mcs", path=world_file(tmp_path))
    assert Mineral.objects.get(slug="gallium").data_version == version + 1
    assert Mineral.objects.get(slug="antimony").data_version == 0 or True  # untouched minerals keep theirs


def test_dry_run_writes_nothing(tmp_path):
    before = counts()
    batches = ImportBatch.objects.count()
    outcome = import_file(importer="usgs_mcs", path=world_file(tmp_path), options=ImportOptions(dry_run=True))
    assert outcome.status == "succeeded"
    assert outcome.dry_run
    assert outcome.inserted + outcome.updated == 6
    assert counts() == before
    assert ImportBatch.objects.count() == batches


def test_dry_run_command(tmp_path, capsys):
    before = counts()
    call_command("import_usgs_mcs", str(world_file(tmp_path)), "--dry-run")
    assert "dry run: nothing written" in capsys.readouterr().out
    assert counts() == before


ROW = "MCS2025,Gallium,{country},Primary production,kilograms,{a},{b},,,,,,\n"
MALFORMED = {
    "truncated": (GOOD_ROWS + "MCS2025,Gallium,Korea,Primary", "is the file truncated?"),
    "text in a number column": (GOOD_ROWS + ROW.format(country="Russia", a="lots", b=5), "'lots' is not a number"),
    "unknown country": (GOOD_ROWS + ROW.format(country="Atlantis", a=1, b=5), "'Atlantis' is not a known country"),
    "duplicate key": (GOOD_ROWS + ROW.format(country="China", a=1, b=2), "repeats the key"),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_file_writes_nothing_and_says_where(tmp_path, case):
    rows, message = MALFORMED[case]
    before = counts()
    outcome = import_file(importer="usgs_mcs", path=world_file(tmp_path, rows))
    assert outcome.status == "failed"
    assert any(message in e and "line 5" in e for e in outcome.errors), outcome.errors
    assert counts() == before
    assert ImportBatch.objects.get(pk=outcome.batch_id).status == "failed"
    with open(outcome.rejects_file, encoding="utf-8") as fh:
        rejects = list(csv.reader(fh))
    assert rejects[0][-1] == "error"
    assert rejects[0][1] == "SOURCE"
    assert rejects[1][0] == "5"
    assert message.split("'")[-1].strip() in rejects[1][-1]


def test_wrong_header(tmp_path):
    path = tmp_path / "MCS2025_whatever.csv"
    path.write_text("a,b,c\n1,2,3\n", encoding="utf-8")
    before = counts()
    outcome = import_file(importer="usgs_mcs", path=path)
    assert outcome.status == "failed"
    assert "is not a known USGS MCS header" in outcome.errors[0]
    assert counts() == before


def test_bad_encoding(tmp_path):
    path = tmp_path / "MCS2025_latin1.csv"
    path.write_bytes(
        (WORLD_HEADER + GOOD_ROWS).encode() + "MCS2025,Gallium,Réunion,x,kilograms,1,1,,,,,,\n".encode("latin-1")
    )
    before = counts()
    outcome = import_file(importer="usgs_mcs", path=path)
    assert outcome.status == "failed"
    assert "line 5" in outcome.errors[0]
    assert "not valid UTF-8" in outcome.errors[0]
    assert counts() == before


def test_a_50_mb_line_is_refused_without_loading_it(tmp_path):
    path = tmp_path / "MCS2025_huge_line.csv"
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(WORLD_HEADER + GOOD_ROWS)
        fh.write("MCS2025,Gallium," + "x" * 50_000_000 + "\n")
    before = counts()
    outcome = import_file(importer="usgs_mcs", path=path)
    assert outcome.status == "failed"
    assert "longer than 1,000,000 bytes" in outcome.errors[0]
    assert counts() == before


def test_skip_invalid_imports_the_valid_rows_and_writes_rejects(tmp_path):
    rows = GOOD_ROWS + "MCS2025,Gallium,Atlantis,Primary production,kilograms,=1+1,5,,,,,,\n"
    outcome = import_file(
        importer="usgs_mcs", path=world_file(tmp_path, rows), options=ImportOptions(skip_invalid=True)
    )
    assert outcome.status == "succeeded"
    assert outcome.rejected == 1
    assert outcome.inserted + outcome.updated == 6
    assert (
        ProductionRecord.objects.filter(mineral__slug="gallium", country_id="JPN", source__key="usgs-mcs-2025").count()
        == 2
    )
    with open(outcome.rejects_file, encoding="utf-8") as fh:
        rejects = list(csv.DictReader(fh))
    assert len(rejects) == 1
    assert rejects[0]["COUNTRY"] == "Atlantis"
    assert rejects[0]["PROD_2023"] == "'=1+1"  # formula escaped
    assert "not a known country" in rejects[0]["error"]


def test_skip_invalid_never_half_imports_a_line(tmp_path):
    rows = GOOD_ROWS + ROW.format(country="Russia", a=5, b="lots")  # 2023 valid, 2024 not
    outcome = import_file(
        importer="usgs_mcs", path=world_file(tmp_path, rows), options=ImportOptions(skip_invalid=True)
    )
    assert outcome.status == "succeeded"
    assert outcome.rejected == 1
    russia = ProductionRecord.objects.get(
        mineral__slug="gallium", country_id="RUS", year=2023, source__key="usgs-mcs-2025"
    )
    assert russia.quantity == 6000  # the demo's figure: the valid 2023 cell of the rejected line was not imported


def test_command_exits_non_zero_on_error(tmp_path):
    with pytest.raises(CommandError, match="import failed"):
        call_command(
            "import_usgs_mcs", str(world_file(tmp_path, GOOD_ROWS + "MCS2025,Gallium,Atlantis,x,kilograms,1,1,,,,,,\n"))
        )


def test_a_command_over_several_files_writes_nothing_when_one_is_invalid(tmp_path):
    good = world_file(tmp_path, GOOD_ROWS.replace("750,000", "740,000"), name="MCS2025_World_Data_a.csv")
    bad = world_file(
        tmp_path, GOOD_ROWS + "MCS2025,Gallium,Atlantis,x,kilograms,1,1,,,,,,\n", "MCS2025_World_Data_b.csv"
    )
    before = counts()
    china = ProductionRecord.objects.get(
        mineral__slug="gallium", country_id="CHN", year=2024, source__key="usgs-mcs-2025"
    )
    with pytest.raises(CommandError, match="nothing written for any file"):
        call_command("import_usgs_mcs", str(good), str(bad))
    assert counts() == before
    china.refresh_from_db()
    assert china.quantity == 750_000  # the valid first file was not imported either
    assert not ImportBatch.objects.filter(status="succeeded").exists()


def test_a_new_commodity_gets_a_mineral_for_review(tmp_path):
    rows = "MCS2025,Unobtainium,China,Mine production,metric tons,10,20,,,,,,\n"
    outcome = import_file(importer="usgs_mcs", path=world_file(tmp_path, rows))
    assert outcome.report["created_minerals"] == ["unobtainium"]
    assert Mineral.objects.get(slug="unobtainium").canonical_unit == "t"


def test_series_get_their_own_minerals(tmp_path):
    rows = (
        'MCS2025,Titanium mineral concentrates,China,"Mine production, ilmentite, titanium dioxide (TiO2) content",'
        "thousand metric tons,1,2,,,,,,\n"
        'MCS2025,Titanium mineral concentrates,China,"Mine production, rutile, titanium dioxide (TiO2) content",'
        "thousand metric tons,3,4,,,,,,\n"
    )
    outcome = import_file(importer="usgs_mcs", path=world_file(tmp_path, rows))
    assert outcome.status == "succeeded", outcome.errors
    titanium = ProductionRecord.objects.filter(country_id="CHN", year=2024, mineral__slug__startswith="titanium")
    assert set(titanium.values_list("mineral__slug", "quantity")) == {
        ("titanium-mineral-concentrates", 2000.0),
        ("titanium-rutile", 4000.0),
    }


def test_edition_revision_is_stored_beside(tmp_path):
    import_file(importer="usgs_mcs", path=FIXTURES / "usgs" / "mcs2024-galli_world.csv")
    import_file(importer="usgs_mcs", path=world_file(tmp_path))
    editions = DataSource.objects.filter(key__in=["usgs-mcs-2024", "usgs-mcs-2025"])
    assert {s.key: str(s.published_on) for s in editions}["usgs-mcs-2024"] == "2024-01-31"
    rows = ProductionRecord.objects.filter(mineral__slug="gallium", country_id="CHN", year=2023)
    assert set(rows.values_list("source__key", flat=True)) >= {"usgs-mcs-2024", "usgs-mcs-2025"}


def test_salient_file_with_a_year_twice_is_a_duplicate_key():
    # the fixture lists 2024 both as '2024' and '2024_estimated': two values for one key
    outcome = import_file(importer="usgs_mcs", path=FIXTURES / "usgs" / "mcs2025-galli_salient.csv")
    assert outcome.status == "failed"
    assert "line 4" in outcome.errors[0]
    assert "repeats the key" in outcome.errors[0]


def test_t5_fig2_fixtures():
    for name in ("MCS2025_T5_sample.csv", "MCS2025_Fig2_sample.csv"):
        outcome = import_file(importer="usgs_mcs", path=FIXTURES / "usgs" / name)
        assert outcome.status in ("succeeded", "unchanged"), (name, outcome.errors)
    nir = SalientStatistic.objects.filter(
        statistic="net_import_reliance", country_id="USA", source__key="usgs-mcs-2025"
    )
    assert nir.filter(mineral__slug="gallium").exists()


def test_comtrade_fixture():
    outcome = import_file(importer="comtrade", path=FIXTURES / "comtrade" / "gallium_api_sample.csv")
    assert outcome.status == "succeeded", outcome.errors
    flows = TradeFlow.objects.filter(source__key="comtrade", commodity_code_id="811292", year=2024, importer_id="USA")
    assert flows.filter(exporter_id="CHN", basis="import").exists()
    assert flows.filter(exporter__isnull=True, basis="import").exists()  # World kept as a total
    assert "811292" in outcome.report["basket_codes"]


def test_baci_fixture_and_units():
    countries = str(FIXTURES / "baci" / "country_codes_V202401_sample.csv")
    outcome = import_file(
        importer="baci", path=FIXTURES / "baci" / "BACI_HS22_Y2022_V202401_sample.csv",
        options=ImportOptions(countries=countries, all_codes=True),
    )  # fmt: skip
    assert outcome.status == "succeeded", outcome.errors
    flow = TradeFlow.objects.get(
        source__key="baci-hs22-v202401", exporter_id="CHN", importer_id="USA", commodity_code_id="811292"
    )
    assert (flow.value_usd, flow.quantity_kg, flow.basis) == (pytest.approx(1_234_567), 12_500, "reconciled")


def test_baci_without_countries_file_fails_cleanly():
    with pytest.raises(CommandError):
        call_command("import_baci", str(FIXTURES / "baci" / "BACI_HS22_Y2022_V202401_sample.csv"))


def test_wgi_fixture():
    outcome = import_file(importer="wgi", path=FIXTURES / "wgi" / "wgi_long_sample.csv")
    assert outcome.status == "succeeded", outcome.errors
    score = WgiScore.objects.get(country_id="CHN", year=2022)
    assert score.control_of_corruption == pytest.approx(-0.0405)
    assert score.source.key == "wgi-2023"


def _baci_file(path: Path, rows: int) -> Path:
    codes = ["811292", "250410", "280530", "810520"]
    pairs = [(156, 842), (842, 156), (251, 842), (156, 251)]
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("t,i,j,k,v,q\n")
        for n in range(rows):
            i, j = pairs[n % 4]
            fh.write(f"{2000 + n // 16 % 100},{i},{j},{codes[n // 4 % 4]},{n + 1}.5,{n % 7}\n")
    return path


@pytest.mark.parametrize("rows", [16, 1600])
def test_upsert_query_count_does_not_grow_with_rows(tmp_path, rows, django_assert_max_num_queries):
    countries = str(FIXTURES / "baci" / "country_codes_V202401_sample.csv")
    path = _baci_file(tmp_path / f"BACI_HS22_Y2022_V202401_{rows}.csv", rows)
    with django_assert_max_num_queries(40):
        outcome = import_file(importer="baci", path=path, options=ImportOptions(countries=countries, all_codes=True))
    assert outcome.status == "succeeded", outcome.errors
    assert outcome.inserted == rows


def _trade_flow_structures() -> list[tuple[str, str]]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'minerals_tradeflow' UNION ALL"
            " SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint"
            " WHERE conrelid = 'minerals_tradeflow'::regclass ORDER BY 1"
        )
        return list(cursor.fetchall())


def test_first_load_builds_the_indexes_after_the_rows_and_a_reimport_upserts(tmp_path, postgresql):
    """A first import of its years, more rows than the table holds, loads without the secondary
    indexes and foreign keys and builds them after (PostgreSQL); they are the same afterwards; a
    second import of the same years goes through the upsert (only the changed row written)."""
    from minerals.bulk_upsert import Staging

    before = _trade_flow_structures()
    countries = str(FIXTURES / "baci" / "country_codes_V202401_sample.csv")
    # More rows than the demo dataset's 70 flows: a first load that pays.
    path = _baci_file(tmp_path / "BACI_HS22_Y2022_V202401_200.csv", 200)
    options = ImportOptions(countries=countries, all_codes=True)
    paths: list[bool] = []
    original = Staging.first_load_pays

    def spy(self, targets):  # the real decision, recorded
        paths.append(original(self, targets))
        return paths[-1]

    Staging.first_load_pays = spy  # type: ignore[method-assign]
    try:
        first = import_file(importer="baci", path=path, options=options)
        assert (first.status, first.inserted) == ("succeeded", 200), first.errors
        assert _trade_flow_structures() == before
        flow = TradeFlow.objects.get(exporter_id="CHN", importer_id="USA", commodity_code_id="811292", year=2000)
        path.write_text(path.read_text().replace(",1.5,", ",2.5,"))  # one value changes
        options.force = True
        second = import_file(importer="baci", path=path, options=options)
    finally:
        Staging.first_load_pays = original  # type: ignore[method-assign]
    assert paths == [True, False]
    assert (second.status, second.inserted, second.updated, second.unchanged) == ("succeeded", 0, 1, 199)
    flow.refresh_from_db()
    assert flow.value_usd == 2500  # thousands of USD in BACI
    assert _trade_flow_structures() == before


def test_first_load_rolled_back_leaves_the_indexes_and_no_row(postgresql):
    """An error after the indexes were dropped rolls the drop back with the rows (atomic)."""
    from django.db import connection, transaction

    from minerals.bulk_upsert import built_after_load

    before, rows = _trade_flow_structures(), TradeFlow.objects.count()
    source = DataSource.objects.create(key="rollback-test", publisher="test", title="test")
    CommodityCode.objects.get_or_create(hs6="811292")
    dropped: list[int] = []

    def load_then_fail() -> None:
        with transaction.atomic(), built_after_load("minerals_tradeflow"):
            with connection.cursor() as cursor:
                cursor.execute(
                    "INSERT INTO minerals_tradeflow (year, exporter_id, importer_id, commodity_code_id, basis,"
                    " value_usd, source_id) VALUES (2001, 'CHN', 'USA', '811292', 'reconciled', 1.0, %s)",
                    [source.pk],
                )
            dropped.append(len(before) - len(_trade_flow_structures()))
            raise RuntimeError("a failure in the middle of the load")

    with pytest.raises(RuntimeError):
        load_then_fail()
    assert dropped[0] > 0
    assert _trade_flow_structures() == before
    assert TradeFlow.objects.count() == rows


@pytest.mark.parametrize("skip_invalid", [False, True])
def test_a_repeated_flow_in_a_first_load_is_reported_by_line(tmp_path, skip_invalid):
    """A first load whose unique-index build meets a repeated key falls back to the usual check:
    the same message, by line; nothing written without --skip-invalid, the rest with it."""
    countries = str(FIXTURES / "baci" / "country_codes_V202401_sample.csv")
    path = _baci_file(tmp_path / "BACI_HS22_Y2022_V202401_200.csv", 200)
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join([*lines, lines[1]]))  # line 202 repeats line 2's flow
    before, structures = TradeFlow.objects.count(), on_postgresql() and _trade_flow_structures()
    options = ImportOptions(countries=countries, all_codes=True, skip_invalid=skip_invalid)
    outcome = import_file(importer="baci", path=path, options=options)
    assert any("line 202" in e and "repeats the flow of line 2" in e for e in outcome.errors), outcome.errors
    if skip_invalid:
        assert (outcome.status, outcome.inserted, outcome.rejected) == ("succeeded", 200, 1)
    else:
        assert (outcome.status, TradeFlow.objects.count()) == ("failed", before)
    assert not on_postgresql() or _trade_flow_structures() == structures
