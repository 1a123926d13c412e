"""Scenario maths (dashboards.scenario_risk), hand-computed: no database."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest

from dashboards import risk
from dashboards import scenario_risk as sr

CHINA_GROUP = frozenset({"CHN", "HKG", "MAC"})
SHARES = {"CHN": 0.6, "AUS": 0.2, "USA": 0.1}  # the rest (0.1) is "Other countries"


def _suspended_ban(**extra: object) -> risk.Measure:
    fields = {
        "key": "cn-ban",
        "issuer": "CHN",
        "measure_type": "export_ban",
        "minerals": frozenset({"gallium"}),
        "targets": frozenset({"USA"}),
        "effective_on": date(2024, 12, 3),
        "suspended_from": date(2025, 11, 9),
        "suspended_until": date(2026, 11, 27),
    }
    return risk.Measure(**{**fields, **extra})  # type: ignore[arg-type]


def _restricted(measures: tuple[risk.Measure, ...], window: sr.Window, shares=SHARES, severities=None) -> float | None:
    outcome = sr.mineral_outcome(
        sr.MineralInputs("gallium", shares, {}),
        sr.PolicyInputs(measures, severities or {}),
        (),
        window=window,
        destination="USA",
        china_group=CHINA_GROUP,
    )
    return outcome.restricted_supply_share


def test_suspension_ending_inside_the_window_counts_the_days_after_it() -> None:
    """Window 2026-11-01..2026-12-31 (61 days); the ban is suspended until 2026-11-27, so it applies
    from 11-28: 34 of 61 days. Baseline 0.6 x 1.0 x 34/61 = 0.33443; lapsing on the window's start
    0.6 all along; lapsing on 11-15 (in force 11-15..12-31, 47 days) 0.6 x 47/61 = 0.46230."""
    window = sr.Window(date(2026, 11, 1), date(2026, 12, 31))
    ban = (_suspended_ban(),)
    assert _restricted(ban, window) == pytest.approx(0.6 * 34 / 61)
    lapsed = sr.apply_policy_shocks(ban, [sr.PolicyShock("lapse", measure_key="cn-ban")], window=window)
    assert lapsed[0].suspended_until == date(2026, 10, 31)
    assert _restricted(lapsed, window) == pytest.approx(0.6)
    mid = sr.apply_policy_shocks(ban, [sr.PolicyShock("lapse", on=date(2026, 11, 15))], window=window)
    assert _restricted(mid, window) == pytest.approx(0.6 * 47 / 61)


def test_extension_keeps_the_suspension_through_its_new_end() -> None:
    """Extended to 2026-12-15: in force 12-16..12-31, 16 of 61 days -> 0.6 x 16/61."""
    window = sr.Window(date(2026, 11, 1), date(2026, 12, 31))
    extended = sr.apply_policy_shocks(
        (_suspended_ban(),), [sr.PolicyShock("extend", measure_key="cn-ban", until=date(2026, 12, 15))], window=window
    )
    assert extended[0].suspended_from == date(2025, 11, 9)
    assert _restricted(extended, window) == pytest.approx(0.6 * 16 / 61)


def test_widened_target_list_reaches_the_new_destination() -> None:
    """A ban on Japan only restricts nothing for the U.S.; widened to the U.S. from 2027-01-01 in a
    2027 window it restricts China's 0.6. The widened ban replaces the original (same key, one
    measure): no copy beside it."""
    window = sr.Window(date(2027, 1, 1), date(2027, 12, 31))
    japan = (_suspended_ban(targets=frozenset({"JPN"}), suspended_from=None, suspended_until=None),)
    assert _restricted(japan, window) == pytest.approx(0.0)
    widened = sr.apply_policy_shocks(
        japan, [sr.PolicyShock("widen", issuer="CHN", targets=frozenset({"USA"}), on=date(2027, 1, 1))], window=window
    )
    # In force since 2024, so the recorded ban runs to 2027-01-01 and the widened one from then.
    assert [(m.key, m.targets, m.effective_on, m.ended_on) for m in widened] == [
        ("cn-ban", frozenset({"JPN"}), date(2024, 12, 3), date(2027, 1, 1)),
        ("cn-ban", frozenset({"JPN", "USA"}), date(2027, 1, 1), None),
    ]
    assert _restricted(widened, window) == pytest.approx(0.6)
    assert [m.targets for m in widened if risk.in_force(m, date(2027, 6, 1))] == [frozenset({"JPN", "USA"})]


def test_widening_replaces_the_measure_so_a_licence_widened_to_a_ban_counts_once() -> None:
    """A licence (0.2) on gallium to Japan and the U.S., widened from mid-window (2027-07-02, 183 of
    365 days) to a ban on gallium and germanium to Japan, the U.S. and Korea. On any day exactly one
    of the two is in force: the licence before, the ban after (never the licence's 0.2 and the ban's
    1.0 side by side, never a second licence): gallium 0.6 x (0.2 x 182 + 1.0 x 183) / 365, and
    the ban's severity once in the breakdown (one contribution, one measure key)."""
    window = sr.Window(date(2027, 1, 1), date(2027, 12, 31))
    licence = risk.Measure(
        "cn-lic", "CHN", "export_licence", frozenset({"gallium"}), frozenset({"JPN", "USA"}),
        effective_on=date(2023, 8, 1), severity_override=0.3,
    )  # fmt: skip
    shock = sr.PolicyShock(
        "widen", measure_key="cn-lic", on=date(2027, 7, 2), measure_type="export_ban",
        minerals=frozenset({"germanium"}), targets=frozenset({"KOR"}),
    )  # fmt: skip
    widened = sr.apply_policy_shocks((licence,), [shock], window=window)
    assert len(widened) == 2
    before, after = widened
    assert (before.measure_type, before.ended_on) == ("export_licence", date(2027, 7, 2))
    assert (after.measure_type, after.effective_on, after.ended_on) == ("export_ban", date(2027, 7, 2), None)
    assert after.minerals == frozenset({"gallium", "germanium"})
    assert after.targets == frozenset({"JPN", "USA", "KOR"})
    assert after.severity_override is None  # the licence's own severity does not carry to the ban
    for day in (date(2027, 1, 1), date(2027, 7, 1), date(2027, 7, 2), date(2027, 12, 31)):
        assert sum(risk.in_force(m, day) for m in widened) == 1
    severities = {"export_licence": 0.2}
    assert _restricted(widened, window, severities=severities) == pytest.approx(0.6 * (0.3 * 182 + 1.0 * 183) / 365)
    breakdown = risk.restriction_breakdown(
        {"CHN": 0.6}, widened, mineral="gallium", destination="USA", as_of=date(2027, 8, 1)
    )
    assert [(c.severity, c.measure_keys) for c in breakdown.contributions] == [(1.0, ("cn-lic",))]
    assert breakdown.share == pytest.approx(0.6)
    # Widened again (a second shock naming the same measure) it still is one measure per day.
    again = sr.apply_policy_shocks(
        widened, [sr.PolicyShock("widen", measure_key="cn-lic", targets=frozenset({"DEU"}))], window=window
    )
    assert sum(risk.in_force(m, date(2027, 8, 1)) for m in again) == 1


def test_widening_from_before_a_measure_starts_or_after_it_ended() -> None:
    """From the window's start, a measure effective later is widened from its own date (replaced,
    one measure); one ended before the widening is left as it was. Suspension and end carry over."""
    window = sr.Window(date(2027, 1, 1), date(2027, 12, 31))
    later = _suspended_ban(effective_on=date(2027, 3, 1), ended_on=date(2027, 12, 1), targets=frozenset({"JPN"}))
    (only,) = sr.apply_policy_shocks((later,), [sr.PolicyShock("widen", targets=frozenset({"USA"}))], window=window)
    assert (only.effective_on, only.ended_on, only.suspended_until) == (
        date(2027, 3, 1), date(2027, 12, 1), date(2026, 11, 27),
    )  # fmt: skip
    ended = _suspended_ban(ended_on=date(2026, 6, 1))
    assert sr.apply_policy_shocks((ended,), [sr.PolicyShock("widen", targets=frozenset({"JPN"}))], window=window) == (
        ended,
    )


def test_a_licence_on_every_destination_raised_to_a_ban_for_named_targets() -> None:
    """China's licence on every destination becomes a ban to the U.S. only ("China bans every
    controlled item to the United States"): the licence keeps applying to everyone else, the U.S.
    gets the ban; severities of one issuer combine by their maximum, so the U.S. sees 1.0 once and
    Japan the licence's 0.2."""
    window = sr.Window(date(2027, 1, 1), date(2027, 12, 31))
    licence = risk.Measure("cn-lic", "CHN", "export_licence", frozenset({"gallium"}), effective_on=date(2023, 8, 1))
    shock = sr.PolicyShock("widen", issuer="CHN", measure_type="export_ban", targets=frozenset({"USA"}))
    kept, ban = sr.apply_policy_shocks((licence,), [shock], window=window)
    assert kept == licence
    assert (ban.measure_type, ban.targets, ban.effective_on) == ("export_ban", frozenset({"USA"}), date(2027, 1, 1))
    day = date(2027, 5, 1)
    assert risk.country_severity((kept, ban), "CHN", "gallium", "USA", day) == 1.0
    assert risk.country_severity((kept, ban), "CHN", "gallium", "JPN", day) == pytest.approx(0.2)
    assert _restricted((kept, ban), window) == pytest.approx(0.6)


def test_new_measure_by_any_issuer() -> None:
    """Australia bans exports to everyone for the first 90 days of 2027: 0.2 x 90/365."""
    window = sr.Window(date(2027, 1, 1), date(2027, 12, 31))
    shock = sr.PolicyShock(
        "new", issuer="AUS", measure_type="export_ban", minerals=frozenset({"gallium"}), until=date(2027, 3, 31)
    )
    measures = sr.apply_policy_shocks((), [shock], window=window)
    assert measures[0].ended_on == date(2027, 4, 1)
    assert _restricted(measures, window) == pytest.approx(0.2 * 90 / 365)


def test_licence_approval_rate_replaces_the_licence_severity() -> None:
    """Licence on China's 0.6: the default table (0.2) gives 0.12, i.e. an approval rate of 0.8;
    approved at 50 % half of China's licensed flow is blocked (0.30), half a ban's effect (0.60)."""
    window = sr.Window(date(2027, 1, 1), date(2027, 12, 31))
    licence = (risk.Measure("cn-lic", "CHN", "export_licence", frozenset({"gallium"}), effective_on=date(2023, 8, 1)),)
    assert sr.default_licence_approval_rate({}) == pytest.approx(0.8)
    assert _restricted(licence, window) == pytest.approx(0.12)
    half, table = sr.apply_licence_approval(licence, {"export_licence": 0.2}, 0.5)
    assert table["export_licence"] == 0.5
    assert _restricted(half, window, severities=table) == pytest.approx(0.30)
    none_approved, table0 = sr.apply_licence_approval(licence, {}, 0.0)
    assert _restricted(half, window, severities=table) == pytest.approx(
        0.5 * _restricted(none_approved, window, severities=table0)
    )
    with pytest.raises(ValueError, match="approval rate"):
        sr.apply_licence_approval(licence, {}, 1.5)


def test_largest_non_chinese_supplier_removed_raises_chinas_share() -> None:
    """AUS (0.2) is the largest outside China; removed, the world total is 0.8 of what it was:
    China 0.6/0.8 = 0.75, USA 0.1/0.8 = 0.125. Cut by half instead: 0.6/0.9."""
    assert sr.largest_non_china(SHARES, CHINA_GROUP) == "AUS"
    cuts = sr.cuts_for([sr.OutputCut(1.0)], mineral="gallium", supply_shares=SHARES, china_group=CHINA_GROUP)
    assert cuts == {"AUS": 1.0}
    after = sr.shocked_shares(SHARES, cuts)
    assert after == pytest.approx({"CHN": 0.75, "AUS": 0.0, "USA": 0.125})
    assert sr.shocked_shares(SHARES, {"AUS": 0.5})["CHN"] == pytest.approx(0.6 / 0.9)
    assert sr.shocked_shares({"CHN": 0.6, "AUS": None}, {"AUS": 1.0}) == {"CHN": None, "AUS": None}
    outcome = sr.mineral_outcome(
        sr.MineralInputs("gallium", SHARES, {"CHN": 0.5, "AUS": 0.5}),
        sr.PolicyInputs((), {}),
        [sr.OutputCut(1.0)],
        window=sr.Window(date(2027, 1, 1), date(2027, 12, 31)),
        destination="USA",
        china_group=CHINA_GROUP,
    )
    assert outcome.china_supply_share == pytest.approx(0.75)
    assert outcome.cut_countries == (("AUS", 1.0),)


NETWORK = risk.supply_network([risk.FacilityNode(7, "BEL", stage="refinery")], [])
MIX = {"BEL": {"BEL": 1.0}, "CHN": {"CHN": 1.0}}


def _buyer(requirement: float | None = 100.0) -> sr.BuyerInputs:
    lines = (risk.SourcingLine(60.0, None, "CHN"), risk.SourcingLine(40.0, 7, "BEL"))
    return sr.BuyerInputs(1, "gallium", "USA", requirement, lines, NETWORK, MIX)


def _planned(start: int | None, status: str = "planned") -> risk.AlternativeSource:
    return risk.AlternativeSource("facility:new-plant", "facility", "CAN", 100.0, status=status, start_year=start)  # type: ignore[arg-type]


def test_delayed_facility_moves_coverage_a_year_later() -> None:
    """China bans gallium to the U.S. for 2027-2029: 60 of the buyer's 100 a year is at risk. The only
    alternative, a planned Canadian plant of 100 from 2027, covers it all from 2027; delayed by a
    year, from 2028 (2027: 60 at risk, 0 covered)."""
    window = sr.Window(date(2027, 1, 1), date(2029, 12, 31))
    ban = (_suspended_ban(suspended_from=None, suspended_until=None),)
    policy = sr.PolicyInputs(ban, {})
    shock = sr.FacilityShock(99, "new-plant", delay_years=1)

    def outcome(shocks: sr.Shocks) -> sr.BuyerOutcome:
        candidates = sr.shocked_candidates([_planned(2027)], cuts={}, facilities=shocks.facilities, first_year=2027)
        ranked = risk.rank_alternatives(60.0, candidates, year=2027)
        return sr.buyer_outcome(_buyer(), policy, shocks, window=window, alternatives=ranked, cuts={})

    base = outcome(sr.BASELINE)
    assert [(y.year, y.at_risk, y.covered, y.uncovered) for y in base.years] == [
        (2027, pytest.approx(60.0), pytest.approx(60.0), 0.0),
        (2028, pytest.approx(60.0), pytest.approx(60.0), 0.0),
        (2029, pytest.approx(60.0), pytest.approx(60.0), 0.0),
    ]
    assert base.covered_from == 2027
    late = outcome(sr.Shocks(facilities=(shock,)))
    assert [(y.year, y.covered) for y in late.years] == [
        (2027, 0.0),
        (2028, pytest.approx(60.0)),
        (2029, pytest.approx(60.0)),
    ]
    assert late.covered_from == 2028


def test_buyer_losses_from_supply_and_demand_shocks() -> None:
    """2027 without measures: the Belgian facility offline loses its 40 of 100; demand +50 % makes
    the requirement 150, so 60 at risk; Belgium's output cut by half loses 20 of 100. A window of
    2027-07-02..2027-12-31 (183 days) counts 183/365 of the year's requirement."""
    window = sr.Window(date(2027, 1, 1), date(2027, 12, 31))
    policy = sr.PolicyInputs((), {})
    offline = sr.Shocks(
        facilities=(sr.FacilityShock(7, "umicore", offline=True),), demand=(sr.DemandShock("gallium", 0.5),)
    )
    result = sr.buyer_outcome(_buyer(), policy, offline, window=window, alternatives=(), cuts={})
    assert (result.years[0].required, result.years[0].at_risk, result.years[0].uncovered) == pytest.approx(
        (150.0, 60.0, 60.0)
    )
    assert result.covered_from is None
    cut = sr.buyer_outcome(_buyer(), policy, sr.BASELINE, window=window, alternatives=(), cuts={"BEL": 0.5})
    assert cut.years[0].at_risk == pytest.approx(20.0)
    half_year = sr.buyer_outcome(
        _buyer(), policy, offline, window=sr.Window(date(2027, 7, 2), date(2027, 12, 31)), alternatives=(), cuts={}
    )
    assert half_year.years[0].at_risk == pytest.approx(60.0 * 183 / 365)
    nothing = sr.buyer_outcome(
        sr.BuyerInputs(1, "gallium", "USA", 10.0, (), NETWORK, MIX), policy, sr.BASELINE, window=window,
        alternatives=(), cuts={},
    )  # fmt: skip
    assert nothing.years[0].at_risk is None


def test_segments_cut_at_status_changes_and_new_years() -> None:
    window = sr.Window(date(2026, 11, 1), date(2027, 1, 31))
    cut = sr.segments(window, [_suspended_ban()])
    assert [(s.start, s.days) for s in cut] == [
        (date(2026, 11, 1), 27),
        (date(2026, 11, 28), 34),
        (date(2027, 1, 1), 31),
    ]
    with pytest.raises(ValueError, match="before it starts"):
        sr.Window(date(2027, 1, 2), date(2027, 1, 1))


WORLD = {"CHN": 0.6, "AUS": 0.2, "USA": 0.1}  # known shares; 0.1 unknown ("Other countries")


def test_output_cuts_reach_the_fallback_mixes() -> None:
    """Where inputs are unknown the engine assumes a mix: a listed producer supplies itself, any
    other country draws on the world mix. AUS (0.2) removed: the world mix becomes CHN 0.6/0.8 =
    0.75, USA 0.1/0.8 = 0.125 (China's share rises); Australia's own mix is all lost and bought on
    that market. AUS cut by half: the world is 0.9 of itself (CHN 0.6/0.9, AUS 0.1/0.9, USA 0.1/0.9)
    and Australia keeps half of its own: AUS 0.5 + 0.5 x 0.1/0.9, CHN 0.5 x 0.6/0.9."""
    base = {"AUS": {"AUS": 1.0}, "CHN": {"CHN": 1.0}, "BEL": WORLD, "JPN": WORLD}
    removed = sr.ShockedFallbackMix(base, WORLD, {"AUS": 1.0})
    assert removed["BEL"] == pytest.approx({"CHN": 0.75, "AUS": 0.0, "USA": 0.125})
    assert removed["AUS"] == pytest.approx({"AUS": 0.0, "CHN": 0.75, "USA": 0.125})
    assert removed["CHN"] == {"CHN": 1.0}
    assert removed.get("KOR") is None  # no mix before, none after
    half = sr.ShockedFallbackMix(base, WORLD, {"AUS": 0.5})
    assert half["AUS"] == pytest.approx({"AUS": 0.5 + 0.5 * 0.1 / 0.9, "CHN": 0.5 * 0.6 / 0.9, "USA": 0.5 * 0.1 / 0.9})
    assert half["JPN"] == pytest.approx({"CHN": 0.6 / 0.9, "AUS": 0.1 / 0.9, "USA": 0.1 / 0.9})
    assert sr.fallback_mix_after(base, WORLD, {}) is base
    # Everything cut: nothing left to buy, the mix is unknown (the engine reports the country).
    assert sr.ShockedFallbackMix(base, {"AUS": 1.0}, {"AUS": 1.0}).get("BEL") is None


def test_a_cut_producer_raises_chinas_share_upstream_of_a_buyer() -> None:
    """The buyer's 100 come from a Belgian refinery with unknown inputs (the world mix); China's
    licence (0.2) applies to every destination. Baseline: 0.6 x 0.2 = 12 at risk; Australia lost:
    China is 0.75 of the mix, 0.75 x 0.2 = 15 at risk, and its upstream share 0.6 -> 0.75."""
    window = sr.Window(date(2027, 1, 1), date(2027, 12, 31))
    licence = risk.Measure("cn-lic", "CHN", "export_licence", frozenset({"gallium"}), effective_on=date(2023, 8, 1))
    policy = sr.PolicyInputs((licence,), {})
    base_mix = {"BEL": WORLD, "CHN": {"CHN": 1.0}, "AUS": {"AUS": 1.0}}
    buyer = sr.BuyerInputs(1, "gallium", "USA", 100.0, (risk.SourcingLine(100.0, 7, "BEL"),), NETWORK, base_mix)
    before = sr.buyer_outcome(buyer, policy, sr.BASELINE, window=window, cuts={})
    cut = {"AUS": 1.0}
    shocked = replace(buyer, fallback_mix=sr.fallback_mix_after(base_mix, WORLD, cut))
    after = sr.buyer_outcome(
        shocked, policy, sr.Shocks(output_cuts=(sr.OutputCut(1.0, "AUS"),)), window=window, cuts=cut
    )
    assert before.years[0].at_risk == pytest.approx(12.0)
    assert after.years[0].at_risk == pytest.approx(15.0)
    exposure = risk.buyer_exposure(
        buyer.lines, mineral="gallium", as_of=date(2027, 1, 1), network=NETWORK, fallback_mix=shocked.fallback_mix
    )
    assert exposure.upstream_china_share == pytest.approx(0.75)


def test_the_buyers_plan_applied_year_by_year() -> None:
    """China bans gallium to the U.S. all along 2027-2028; the buyer's 100 are 60 from China, 40
    from the Belgian refinery (its own country's output: unrestricted). The plan moves 50 % of the
    requirement (50) from China to the refinery from 2028: 2027 stays 60 at risk; 2028 only the 10
    left in China are, 10. Without a requirement a share cannot be placed: 2028 unknown, reason kept."""
    window = sr.Window(date(2027, 1, 1), date(2028, 12, 31))
    policy = sr.PolicyInputs((_suspended_ban(suspended_from=None, suspended_until=None),), {})
    move = risk.PlanMove(2028, None, "CHN", 7, "BEL", share=0.5, label="half to Olen")
    without = sr.buyer_outcome(_buyer(), policy, sr.BASELINE, window=window, cuts={})
    planned = sr.buyer_outcome(_buyer(), policy, sr.BASELINE, window=window, cuts={}, plan=[move])
    assert [y.at_risk for y in without.years] == pytest.approx([60.0, 60.0])
    assert [y.at_risk for y in planned.years] == pytest.approx([60.0, 10.0])
    unknown = sr.buyer_outcome(_buyer(None), policy, sr.BASELINE, window=window, cuts={}, plan=[move])
    assert unknown.years[0].at_risk == pytest.approx(60.0)
    assert unknown.years[1].at_risk is None
    assert unknown.issues == ("2028: half to Olen: a share of the requirement, and the requirement is not known",)


def test_line_passthroughs_give_buyer_exposures_restricted_share() -> None:
    """Traced once per line (scenarios' one pass over many buyers), the passthroughs weight back to
    risk.buyer_exposure's restricted share: a Japanese refinery (id 2) fed 50 % by a Chinese mine
    (id 1) and 50 % unknown (Japan's own mix), a Chinese country line, and a facility not in the
    network (traced as its country's line). China's licence 0.2: refinery 0.5 x 0.8 + 0.5 = 0.9,
    China line 0.8, unknown Korean facility 1.0 -> 1 - (30 x 0.9 + 50 x 0.8 + 20 x 1.0) / 100 = 0.13."""
    network = risk.supply_network(
        [risk.FacilityNode(1, "CHN", stage="mine"), risk.FacilityNode(2, "JPN", stage="refinery")],
        [risk.Link(1, 2, 0.5)],
    )
    licence = (risk.Measure("cn-lic", "CHN", "export_licence", frozenset({"gallium"}), effective_on=date(2023, 8, 1)),)
    mix = {"JPN": {"JPN": 1.0}, "CHN": {"CHN": 1.0}, "KOR": {"KOR": 1.0}}
    lines = (risk.SourcingLine(30.0, 2, "JPN"), risk.SourcingLine(50.0, None, "CHN"), risk.SourcingLine(20.0, 9, "KOR"))
    common = {"mineral": "gallium", "as_of": date(2027, 1, 1), "network": network, "fallback_mix": mix}
    passthroughs = risk.line_passthroughs(lines, measures=licence, **common)  # type: ignore[arg-type]
    assert passthroughs == pytest.approx((0.9, 0.8, 1.0))
    exposure = risk.buyer_exposure(lines, measures=licence, **common)  # type: ignore[arg-type]
    assert exposure.restricted_share == pytest.approx(0.13)
    assert 1 - sum(line.volume * p for line, p in zip(lines, passthroughs, strict=True)) / 100 == pytest.approx(0.13)
