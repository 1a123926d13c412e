"""Scenario charts as pure Plotly builders (plain data in, a figure out; no Django)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import plotly.graph_objects as go

BASELINE_COLOUR = "#999999"
SCENARIO_COLOUR = "#D55E00"  # Okabe-Ito vermillion, the palette the dashboards use
COVERED_COLOUR = "#009E73"
PLAN_COLOUR = "#0072B2"  # Okabe-Ito blue


def mineral_comparison(rows: Sequence[Mapping[str, Any]], *, title: str) -> go.Figure:
    """Per mineral, the restricted share of world supply, baseline beside scenario (percent).
    Unknown values are left out of the bars (never drawn as 0); the table shows them as unknown."""
    names = [r["name"] for r in rows]

    def values(side: str) -> list[float | None]:
        out = []
        for r in rows:
            value = r[side]["restricted_supply_share"]
            out.append(None if value is None else round(value * 100, 2))
        return out

    figure = go.Figure(
        [
            go.Bar(name="Baseline", x=names, y=values("baseline"), marker_color=BASELINE_COLOUR),
            go.Bar(name="Scenario", x=names, y=values("scenario"), marker_color=SCENARIO_COLOUR),
        ]
    )
    figure.update_layout(
        title=title, barmode="group", yaxis_title="% of world supply restricted", legend_orientation="h"
    )
    return figure


def volume_at_risk(rows: Sequence[Mapping[str, Any]], *, title: str) -> go.Figure:
    """Per mineral and year, the volume at risk (baseline, scenario, and the scenario with the
    buyer's active transition plan applied when it has one) and the part the alternatives cover,
    as grouped bars; each mineral in its own unit (named on the axis label)."""
    labels, baseline, scenario, planned, covered = [], [], [], [], []
    for row in rows:
        for year in row["years"]:
            labels.append(f"{row['name']} {year['year']} ({row['unit']})")
            baseline.append(year["baseline_at_risk"])
            scenario.append(year["at_risk"])
            planned.append(year.get("plan_at_risk"))
            covered.append(year["covered"])
    bars = [
        go.Bar(name="At risk, baseline", x=labels, y=baseline, marker_color=BASELINE_COLOUR),
        go.Bar(name="At risk, scenario", x=labels, y=scenario, marker_color=SCENARIO_COLOUR),
    ]
    if any(row.get("plan") for row in rows):  # the buyer's active transition plan applied
        bars.append(go.Bar(name="At risk, scenario with your plan", x=labels, y=planned, marker_color=PLAN_COLOUR))
    bars.append(go.Bar(name="Alternatives cover", x=labels, y=covered, marker_color=COVERED_COLOUR))
    figure = go.Figure(bars)
    figure.update_layout(title=title, barmode="group", yaxis_title="volume (mineral's unit)", legend_orientation="h")
    return figure
