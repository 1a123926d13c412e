"""USGS MCS folders: every edition keeps its figures and the newest edition wins for a year.

Fault 1 of issue 11: importing the MCS 2024 world files on top of the demo switched the 2023
figures to MCS 2024's, because the demo's MCS 2025 source had no publication date and undated
sources ranked below dated ones. Every source of figures now carries its publication date.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command

from dashboards.inputs import data_sources, published_nir, supply_tables
from minerals.importers.errors import ImportStats
from minerals.importers.usgs_mcs import ProductionRow, parse_usgs_mcs
from minerals.imports import ImportFailed, ImportOptions, import_file
from minerals.models import DataSource, Mineral, ProductionRecord
from minerals.services import record_save

pytestmark = pytest.mark.django_db

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "usgs"


@pytest.fixture(autouse=True)
def _reports(tmp_path, settings):
    settings.LODESTONE_IMPORT_REPORT_DIR = tmp_path / "reports"


def chosen_table(slug: str, stage: str, year: int):  # type: ignore[no-untyped-def]
    mineral = Mineral.objects.get(slug=slug)
    sources = data_sources()
    table = next(t for t in supply_tables([mineral.pk], sources) if (t.stage, t.year) == (stage, year))
    return sources[table.source_id].key, table


def china_share(slug: str, stage: str, year: int, key: str) -> float:
    rows = ProductionRecord.objects.filter(mineral__slug=slug, stage=stage, year=year, source__key=key)
    return rows.get(country_id="CHN").quantity / rows.get(row_kind="world_total").quantity * 100


def test_the_demo_sources_of_figures_are_dated():
    assert DataSource.objects.get(key="usgs-mcs-2025").published_on == date(2025, 1, 31)
    undated = DataSource.objects.filter(published_on__isnull=True)
    assert not ProductionRecord.objects.filter(source__in=undated).exists()


def test_mcs_2024_files_on_top_of_the_demo_leave_the_2023_figures_of_mcs_2025(shared_data, capsys):
    before = {
        (slug, stage): china_share(slug, stage, 2023, "usgs-mcs-2025")
        for slug, stage in (("gallium", "refinery"), ("graphite-natural", "mine"), ("rare-earths", "mine"))
    }
    call_command("import_usgs_mcs", str(shared_data / "usgs-mcs-2024-sample"), "--no-progress")
    out = capsys.readouterr().out
    assert "rejected" not in out.replace("rejected 0", "")
    for (slug, stage), share in before.items():
        # MCS 2024's own 2023 figures are stored beside MCS 2025's ...
        older = china_share(slug, stage, 2023, "usgs-mcs-2024")
        assert round(older, 1) != round(share, 1)
        # ... and the newer edition's are the ones shown
        key, table = chosen_table(slug, stage, 2023)
        assert key == "usgs-mcs-2025"
        assert table.concentration.china_share * 100 == pytest.approx(share)
    # rare earths 2023: MCS 2025 says 255,000 of 376,000 t (67.8 %), MCS 2024 said 240,000 of 350,000 t
    assert round(before[("rare-earths", "mine")], 1) == 67.8


def test_an_older_edition_never_overrides_the_published_net_import_reliance():
    outcome = import_file(importer="usgs_mcs", path=FIXTURES / "mcs2024" / "mcs2024-antim_salient.csv")
    assert outcome.status == "succeeded", outcome.errors
    antimony = Mineral.objects.get(slug="antimony")
    sources = data_sources()
    stated = published_nir([antimony.pk], ["USA"], sources)[antimony.pk][("USA", 2023)]
    assert sources[stated["source_id"]].key == "usgs-mcs-2025"
    assert stated["value"] == 83  # MCS 2025; MCS 2024 published 82 for 2023


def test_an_edition_without_a_publication_date_is_refused(tmp_path):
    path = tmp_path / "mcs2031-galli_world.csv"
    path.write_bytes((FIXTURES / "mcs2024-galli_world.csv").read_bytes().replace(b"MCS2024", b"MCS2031"))
    with pytest.raises(ImportFailed, match="--published-on"):
        import_file(importer="usgs_mcs", path=path)
    assert not ProductionRecord.objects.filter(source__key="usgs-mcs-2031").exists()
    with pytest.raises(CommandError, match="publication date of MCS 2031"):
        call_command("import_usgs_mcs", str(path), "--no-progress")

    outcome = import_file(importer="usgs_mcs", path=path, options=ImportOptions(published_on="2031-01-30"))
    assert outcome.status == "succeeded", outcome.errors
    assert DataSource.objects.get(key="usgs-mcs-2031").published_on == date(2031, 1, 30)


def test_a_figure_from_an_undated_source_is_refused_by_the_model():
    undated = DataSource.objects.create(key="undated-test", publisher="Test", title="Test")
    record = ProductionRecord(
        mineral=Mineral.objects.get(slug="gallium"),
        stage="refinery",
        country_id="JPN",
        year=2023,
        quantity=1.0,
        unit="kg",
        source=undated,
    )
    with pytest.raises(ValidationError, match="no publication date"):
        record_save(instance=record)


# ---------------------------------------------------------------- every file of a folder imports

QUIRKS = FIXTURES / "mcs-world-quirks"


def summary_of(out: str) -> dict[str, str]:
    """File name -> verdict, from the last summary line of each file (the write pass)."""
    verdicts = {}
    for line in out.splitlines():
        if line.endswith(" s") and ": " in line and not line.startswith(" "):
            name, _, rest = line.partition(": ")
            verdicts[name] = rest.rsplit(" in ", 1)[0].replace(" (dry run: nothing written)", "")
    return verdicts


def production(slug: str, **filters):  # type: ignore[no-untyped-def]
    return ProductionRecord.objects.filter(mineral__slug=slug, **filters)


def test_a_folder_with_every_quirk_imports_without_skip_invalid(capsys):
    call_command("import_usgs_mcs", str(QUIRKS), "--no-progress")  # raises CommandError on exit status 1
    captured = capsys.readouterr()
    assert "succeeded" not in captured.out
    assert "error" not in captured.err
    verdicts = summary_of(captured.out)
    assert verdicts == {
        "mcs2023-antim_world.csv": "imported",
        "mcs2023-zirco-hafni_world.csv": "imported",
        "mcs2024-abras_world.csv": "skipped (capacity only: no production figures)",
        "mcs2024-boron_world.csv": "imported",
        "mcs2024-diamo_world.csv": "skipped (unit mct is not a mass: out of scope)",
        "mcs2024-feore_world.csv": "imported",
        "mcs2024-fluor_world.csv": "imported",
        "mcs2024-gemst_world.csv": "skipped (unit kct is not a mass: out of scope)",
        "mcs2024-heliu_world.csv": "skipped (unit mcm is not a mass: out of scope)",
        "mcs2024-timin_world.csv": "imported",
        "mcs2024-titan_world.csv": "imported",
    }

    # a form attached to the country name: the country's row, the form kept in the notes
    argentina = production("boron", country_id="ARG", year=2022).get()
    assert argentina.quantity == 300_000
    assert "form: crude ore" in argentina.notes
    assert "form: boric oxide equivalent" in production("boron", country_id="CHN", year=2022).get().notes
    assert production("boron", country_id="KAZ", year=2023).get().quantity == 500_000
    # "Congo (Kinshasa), concentrate" is the DRC, never "Congo" (the Republic of the Congo)
    assert production("boron", country_id="COD").exists()
    assert not production("boron", country_id="COG").exists()

    # e-prefixed cells are estimates; "Other" is the residual row
    russia = production("antimony", country_id="RUS", year=2021, source__key="usgs-mcs-2023").get()
    assert (russia.quantity, russia.is_estimate) == (3_900, True)
    assert production("antimony", country_id="TJK", year=2022, source__key="usgs-mcs-2023").get().quantity == 20_000
    other = production("antimony", row_kind="other", year=2021, source__key="usgs-mcs-2023").get()
    assert other.quantity == 6_100
    assert not other.is_estimate

    # Mt = million metric tons
    assert production("iron-ore", country_id="CHN", year=2022).get().quantity == 1_000_000_000
    # the titanium sponge columns are the titanium metal series (refinery stage)
    sponge = production("titanium-metal", country_id="CHN", year=2023).get()
    assert (sponge.stage, sponge.quantity, sponge.is_estimate) == ("refinery", 220_000, True)
    # fluorspar: the Type column named by a description still gives the series
    assert production("fluorspar", row_kind="world_total", year=2023).get().quantity == 9_500_000
    # the U.S. row "Included with ilmenite" does not duplicate the U.S. figure
    us_ilmenite = production("titanium-mineral-concentrates", country_id="USA", year=2022).get()
    assert us_ilmenite.quantity == 200_000
    # the joint zirconium-hafnium chapter's file is zirconium
    assert production("zirconium", country_id="AUS", year=2021, source__key="usgs-mcs-2023").get().quantity == 400_000
    assert DataSource.objects.get(key="usgs-mcs-2023").published_on == date(2023, 1, 31)
    # the skipped files wrote nothing
    assert not production("abrasives").exists()
    assert not production("diamond-industrial").exists()


def test_a_malformed_file_fails_the_whole_folder_atomically(capsys):
    folder = FIXTURES / "mcs-world-malformed"
    before = ProductionRecord.objects.count()
    with pytest.raises(CommandError, match=r"mcs2024-tungs_world\.csv"):
        call_command("import_usgs_mcs", str(folder), "--no-progress")
    captured = capsys.readouterr()
    assert ProductionRecord.objects.count() == before  # not even the valid gallium file
    verdicts = summary_of(captured.out)
    assert verdicts["mcs2024-tungs_world.csv"] == "rejected (1 error)"
    assert "succeeded" not in captured.out
    # the unknown year column is named, never silently dropped
    assert "column Prod_t_2023_revised: 'Prod_t_2023_revised' is not a known year column" in captured.err


def test_skip_invalid_never_says_a_file_with_rejected_lines_succeeded(tmp_path, capsys):
    path = tmp_path / "mcs2024-galli_world.csv"
    text = (FIXTURES / "mcs2024-galli_world.csv").read_text(encoding="utf-8-sig")
    path.write_text(text.replace("MCS2024,China,", "MCS2024,Atlantis,", 1), encoding="utf-8")
    call_command("import_usgs_mcs", str(path), "--skip-invalid", "--no-progress")
    verdict = summary_of(capsys.readouterr().out)["mcs2024-galli_world.csv"]
    assert verdict == "imported without 1 rejected line"


def test_germanium_na_and_empty_are_not_published_only_w_is_withheld():
    stats = ImportStats()
    parsed = parse_usgs_mcs(FIXTURES / "mcs2024-germa_world.csv", stats=stats)
    rows = [r for r in parsed if isinstance(r, ProductionRow)]
    by_country = {(r.country_iso3 or r.row_kind, r.year): r for r in rows}
    assert by_country[("USA", 2022)].is_withheld
    china = by_country[("CHN", 2022)]
    assert (china.quantity, china.is_withheld) == (None, False)
    assert "not available (NA)" in china.notes
    world = by_country[("world_total", 2023)]
    assert (world.quantity, world.is_withheld) == (None, False)
    # an empty cell is no figure at all: no row, never a 0
    assert ("RUS", 2022) not in by_country
    assert stats.skipped["empty production cell"] == 2


def test_estimates_are_flagged_on_the_row():
    rows = [r for r in parse_usgs_mcs(FIXTURES / "mcs2024-germa_world.csv") if isinstance(r, ProductionRow)]
    japan = next(r for r in rows if r.country_iso3 == "JPN" and r.year == 2022)
    # "Japane": the glued footnote e says the figure is estimated, even in a column without _est
    assert japan.is_estimate
    assert "footnote e: estimated" in japan.notes
