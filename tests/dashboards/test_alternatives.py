"""Alternatives (metrics.md section 5) on the demo dataset: candidates, ranking, query counts."""

from __future__ import annotations

from datetime import date

import pytest

from dashboards import page_content, selectors, services
from minerals.models import DataSource, Mineral, MineralParameter
from suppliers.models import Company, Facility, Organization, OwnershipStake, SupplyLink

pytestmark = pytest.mark.django_db

AS_OF = date(2026, 11, 30)


def _recompute(*slugs: str) -> None:
    for slug in slugs:
        services.mineral_metrics_recompute(mineral_id=Mineral.objects.get(slug=slug).pk, force=True)


def test_lithium_alternatives_hand_ranked(demo: None) -> None:
    """demo/production.csv, lithium mine 2024 (t): AUS 88,000, CHL 49,000, CHN 41,000 (FEOC, out),
    ZWE 22,000, ARG 18,000, BRA 10,000, CAN 4,300, NAM 2,700, PRT 380, USA withheld (output
    unknown: kept, coverage unknown). demo/facilities.csv: Thacker Pass (USA, construction,
    40,000 t, no start year) is a U.S. project; Kings Mountain (planned) has no capacity.

    Bought at the mine stage, exposed 100,000 t, default weights (stage 0.30, availability 0.25,
    coverage 0.20, governance 0.15, measures 0.10; the only lithium measure by these countries is
    Zimbabwe's ban on unprocessed lithium ore, in force since 2022-12-20, which takes away ZWE's
    measures factor):
    every operating country scores 0.30 + 0.25 + 0.10 + 0.20 x output/100,000 + 0.15 x
    (1 - WGI score/10). AUS (WGI score 2.0021): 0.30 + 0.25 + 0.176 + 0.1200 + 0.10 = 0.946;
    CHL (3.4973): 0.30 + 0.25 + 0.098 + 0.0975 + 0.10 = 0.8455; CAN (2.0370): 0.0086 +
    0.1194 -> 0.778; USA (coverage unknown, 0; 2.9465): 0.7558; PRT (3.0532, 380 t): 0.755;
    ARG (5.4416, 18,000 t): 0.7544; NAM 0.7394; BRA 0.7373; ZWE (7.4326, 22,000 t, measures 0):
    0.7325 - 0.10 = 0.6325.
    Thacker Pass: no announced start year, availability 0: 0.30 + 0.08 + 0.1058 + 0.10 =
    0.5858; Kings Mountain 0.5058.
    """
    _recompute("lithium")
    report = selectors.mineral_alternatives("lithium", exposed_volume=100_000.0, unit="t", stage="mine", as_of=AS_OF)
    got = [(a["key"], a["kind"], a["status"]) for a in report["alternatives"]]
    countries = ["AUS", "CHL", "CAN", "USA", "PRT", "ARG", "NAM", "BRA", "ZWE"]
    assert got == [
        *[(f"country:{c}", "country", "operating") for c in countries],
        ("facility:thacker-pass", "us_project", "construction"),
        ("facility:kings-mountain", "us_project", "planned"),
    ]
    scores = [a["score"] for a in report["alternatives"]]
    assert scores == pytest.approx(
        [0.946, 0.8455, 0.778, 0.7558, 0.755, 0.7544, 0.7394, 0.7373, 0.6325, 0.5858, 0.5058], abs=6e-5
    )
    aus = report["alternatives"][0]
    assert aus["contributions"] == pytest.approx(
        {"stage": 0.30, "availability": 0.25, "coverage": 0.176, "governance": 0.15 * (1 - aus["governance"] / 10),
         "measures": 0.10}
    )  # fmt: skip
    assert aus["governance"] == pytest.approx(2.0021, abs=1e-4)
    ratios = [a["coverage_ratio"] for a in report["alternatives"]]
    assert ratios[:3] == pytest.approx([0.88, 0.49, 0.043])
    assert ratios[3] is None
    assert [a["rank"] for a in report["alternatives"]] == list(range(1, 12))
    assert (report["production_year"], report["production_stage"]) == (2024, "mine")


def test_small_volume_ranks_by_governance_and_units_convert(demo: None) -> None:
    """Exposed 30,000 kg = 30 t: every operating source covers it fully (ratio >= 1), so the
    governance score (WGI, lower is better) orders them; capacities are returned in kg."""
    _recompute("lithium")
    report = selectors.mineral_alternatives("lithium", exposed_volume=30_000.0, unit="kg", as_of=AS_OF)
    operating = [a for a in report["alternatives"] if a["status"] == "operating" and a["available_capacity"]]
    scores = [a["governance"] for a in operating]
    known = [s for s in scores if s is not None]
    assert known == sorted(known)
    assert scores[len(known) :] == [None] * (len(scores) - len(known))  # unknown governance last
    aus = next(a for a in operating if a["country"] == "AUS")
    assert aus["available_capacity"] == pytest.approx(88_000_000.0)
    assert aus["coverage_ratio"] == pytest.approx(88_000_000.0 / 30_000.0)
    assert report["alternatives"][-2]["key"] == "facility:thacker-pass"


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


def test_query_counts_are_fixed(demo: None, private_page_cache, django_assert_num_queries) -> None:  # type: ignore[no-untyped-def]
    """Not stored yet: the mineral (with a slug), the two version reads and the candidates'
    thirteen reads (the recycling figures and federal support of the levers included). Stored (same data
    versions, stage, unit and date): the version reads alone, plus the exposure rows for a buyer."""
    _recompute("lithium", "graphite-natural", "gallium", "cobalt")
    lithium = Mineral.objects.get(slug="lithium")
    with django_assert_num_queries(15):
        selectors.mineral_alternatives("lithium", exposed_volume=10.0, as_of=AS_OF)
    with django_assert_num_queries(2):
        selectors.mineral_alternatives(lithium, exposed_volume=10.0, as_of=AS_OF)
    buyer = Organization.objects.get(name="Demo Buyer Inc.")
    services.organizations_exposure_recompute(organization_ids=[buyer.pk])
    private_page_cache.clear()
    with django_assert_num_queries(15):
        selectors.organization_alternatives(organization=buyer, as_of=AS_OF)
    with django_assert_num_queries(2):
        report = selectors.organization_alternatives(organization=buyer, as_of=AS_OF)
    by_mineral = {row["mineral"]: row for row in report}
    # Lithium: CHL 12 + CHN 8 = 20 t, upstream China share 0.4 -> 8 t exposed; AUS covers it.
    assert by_mineral["lithium"]["exposed_volume"] == pytest.approx(8.0)
    assert by_mineral["lithium"]["alternatives"][0]["coverage_ratio"] >= 1.0
    # Graphite: 30 t exposed (the CHN line); Balama (MOZ, 350,000 t operating) is a candidate.
    graphite = {a["key"] for a in by_mineral["graphite-natural"]["alternatives"]}
    assert "facility:balama-mine" in graphite
    assert "country:CHN" not in graphite


# --------------------------------------------------------------------------------------------
# Not China in disguise (issue 12): excluded sources are listed apart with the reason


def _lithium_facility(key: str, company: Company, country: str, stage: str = "refinery", **extra: object) -> Facility:
    return Facility.objects.create(
        key=key, company=company, name=key.title(), country_id=country, mineral=Mineral.objects.get(slug="lithium"),
        stage=stage, capacity=extra.pop("capacity", 1_000), capacity_unit="t", status=extra.pop("status", "operating"),
        **extra,
    )  # fmt: skip


def test_chinese_owned_facility_abroad_is_not_an_alternative(demo: None) -> None:
    """A Chinese company owns 30 % of a Canadian plant's company: 30 % >= the 25 % threshold, so
    the plant is listed apart as controlled; a 20 % stake (below the threshold) keeps the other
    Canadian plant an alternative."""
    _recompute("lithium")
    owner = Company.objects.create(name="Owner (CHN)", hq_country_id="CHN", is_fictional=True)
    controlled_co = Company.objects.create(name="Controlled Co", hq_country_id="CAN", is_fictional=True)
    minority_co = Company.objects.create(name="Minority Co", hq_country_id="CAN", is_fictional=True)
    OwnershipStake.objects.create(owner=owner, owned=controlled_co, percent=30)
    OwnershipStake.objects.create(owner=owner, owned=minority_co, percent=20)
    _lithium_facility("plant-controlled", controlled_co, "CAN")
    _lithium_facility("plant-minority", minority_co, "CAN")
    report = selectors.mineral_alternatives("lithium", exposed_volume=100.0, as_of=AS_OF)
    offered = {a["key"] for a in report["alternatives"]}
    apart = {a["key"]: a["reason"] for a in report["not_alternatives"]}
    assert "facility:plant-minority" in offered
    assert "facility:plant-controlled" not in offered
    assert "controlled by a FEOC" in apart["facility:plant-controlled"]
    assert apart["country:CHN"] == "located in CHN, a FEOC country"
    assert "country:CHN" not in offered


def test_facility_fed_by_a_chinese_refinery_is_not_an_alternative(demo: None) -> None:
    """A Japanese cathode plant takes 40 % of its lithium from a refinery in China (a Chinese
    company): its supply runs back to China, so it is listed apart naming that refinery; a
    Korean plant fed by the Japanese one is excluded too (the chain runs back to China)."""
    _recompute("lithium")
    cn_co = Company.objects.create(name="Refiner (CHN)", hq_country_id="CHN", is_fictional=True)
    jp_co = Company.objects.create(name="Cathodes (JPN)", hq_country_id="JPN", is_fictional=True)
    kr_co = Company.objects.create(name="Cells (KOR)", hq_country_id="KOR", is_fictional=True)
    refinery = _lithium_facility("cn-refinery", cn_co, "CHN")
    cathodes = _lithium_facility("jp-cathodes", jp_co, "JPN", stage="component")
    cells = _lithium_facility("kr-cells", kr_co, "KOR", stage="component")
    lithium = Mineral.objects.get(slug="lithium")
    SupplyLink.objects.create(upstream=refinery, downstream=cathodes, mineral=lithium, share=0.4)
    SupplyLink.objects.create(upstream=cathodes, downstream=cells, mineral=lithium, share=1.0)
    report = selectors.mineral_alternatives("lithium", exposed_volume=100.0, as_of=AS_OF)
    offered = {a["key"] for a in report["alternatives"]}
    apart = {a["key"]: a["reason"] for a in report["not_alternatives"]}
    assert {"facility:jp-cathodes", "facility:kr-cells", "facility:cn-refinery"}.isdisjoint(offered)
    assert apart["facility:jp-cathodes"] == "supply runs back to China: Cn-Refinery (CHN)"
    assert apart["facility:kr-cells"] == "supply runs back to China: Cn-Refinery (CHN)"
    assert apart["facility:cn-refinery"] == "located in CHN, a FEOC country"


# --------------------------------------------------------------------------------------------
# By stage (issue 12): alternatives from the stage bought, or "needs processing" with where


def test_mine_offered_to_a_refined_metal_buyer_shows_its_processing_step(demo: None) -> None:
    """Copper bought refined: producing countries come from the refinery table (JPN refinery
    2024, 1,600,000 t: same stage). A Chilean mine offered to that buyer needs refining, and
    refining happens mostly in China: demo/production.csv copper refinery 2024, CHN 12,000,000
    of a world 27,000,000 t = 44 % (a FEOC country: said so)."""
    _recompute("copper")
    chile_co = Company.objects.create(name="Mine Co (CHL)", hq_country_id="CHL", is_fictional=True)
    Facility.objects.create(
        key="test-copper-mine", company=chile_co, name="Copper Mine", country_id="CHL",
        mineral=Mineral.objects.get(slug="copper"), stage="mine", capacity=1_000, capacity_unit="t",
        status="operating",
    )  # fmt: skip
    report = selectors.mineral_alternatives("copper", exposed_volume=100.0, stage="refinery", as_of=AS_OF)
    by_key = {a["key"]: a for a in report["alternatives"]}
    japan = by_key["country:JPN"]
    assert (japan["stage"], japan["stage_match"], japan["processing"]) == ("refinery", True, "")
    assert japan["available_capacity"] == pytest.approx(1_600_000.0)
    mine = by_key["facility:test-copper-mine"]
    assert (mine["stage"], mine["stage_match"]) == ("mine", False)
    assert mine["processing"] == "needs processing: refining (mine to refinery)"
    assert mine["processing_where"] == "refinery output 2024: CHN 44% of world (a FEOC country)"
    assert report["stage"] == "refinery"


def test_requirement_stage_defaults_to_refined(demo: None) -> None:
    from suppliers.models import Requirement

    buyer = Organization.objects.get(name="Demo Buyer Inc.")
    requirement = Requirement.objects.filter(organization=buyer).first()
    assert requirement is not None
    assert requirement.stage == "refinery"


# --------------------------------------------------------------------------------------------
# Volumes that mean something (issue 12): gap as a share of the source, capped coverage,
# unknown capacity unknown, the uncovered part of a requirement


def test_coverage_is_capped_and_the_gap_is_a_share_of_the_source(demo: None) -> None:
    """A 176 t gap against Australia's 2024 lithium mine output of 88,000 t: coverage
    88,000 / 176 = 500x is shown as 100 %; the gap is 176 / 88,000 = 0.2 % of the source.
    The U.S. output is withheld: it stays unknown (None), never 0."""
    _recompute("lithium")
    report = selectors.mineral_alternatives("lithium", exposed_volume=176.0, unit="t", stage="mine", as_of=AS_OF)
    by_key = {a["key"]: a for a in report["alternatives"]}
    aus = by_key["country:AUS"]
    assert aus["coverage_ratio"] == pytest.approx(500.0)
    assert aus["coverage_share"] == 1.0
    assert aus["gap_share"] == pytest.approx(0.002)
    assert aus["gap_label"] == "your gap is 0.2% of AUS mine output 2024 (88,000 t)"
    assert all(a["coverage_share"] is None or 0 <= a["coverage_share"] <= 1 for a in report["alternatives"])
    usa = by_key["country:USA"]
    assert (usa["available_capacity"], usa["coverage_share"], usa["gap_share"]) == (None, None, None)
    assert usa["gap_label"] == "capacity unknown"


def test_uncovered_part_of_a_requirement_changes_with_the_requirement(demo: None) -> None:
    """Demo Buyer's gallium: requirement 2,000 kg, sourced CHN 1,600 + JPN 400 = 2,000 kg, so
    nothing is uncovered. Raised to 5,000 kg, 5,000 - 2,000 = 3,000 kg is uncovered and the
    gap the alternatives must fill grows by exactly that."""
    from suppliers import services as supplier_services
    from suppliers.models import Requirement

    _recompute("gallium")
    buyer = Organization.objects.get(name="Demo Buyer Inc.")
    gallium = Mineral.objects.get(slug="gallium")

    def gallium_row() -> dict[str, object]:
        services.organizations_exposure_recompute(organization_ids=[buyer.pk])
        rows = selectors.organization_alternatives(organization=buyer, as_of=AS_OF)
        return next(row for row in rows if row["mineral"] == "gallium")

    before = gallium_row()
    assert before["unit"] == "kg"
    assert before["uncovered_volume"] == pytest.approx(0.0)
    assert before["gap_volume"] == pytest.approx(before["exposed_volume"])
    supplier_services.record_upsert(
        model=Requirement,
        lookup={"organization": buyer, "mineral": gallium},
        values={"annual_quantity": 5_000, "unit": "kg"},
    )
    after = gallium_row()
    assert after["uncovered_volume"] == pytest.approx(3_000.0)
    assert after["gap_volume"] == pytest.approx(after["exposed_volume"] + 3_000.0)
    assert after["exposed_volume"] == pytest.approx(before["exposed_volume"])


def test_alternatives_of_a_buyer_holding_all_17_minerals_take_a_fixed_number_of_queries(
    demo: None,
    private_page_cache,  # type: ignore[no-untyped-def]
    django_assert_num_queries,  # type: ignore[no-untyped-def]
) -> None:
    """The demo buyer (8 minerals) and the same buyer holding every one of the 17 demo minerals
    read their alternatives and levers in the same 15 queries when the candidates are not stored
    yet, and in the same 2 once they are (the exposure rows with the minerals' versions, the
    policy history)."""
    from suppliers.models import Requirement

    buyer = Organization.objects.get(name="Demo Buyer Inc.")
    services.organizations_exposure_recompute(organization_ids=[buyer.pk])
    with django_assert_num_queries(15):
        assert len(selectors.organization_alternatives(organization=buyer, as_of=AS_OF)) == 8
    with django_assert_num_queries(2):
        assert len(selectors.organization_alternatives(organization=buyer, as_of=AS_OF)) == 8
    held = set(Requirement.objects.filter(organization=buyer).values_list("mineral_id", flat=True))
    for mineral in Mineral.objects.exclude(pk__in=held):
        Requirement.objects.create(organization=buyer, mineral=mineral, annual_quantity=10, unit="t")
    services.organizations_exposure_recompute(organization_ids=[buyer.pk])
    assert Mineral.objects.count() == 17
    private_page_cache.clear()
    with django_assert_num_queries(15):
        rows = selectors.organization_alternatives(organization=buyer, as_of=AS_OF)
    assert len(rows) == 17
    with django_assert_num_queries(2):
        assert selectors.organization_alternatives(organization=buyer, as_of=AS_OF) == rows
    assert all(set(row["levers"]) == {"diversification", "us", "recycling"} for row in rows)


# --------------------------------------------------------------------------------------------
# Three levers side by side (issue 12): other countries and companies, U.S. production and
# projects with federal support, recycling


def _buyer_levers(slug: str) -> dict[str, object]:
    buyer = Organization.objects.get(name="Demo Buyer Inc.")
    services.organizations_exposure_recompute(organization_ids=[buyer.pk])
    rows = selectors.organization_alternatives(organization=buyer, as_of=AS_OF)
    return next(row for row in rows if row["mineral"] == slug)


def test_us_lever_lists_projects_with_their_federal_support(demo: None) -> None:
    """Lithium (demo/facilities.csv, demo/federal_support.csv from policy-timeline.md): Kings
    Mountain (planned, no announced year) carries the DPA Title III award of USD 90 M
    (July-September 2023); Thacker Pass (construction) has none recorded. Foreign sources are
    on the diversification lever, never on the U.S. one."""
    _recompute("lithium")
    row = _buyer_levers("lithium")
    us = {a["key"]: a for a in row["levers"]["us"]}
    kings = us["facility:kings-mountain"]
    assert kings["federal_support"][0]["amount_usd"] == 90_000_000
    assert kings["federal_support"][0]["announced"] == "July-September 2023"
    assert kings["federal_support"][0]["policy_measure"] == "us-2023-dpa-awards"
    assert page_content.support_text(kings["federal_support"]) == (
        "Defense Production Act Title III award USD 90 M (July-September 2023)"
    )
    assert (kings["available_from"], kings["announced"]) == (None, False)  # no year announced: unknown
    assert us["facility:thacker-pass"]["federal_support"] == []
    assert all(a["country"] == "USA" for a in row["levers"]["us"])
    assert all(a["country"] != "USA" for a in row["levers"]["diversification"])
    assert "country:AUS" in {a["key"] for a in row["levers"]["diversification"]}


def test_announced_start_year_carries_its_source_and_idle_projects_stay_listed(demo: None) -> None:
    """Rare earths: MP Materials' magnet plant, announced for 2028 in the DoD-MP agreement
    (2025-07-10), can supply from 2028 (announced), its source named, with the USD 400 M
    preferred equity. Cobalt: Idaho Cobalt Operations is idle (cannot supply, not ranked) and is
    still on the U.S. lever with its USD 15 M DPA award."""
    _recompute("rare-earths", "cobalt")
    magnets = {a["key"]: a for a in _buyer_levers("rare-earths")["levers"]["us"]}["facility:mp-magnet-plant"]
    assert (magnets["available_from"], magnets["announced"], magnets["status"]) == (2028, True, "planned")
    assert magnets["start_year_source"].startswith("U.S. critical-minerals support actions")
    assert magnets["federal_support"][0]["amount_usd"] == 400_000_000
    assert magnets["federal_support"][0]["announced"] == "2025-07-10"
    cobalt = _buyer_levers("cobalt")
    idle = {a["key"]: a for a in cobalt["levers"]["us"]}["facility:idaho-cobalt-operations"]
    assert idle["status"] == "idle"
    assert idle["federal_support"][0]["amount_usd"] == 15_000_000
    assert "facility:idaho-cobalt-operations" not in {a["key"] for a in cobalt["alternatives"]}


def test_recycling_lever_share_of_the_requirement_with_source_and_edition(demo: None) -> None:
    """Cobalt (demo/recycling.csv, MCS 2025 salient statistics, 2024 estimated): U.S. secondary
    production 2,000 t over apparent consumption 8,500 t = 0.23529. The demo buyer requires 12 t:
    recycling at that rate could supply 12 x 2,000 / 8,500 = 2.8235 t (23.5 %). Redwood
    Materials (a U.S. recycler, capacity not published) is offered as a recycler."""
    _recompute("cobalt")
    lever = _buyer_levers("cobalt")["levers"]["recycling"]
    assert lever["rate"] == pytest.approx(2_000 / 8_500)
    assert lever["share_of_requirement"] == pytest.approx(0.23529, abs=1e-5)
    assert lever["volume"] == pytest.approx(12 * 2_000 / 8_500)
    assert (lever["unit"], lever["year"], lever["is_estimate"]) == ("t", 2024, True)
    assert lever["edition"] == "MCS 2025 (January 2025)"
    assert lever["secondary_quantity"] == pytest.approx(2_000.0)
    recyclers = {a["key"]: a for a in lever["recyclers"]}
    assert recyclers["facility:redwood-nevada"]["available_capacity"] is None


def test_recycling_lever_unknown_stays_unknown(demo: None) -> None:
    """Germanium: MCS 2025 gives NA for U.S. secondary production: the figure is recorded, its
    rate, share and volume stay None (never 0). Gallium: no recycling figure at all: None."""
    _recompute("germanium", "gallium")
    germanium = _buyer_levers("germanium")["levers"]["recycling"]
    assert (germanium["rate"], germanium["share_of_requirement"], germanium["volume"]) == (None, None, None)
    assert germanium["year"] == 2024
    assert "NA in MCS 2025" in germanium["notes"]
    gallium = _buyer_levers("gallium")["levers"]["recycling"]
    assert (gallium["rate"], gallium["volume"], gallium["year"], gallium["source"]) == (None, None, None, "")


def test_stored_candidates_rank_exactly_as_rank_alternatives_over_the_live_candidates(
    demo: None,
    private_page_cache,  # type: ignore[no-untyped-def]
) -> None:
    """The buyer's alternatives come from the candidate set stored per data version (only the
    ranking by the buyer's gap is per request). For every mineral of the demo buyer, read cold
    and then from the store, they are exactly what risk.rank_alternatives gives over the
    candidates read live (`alternative_sources`, the scenarios' read): same order, ranks,
    scores, coverage and gap shares, to the bit."""
    from django.conf import settings

    from dashboards import risk

    list(services.all_metrics_recompute())
    buyer = Organization.objects.get(name="Demo Buyer Inc.")
    services.organizations_exposure_recompute(organization_ids=[buyer.pk])
    cold = selectors.organization_alternatives(organization=buyer, as_of=AS_OF)
    stored = selectors.organization_alternatives(organization=buyer, as_of=AS_OF)
    assert stored == cold
    minerals = {m.slug: m for m in Mineral.objects.all()}
    for row in stored:
        mineral = minerals[row["mineral"]]
        live = selectors.alternative_sources(
            [mineral.pk],
            as_of=AS_OF,
            unit_of={mineral.pk: row["unit"]},
            stage_of={mineral.pk: row["stage"]},
            slug_of={mineral.pk: mineral.slug},
            exposed_of={mineral.pk: row["gap_volume"]},
        )[mineral.pk]
        ranked = risk.rank_alternatives(
            row["gap_volume"],
            live,
            feoc=frozenset(settings.LODESTONE_FEOC_COUNTRIES),
            required_stage=row["stage"],
            year=AS_OF.year,
            weights=settings.LODESTONE_ALTERNATIVE_WEIGHTS,
        )
        expected = [
            (a.rank, a.source.key, a.score, a.score_upper, a.coverage_share, a.gap_share, dict(a.contributions))
            for a in ranked
        ]
        got = [
            (a["rank"], a["key"], a["score"], a["score_upper"], a["coverage_share"], a["gap_share"], a["contributions"])
            for a in row["alternatives"]
        ]
        assert got == expected, row["mineral"]
        assert row["alternatives_total"] == len(ranked)
        assert [x["key"] for x in row["not_alternatives"]] == [
            x.source.key for x in risk.not_alternatives(live, feoc=frozenset(settings.LODESTONE_FEOC_COUNTRIES))
        ]


def test_facility_candidates_come_in_the_order_they_were_recorded(demo: None) -> None:
    """Not in the order of the query plan: the stored set (all the buyer's minerals) and the
    scenarios' read (one mineral) once listed the sources that are "not an alternative" in two
    orders. An update writes the row's new version after the others, where a read in no order
    finds it last."""
    from django.db.models import F

    mineral = Mineral.objects.get(slug="rare-earths")

    def facility_keys() -> list[str]:
        candidates = selectors.alternative_sources(
            [mineral.pk], as_of=AS_OF, unit_of={mineral.pk: "t"}, stage_of={mineral.pk: "refinery"},
            slug_of={mineral.pk: mineral.slug},
        )[mineral.pk]  # fmt: skip
        return [c.key.removeprefix("facility:") for c in candidates if c.key.startswith("facility:")]

    keys = facility_keys()
    assert len(keys) >= 3
    Facility.objects.filter(key=keys[0]).update(name=F("name"))
    ids = dict(Facility.objects.values_list("key", "id"))
    assert facility_keys() == sorted(keys, key=ids.__getitem__)
