"""Scenario maths (dashboards.scenario_risk), hand-computed: no database."""

from __future__ import annotations

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
    2027 window it restricts China's 0.6; the original measure is kept as it was."""
    window = sr.Window(date(2027, 1, 1), date(2027, 12, 31))
    japan = (_suspended_ban(targets=frozenset({"JPN"}), suspended_from=None, suspended_until=None),)
    assert _restricted(japan, window) == pytest.approx(0.0)
    widened = sr.apply_policy_shocks(
        japan, [sr.PolicyShock("widen", issuer="CHN", targets=frozenset({"USA"}))], window=window
    )
    assert [m.key for m in widened] == ["cn-ban", "cn-ban+widened-1"]
    assert widened[1].targets == frozenset({"JPN", "USA"})
    assert _restricted(widened, window) == pytest.approx(0.6)


def test_widening_a_licence_to_a_ban_and_to_more_minerals() -> None:
    """A licence (0.2) on gallium for every destination, widened to a U.S. ban on gallium and
    germanium from mid-window (2027-07-02, 183 of 365 days): gallium 0.6 x (0.2 x 182 + 1.0 x 183)/365."""
    window = sr.Window(date(2027, 1, 1), date(2027, 12, 31))
    licence = risk.Measure("cn-lic", "CHN", "export_licence", frozenset({"gallium"}), effective_on=date(2023, 8, 1))
    shock = sr.PolicyShock(
        "widen", measure_key="cn-lic", on=date(2027, 7, 2), measure_type="export_ban",
        minerals=frozenset({"germanium"}), targets=frozenset({"USA"}),
    )  # fmt: skip
    widened = sr.apply_policy_shocks((licence,), [shock], window=window)
    assert widened[1].minerals == frozenset({"gallium", "germanium"})
    assert widened[1].targets == frozenset({"USA"})
    assert _restricted(widened, window) == pytest.approx(0.6 * (0.2 * 182 + 1.0 * 183) / 365)


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
