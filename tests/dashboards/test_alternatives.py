"""Alternatives (metrics.md section 5) on the demo dataset: candidates, ranking, query counts."""

from __future__ import annotations

from datetime import date

import pytest

from dashboards import selectors, services
from minerals.models import DataSource, Mineral, MineralParameter
from suppliers.models import Company, Facility, Organization, OwnershipStake

pytestmark = pytest.mark.django_db

AS_OF = date(2026, 11, 30)


def _recompute(*slugs: str) -> None:
    for slug in slugs:
        services.mineral_metrics_recompute(mineral_id=Mineral.objects.get(slug=slug).pk, force=True)


def test_lithium_alternatives_hand_ranked(demo: None) -> None:
    """demo/production.csv, lithium mine 2024 (t): AUS 88,000, CHL 49,000, CHN 41,000 (FEOC, out),
    ZWE 22,000, ARG 18,000, BRA 10,000, CAN 4,300, NAM 2,700, PRT 380, USA withheld (out: output
    unknown). demo/facilities.csv: Thacker Pass (USA, construction, 40,000 t) is a U.S. project;
    Kings Mountain (planned) has no published capacity (out).

    Exposed volume 100,000 t: every coverage ratio is below 1, so within "operating" the order
    is by coverage (= output) descending; the project under construction comes after them all.
    """
    _recompute("lithium")
    report = selectors.mineral_alternatives("lithium", exposed_volume=100_000.0, unit="t", as_of=AS_OF)
    got = [(a["key"], a["kind"], a["status"]) for a in report["alternatives"]]
    countries = ["AUS", "CHL", "ZWE", "ARG", "BRA", "CAN", "NAM", "PRT"]
    assert got == [
        *[(f"country:{c}", "country", "operating") for c in countries],
        ("facility:thacker-pass", "us_project", "construction"),
    ]
    ratios = [a["coverage_ratio"] for a in report["alternatives"]]
    assert ratios == pytest.approx([0.88, 0.49, 0.22, 0.18, 0.10, 0.043, 0.027, 0.0038, 0.40])
    assert [a["rank"] for a in report["alternatives"]] == list(range(1, 10))
    assert (report["production_year"], report["production_stage"]) == (2024, "mine")
    assert report["alternatives"][0]["governance"] is not None  # AUS has WGI estimates


def test_small_volume_ranks_by_governance_and_units_convert(demo: None) -> None:
    """Exposed 30,000 kg = 30 t: every operating source covers it fully (ratio >= 1), so the
    governance score (WGI, lower is better) orders them; capacities are returned in kg."""
    _recompute("lithium")
    report = selectors.mineral_alternatives("lithium", exposed_volume=30_000.0, unit="kg", as_of=AS_OF)
    operating = [a for a in report["alternatives"] if a["status"] == "operating"]
    scores = [a["governance"] for a in operating]
    known = [s for s in scores if s is not None]
    assert known == sorted(known)
    assert scores[len(known) :] == [None] * (len(scores) - len(known))  # unknown governance last
    aus = next(a for a in operating if a["country"] == "AUS")
    assert aus["available_capacity"] == pytest.approx(88_000_000.0)
    assert aus["coverage_ratio"] == pytest.approx(88_000_000.0 / 30_000.0)
    assert report["alternatives"][-1]["key"] == "facility:thacker-pass"


def test_feoc_controlled_facility_and_recycling_rate(demo: None) -> None:
    """A facility whose company is >= 25 % owned by a Chinese company is excluded; a recycling
    plant is kind `recycling`; the EoL recycling input rate adds secondary supply."""
    _recompute("lithium")
    lithium = Mineral.objects.get(slug="lithium")
    owner = Company.objects.create(name="Test Owner (CHN)", hq_country_id="CHN", is_fictional=True)
    plant_co = Company.objects.create(name="Test Plant Co", hq_country_id="CAN", is_fictional=True)
    OwnershipStake.objects.create(owner=owner, owned=plant_co, percent=30)
    Facility.objects.create(
        key="test-controlled", company=plant_co, name="Controlled", country_id="CAN", mineral=lithium,
        stage="refinery", capacity=500_000, capacity_unit="t", status="operating",
    )  # fmt: skip
    recycler = Company.objects.get(name="Redwood Materials")
    Facility.objects.create(
        key="test-recycler", company=recycler, name="Recycler", country_id="USA", mineral=lithium, stage="recycling",
        capacity=5, capacity_unit="t", status="planned", start_year=2027,
    )  # fmt: skip
    source = DataSource.objects.get(key="usgs-mcs-2025")
    MineralParameter.objects.update_or_create(
        mineral=lithium, name=MineralParameter.Name.EOL_RIR, defaults={"value": 0.01, "source": source}
    )
    report = selectors.mineral_alternatives(lithium, exposed_volume=1_000.0, as_of=AS_OF)
    keys = {a["key"]: a for a in report["alternatives"]}
    assert "facility:test-controlled" not in keys
    assert keys["facility:test-recycler"]["kind"] == "recycling"
    assert keys["recycling:eol-rir"]["coverage_ratio"] == pytest.approx(0.01)
    assert report["eol_rir"] == 0.01


def test_query_counts_are_fixed(demo: None, django_assert_num_queries) -> None:  # type: ignore[no-untyped-def]
    _recompute("lithium", "graphite-natural", "gallium", "cobalt")
    lithium = Mineral.objects.get(slug="lithium")
    with django_assert_num_queries(7):
        selectors.mineral_alternatives("lithium", exposed_volume=10.0, as_of=AS_OF)
    with django_assert_num_queries(6):
        selectors.mineral_alternatives(lithium, exposed_volume=10.0, as_of=AS_OF)
    buyer = Organization.objects.get(name="Demo Buyer Inc.")
    services.organizations_exposure_recompute(organization_ids=[buyer.pk])
    with django_assert_num_queries(7):
        report = selectors.organization_alternatives(organization=buyer, as_of=AS_OF)
    by_mineral = {row["mineral"]: row for row in report}
    # Lithium: CHL 12 + CHN 8 = 20 t, upstream China share 0.4 -> 8 t exposed; AUS covers it.
    assert by_mineral["lithium"]["exposed_volume"] == pytest.approx(8.0)
    assert by_mineral["lithium"]["alternatives"][0]["coverage_ratio"] >= 1.0
    # Graphite: 30 t exposed (the CHN line); Balama (MOZ, 350,000 t operating) is a candidate.
    graphite = {a["key"] for a in by_mineral["graphite-natural"]["alternatives"]}
    assert "facility:balama-mine" in graphite
    assert "country:CHN" not in graphite
