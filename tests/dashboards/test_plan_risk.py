"""The transition plan's pure maths (docs/metrics.md "Transition plan"), hand-computed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from datetime import date
from functools import partial

import pytest

from dashboards import figures, risk
from dashboards.risk import FacilityNode, Link, Measure, PlanMove, SourcingLine

# Gallium: China's licence requirement (severity 0.2) in force since 2023, no end.
LICENCE = Measure(
    key="chn-ga-licence",
    issuer="CHN",
    measure_type="export_licence",
    minerals=frozenset({"gallium"}),
    effective_on=date(2023, 8, 1),
)
JAPAN_REFINER = FacilityNode(id=7, country="JPN", stage="refinery")
CHINA_REFINER = FacilityNode(id=8, country="CHN", stage="refinery")
# A refinery in Canada fed 40 % by the Chinese refinery: China upstream, not controlled.
CANADA_REFINER = FacilityNode(id=9, country="CAN", stage="refinery")
# A German refinery owned by a Chinese company: China-controlled outside China.
GERMAN_REFINER = FacilityNode(id=10, country="DEU", stage="refinery", china_controlled=True)
NETWORK = risk.supply_network(
    [JAPAN_REFINER, CHINA_REFINER, CANADA_REFINER, GERMAN_REFINER, risk.lever_node("recycling", "USA")],
    [Link(upstream_id=8, downstream_id=9, share=0.4), Link(upstream_id=8, downstream_id=10, share=1.0)],
)
# Own-country fallback: each refinery without links refines its own country's material.
MIX = {"JPN": {"JPN": 1.0}, "CAN": {"CAN": 1.0}, "DEU": {"DEU": 1.0}, "USA": {"USA": 1.0}}


def _exposure_in(measures: Sequence[Measure]) -> partial[risk.Exposure]:
    def exposure(lines: Sequence[SourcingLine], year: int) -> risk.Exposure:
        return risk.buyer_exposure(
            lines,
            mineral="gallium",
            as_of=date(year, 7, 1),
            network=NETWORK,
            fallback_mix=MIX,
            measures=measures,
        )

    return partial(exposure)


def test_moving_half_of_gallium_from_china_to_a_japanese_refiner_from_2027_halves_the_restricted_volume() -> None:
    """2,000 kg bought from China (country line). China's licence blocks 0.2 of it:
    restricted = 0.2 x 2,000 = 400 kg in every year today. The plan moves 50 % of the
    requirement (1,000 kg) to the Japanese refiner from 2027: 2026 stays 400 kg, and from 2027
    only the 1,000 kg left in China are restricted: 0.2 x 1,000 = 200 kg, half."""
    lines = [SourcingLine(2000.0, None, "CHN")]
    moves = [
        PlanMove(year=2027, from_facility_id=None, from_country="CHN", to_facility_id=7, to_country="JPN", share=0.5)
    ]
    today, plan = risk.transition_plan(lines, moves, requirement=2000.0, exposure_in=_exposure_in([LICENCE]))

    assert [y.year for y in plan] == [2026, 2027, 2028, 2029, 2030]
    assert [y.restricted_volume for y in today] == pytest.approx([400.0] * 5)
    assert plan[0].restricted_volume == pytest.approx(400.0)  # 2026 unchanged
    assert plan[1].restricted_volume == pytest.approx(200.0)  # 2027 halved
    assert plan[1].restricted_volume == pytest.approx(today[1].restricted_volume / 2)
    assert plan[1].china_direct == pytest.approx(1000.0)
    assert plan[1].unaffected == pytest.approx(1000.0)
    assert plan[1].restricted_share == pytest.approx(0.1)  # 200 of the 2,000 kg sourced
    assert today[1].china_direct == pytest.approx(2000.0)
    assert plan[1].uncovered == 0.0


def test_origin_classes_are_exclusive_and_the_uncovered_part_shows() -> None:
    """Requirement 5,000 kg; sourced 1,000 from the Chinese refiner (direct), 1,000 from the
    Chinese-owned German refiner (controlled), 1,000 from the Canadian refiner fed 40 % by China
    (upstream 400, unaffected 600), 1,000 from Japan (unaffected). Uncovered = 5,000 - 4,000."""
    lines = [
        SourcingLine(1000.0, 8, "CHN"),
        SourcingLine(1000.0, 10, "DEU"),
        SourcingLine(1000.0, 9, "CAN"),
        SourcingLine(1000.0, 7, "JPN"),
    ]
    today, _ = risk.transition_plan(lines, [], requirement=5000.0, exposure_in=_exposure_in([]), years=[2026])
    year = today[0]
    assert year.china_direct == pytest.approx(1000.0)
    assert year.china_controlled == pytest.approx(1000.0)
    assert year.china_upstream == pytest.approx(400.0)
    assert year.unaffected == pytest.approx(1600.0)
    assert year.uncovered == pytest.approx(1000.0)
    assert year.restricted_volume == pytest.approx(0.0)  # no measure in force


def test_missing_inputs_are_none_never_zero() -> None:
    """No requirement: the uncovered part is unknown, and a share of it cannot be placed (every
    planned figure None from the step's year, with the reason). A source that is not in the
    sourcing is not guessed either."""
    lines = [SourcingLine(2000.0, None, "CHN")]
    share_move = PlanMove(2028, None, "CHN", 7, "JPN", share=0.5)
    today, plan = risk.transition_plan(lines, [share_move], requirement=None, exposure_in=_exposure_in([LICENCE]))
    assert today[0].uncovered is None
    assert plan[1].china_direct == pytest.approx(2000.0)  # 2027: the step is not due
    assert plan[2].china_direct is None
    assert plan[2].restricted_volume is None
    assert plan[2].uncovered is None
    assert "requirement is not known" in plan[2].issues[0]

    missing_source = PlanMove(2026, 99, "AUS", 7, "JPN", volume=10.0)
    _, plan = risk.transition_plan(lines, [missing_source], requirement=2000.0, exposure_in=_exposure_in([]))
    assert plan[0].restricted_volume is None
    assert "not in today's sourcing" in plan[0].issues[0]


def test_a_move_larger_than_its_source_moves_what_is_left_and_says_so() -> None:
    """1,500 kg asked from a 1,000 kg line (of a 2,000 kg requirement, 1,000 kg uncovered) to
    generic recycling (no upstream): 1,000 kg move; the uncovered part stays 1,000 kg."""
    lines = [SourcingLine(1000.0, None, "CHN")]
    recycling = risk.LEVER_NODE_IDS["recycling"]
    move = PlanMove(2026, None, "CHN", recycling, "USA", volume=1500.0, label="Ga: China to recycling")
    _, plan = risk.transition_plan(lines, [move], requirement=2000.0, exposure_in=_exposure_in([LICENCE]))
    assert plan[0].unaffected == pytest.approx(1000.0)
    assert plan[0].china_direct == pytest.approx(0.0)
    assert plan[0].uncovered == pytest.approx(1000.0)
    assert plan[0].restricted_volume == pytest.approx(0.0)
    assert plan[0].issues == ("Ga: China to recycling: asks 1500, the source has 1000 left; moves 1000",)


def test_nothing_sourced_is_a_known_zero_with_an_unknown_restricted_share() -> None:
    today, _ = risk.transition_plan([], [], requirement=300.0, exposure_in=_exposure_in([]), years=[2026])
    assert today[0].china_direct == 0.0
    assert today[0].uncovered == 300.0
    assert today[0].restricted_share is None


def test_plan_chart_puts_today_beside_the_plan_and_keeps_the_uncovered_part() -> None:
    """Two bars per year (today, plan) stacked by the five origin classes; the uncovered part is a
    trace even at 0; an unknown figure stays a gap (None), never 0."""
    lines = [SourcingLine(1000.0, None, "CHN")]
    move = PlanMove(2027, None, "CHN", 7, "JPN", share=0.5)
    today, plan = risk.transition_plan(lines, [move], requirement=2000.0, exposure_in=_exposure_in([LICENCE]))
    series = {"today": [_as_dict(y) for y in today], "plan": [_as_dict(y) for y in plan]}
    series["plan"][4]["china_direct"] = None
    figure = figures.plan_origin_bars(series, unit="kg", title="Gallium")
    names = [trace.name for trace in figure.data]
    assert names[:5] == [name for _, name, _ in figures.PLAN_PARTS]
    assert list(figure.data[0].x[0][:4]) == ["2026", "2026", "2027", "2027"]
    assert list(figure.data[0].x[1][:2]) == ["today's sourcing", "plan"]
    uncovered = figure.data[4]
    assert list(uncovered.y[:2]) == [1000.0, 1000.0]
    direct = list(figure.data[0].y)
    assert direct[:4] == pytest.approx([1000.0, 1000.0, 1000.0, 0.0])
    assert direct[9] is None
    restricted = list(figure.data[5].y)
    assert restricted[:4] == pytest.approx([20.0, 20.0, 20.0, 0.0])


def _as_dict(year: risk.OriginYear) -> dict[str, object]:
    return asdict(year)
