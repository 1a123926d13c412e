"""The demo dataset: real figures with their sources, one fictional buyer, idempotent loading."""

from datetime import date

import pytest
from django.apps import apps
from django.core.management import call_command

from minerals.models import Mineral, PolicyMeasure, ProductionRecord
from suppliers.demo_dataset import demo_dataset_load
from suppliers.models import Facility, Organization, Sourcing

pytestmark = pytest.mark.django_db

REQUIRED_MINERALS = {
    "gallium", "germanium", "antimony", "graphite-natural", "rare-earths", "tungsten", "cobalt", "lithium",
    "nickel", "manganese", "indium", "bismuth", "tellurium", "magnesium-metal", "molybdenum",
}  # fmt: skip


def row_counts() -> dict[str, int]:
    return {
        m._meta.label: m.objects.count() for m in apps.get_models() if m._meta.app_label in {"minerals", "suppliers"}
    }


def test_loading_twice_leaves_identical_row_counts_history_included():
    before = row_counts()
    report = demo_dataset_load()
    assert report.changed == 0
    assert row_counts() == before


def test_seed_demo_command_reports_what_it_wrote(capsys):
    call_command("seed_demo")
    assert "Demo dataset loaded: 0 rows written." in capsys.readouterr().out


def test_the_fifteen_critical_minerals_are_there_with_hs_codes():
    minerals = Mineral.objects.filter(slug__in=REQUIRED_MINERALS).prefetch_related("commodity_codes")
    assert {m.slug for m in minerals} == REQUIRED_MINERALS
    assert [m.slug for m in minerals if not m.commodity_codes.all()] == []


def test_gallium_2024_reproduces_chinas_987_permille_share_of_world_production():
    rows = ProductionRecord.objects.filter(mineral__slug="gallium", year=2024, source__key="usgs-mcs-2025")
    china = rows.get(country_id="CHN")
    world = rows.get(row_kind="world_total")
    assert (china.quantity, world.quantity, china.unit) == (750_000, 760_000, "kg")
    assert round(china.quantity / world.quantity, 3) == 0.987


def test_every_production_figure_names_its_source_and_edition():
    assert not ProductionRecord.objects.filter(source__edition="").exists()


def test_withheld_stays_withheld():
    assert not ProductionRecord.objects.filter(is_withheld=True, quantity__isnull=False).exists()


def test_china_measures_carry_the_exact_dates_and_targets_of_the_timeline():
    gallium_licence = PolicyMeasure.objects.get(instrument__contains="No. 23 [2023]")
    assert (gallium_licence.announced_on, gallium_licence.effective_on) == (date(2023, 7, 3), date(2023, 8, 1))
    us_ban = PolicyMeasure.objects.filter(instrument__contains="No. 46", targets__iso3="USA", measure_type="export_ban")
    assert us_ban.filter(suspended_until=date(2026, 11, 27)).exists()
    october_package = PolicyMeasure.objects.filter(announced_on=date(2025, 10, 9))
    assert october_package.exists()
    assert set(october_package.values_list("suspended_until", flat=True)) == {date(2026, 11, 10)}


def test_every_measure_has_an_instrument_and_its_official_text_or_the_partly_confirmed_flag():
    assert list(PolicyMeasure.objects.filter(instrument="").values_list("key", flat=True)) == []
    unlinked_unflagged = PolicyMeasure.objects.filter(source_url="", is_partly_confirmed=False)
    assert list(unlinked_unflagged.values_list("key", flat=True)) == []
    assert PolicyMeasure.objects.exclude(source_url="").count() >= 15


def test_curator_notes_are_loaded_apart_from_the_public_summary():
    measure = PolicyMeasure.objects.get(key="cn-2025-10-ree-five")
    assert "not verified" in measure.curator_notes
    assert "not verified" not in measure.summary
    assert "until 2026-11-10, that day included" in measure.summary


def test_us_support_measures_are_not_restrictions():
    support = PolicyMeasure.objects.filter(issuer_id="USA")
    assert support.count() >= 5
    assert set(support.values_list("measure_type", flat=True)) == {"domestic_support"}


def test_at_least_twelve_real_alternative_facilities_outside_china_with_sources():
    real = (
        Facility.objects.filter(is_fictional=False)
        .exclude(country__is_feoc=True)
        .exclude(company__hq_country__is_feoc=True)
        .exclude(company__stakes_in__owner__hq_country__is_feoc=True, company__stakes_in__percent__gte=25)
    )
    assert real.count() >= 12
    assert not real.filter(source_url="").exists()


def test_the_demo_buyer_is_fictional_and_mixes_chinese_and_alternative_supply():
    buyer = Organization.objects.get(name="Demo Buyer Inc.")
    assert buyer.is_fictional
    lines = Sourcing.objects.filter(organization=buyer).select_related("facility__company__hq_country")
    assert any(line.country_id == "CHN" for line in lines), "direct Chinese supply"
    assert any(
        (line.facility and line.facility.country_id != "CHN" and line.facility.company.hq_country_id == "CHN")
        or (
            line.facility
            and line.facility.company.stakes_in.filter(owner__hq_country_id="CHN", percent__gte=25).exists()
        )
        for line in lines
    ), "a Chinese-owned facility abroad"
    assert any(
        line.facility and line.facility.upstream_links.filter(upstream__country_id="CHN").exists() for line in lines
    ), "an upstream Chinese refinery"


def test_a_demo_row_breaking_a_constraint_is_named_and_nothing_is_saved(tmp_path):
    """The loader leaves the constraints to the database (a query each in Python was half the
    load): a row the database refuses is still reported by file and line, and the load is undone."""
    import shutil

    from django.conf import settings

    from suppliers.demo_dataset import DemoDataError

    folder = tmp_path / "demo"
    shutil.copytree(settings.BASE_DIR / "demo", folder)
    production = folder / "production.csv"
    lines = production.read_text().splitlines(keepends=True)
    assert lines[1].startswith("antimony,mine,AUS,2023,1860,t,false,false,")
    lines[1] = lines[1].replace(
        "antimony,mine,AUS,2023,1860,t,false,false,", "antimony,mine,AUS,2023,1860,t,false,true,"
    )
    production.write_text("".join(lines))
    before = row_counts()
    with pytest.raises(DemoDataError, match=r"demo/production\.csv line 2: .*production_withheld_has_no_quantity"):
        demo_dataset_load(directory=folder)
    assert row_counts() == before
    assert (
        ProductionRecord.objects.get(
            mineral__slug="antimony", stage="mine", country_id="AUS", year=2023, is_withheld=False
        ).quantity
        == 1860
    )
