"""Plotly figure builders: plain data in, a plotly Figure out. Pure: no ORM, no request.

One colour means one thing on every chart (Okabe-Ito palette, safe for the common forms of
colour blindness): China is vermillion, other FEOC countries orange, the United States blue,
U.S. free-trade partners bluish green, other countries sky blue, unattributed volume grey.
Titles carry the source editions and when the numbers were computed, so an exported PNG
still says where it comes from.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from typing import Any

import plotly.graph_objects as go

from dashboards.tables import number_text
from dashboards.trade_partners import GROUPS, UNATTRIBUTED_LABEL, country_group

# Okabe & Ito (2008), "Color Universal Design".
OKABE_ITO = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "bluish_green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish_purple": "#CC79A7",
}
CHINA_COLOUR = OKABE_ITO["vermillion"]
FEOC_COLOUR = OKABE_ITO["orange"]
US_COLOUR = OKABE_ITO["blue"]
FTA_COLOUR = OKABE_ITO["bluish_green"]
OTHER_COLOUR = OKABE_ITO["sky_blue"]
UNATTRIBUTED_COLOUR = "#BBBBBB"
AS_OF_COLOUR = OKABE_ITO["reddish_purple"]
# "In force again" (a suspension ran out) must not read as plain "in force": a darker tone of
# the issuer's hue would be lost on a projector, so a colour of its own (dark brown).
IN_FORCE_AGAIN_COLOUR = "#7F2704"
COMPUTED_COLOUR = "#5B6472"  # a computed cross-check next to a published figure
PENDING_COLOUR = "#BBBBBB"  # announced, not yet in force
GROUP_COLOURS = {
    "china": CHINA_COLOUR,
    "feoc": FEOC_COLOUR,
    "usa": US_COLOUR,
    "fta": FTA_COLOUR,
    "other": OTHER_COLOUR,
    "unattributed": UNATTRIBUTED_COLOUR,
}
GROUP_LABELS = {**dict(GROUPS), "unattributed": UNATTRIBUTED_LABEL}
# Sequential scale for shares on the map (light to vermillion-brown; readable in greyscale).
MAP_SCALE = [[0.0, "#FFF5EB"], [0.25, "#FDD0A2"], [0.5, "#FD8D3C"], [0.75, "#D94801"], [1.0, "#7F2704"]]
FONT = 'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif'


def colour_of(iso3: str, feoc: Sequence[str]) -> str:
    """The colour of a country's group: the same on every chart."""
    return GROUP_COLOURS[country_group(iso3, feoc)]


def title_text(title: str, *, sources: Sequence[str] = (), computed: str = "", note: str = "") -> str:
    """Title with a smaller second line naming sources and freshness (kept in PNG exports)."""
    parts = []
    if sources:
        parts.append("Source: " + "; ".join(dict.fromkeys(sources)))
    if computed:
        parts.append(computed)
    if note:
        parts.append(note)
    return f"{title}<br><sup>{' · '.join(parts)}</sup>" if parts else title


def _layout(title: str, **extra: Any) -> dict[str, Any]:
    layout: dict[str, Any] = {
        "title": {"text": title, "x": 0, "xanchor": "left", "font": {"size": 15}},
        "font": {"family": FONT, "size": 12, "color": "#1d2330"},
        "paper_bgcolor": "#ffffff",
        "plot_bgcolor": "#ffffff",
        "margin": {"l": 10, "r": 10, "t": 70, "b": 40},
        "legend": {"orientation": "h", "y": -0.12, "x": 0, "yanchor": "top", "traceorder": "normal"},
        "hoverlabel": {"font": {"family": FONT}},
    }
    layout.update(extra)
    return layout


def _legend_below(gap_px: float, *, plot_height: float) -> dict[str, Any]:
    """A horizontal legend `gap_px` under the plot area. Plotly places it at a fraction of the
    plot's height: a fixed fraction covers a short chart's axis title and leaves a tall one's
    legend far below it."""
    return {
        "orientation": "h",
        "y": -gap_px / max(100.0, plot_height),
        "x": 0,
        "yanchor": "top",
        "traceorder": "normal",
    }


def payload(figure: go.Figure) -> dict[str, Any]:
    """The JSON-ready dict a template embeds with json_script (data and layout)."""
    return json.loads(figure.to_json())


DATA_KEYS = ("x", "y", "z", "values")


def is_empty(figure: go.Figure) -> bool:
    """True when no trace has a single known value to draw (empty axes or a blank map would
    mislead: the page shows a sentence saying why instead). A Sankey counts by its links."""
    for trace in figure.data:
        if trace.type == "sankey":
            if trace.link.value is not None and any(v for v in trace.link.value):
                return False
            continue
        for key in DATA_KEYS:
            values = getattr(trace, key, None) if key in trace else None
            if values is not None and any(v is not None for v in values):
                # A category axis filled with labels but no values is still empty.
                if key in ("y", "x") and trace.type == "bar" and _other_axis_empty(trace, key):
                    continue
                return False
    return True


def _other_axis_empty(trace: Any, key: str) -> bool:
    other = "x" if key == "y" else "y"
    values = getattr(trace, other, None)
    return values is None or not any(v is not None for v in values)


# --------------------------------------------------------------------------------------------
# Overview


def dependency_bars(rows: Sequence[Mapping[str, Any]], *, title: str) -> go.Figure:
    """Per mineral: China, other FEOC, then the alternatives, as 100 % horizontal bars.

    `rows`: {"label", "china", "feoc", "usa", "fta", "other", "unattributed"} (fractions),
    in display order (top to bottom).
    """
    labels = [r["label"] for r in rows]
    figure = go.Figure()
    for key in ("china", "feoc", "usa", "fta", "other", "unattributed"):
        values = [round(100 * (r.get(key) or 0.0), 2) for r in rows]
        figure.add_trace(
            go.Bar(
                name=GROUP_LABELS[key],
                y=labels,
                x=values,
                orientation="h",
                marker={"color": GROUP_COLOURS[key], "line": {"width": 0}},
                hovertemplate="%{y}: %{x:.1f} %<extra>" + GROUP_LABELS[key] + "</extra>",
                meta={"group": key},
            )
        )
    figure.update_layout(
        _layout(
            title,
            barmode="stack",
            height=max(320, 26 * len(rows) + 150),
            xaxis={
                "range": [0, 100],
                "ticksuffix": " %",
                "gridcolor": "#e6e9ee",
                "title": {"text": "share of world production"},
            },
            yaxis={"autorange": "reversed", "automargin": True},
            bargap=0.25,
        )
    )
    return figure


# --------------------------------------------------------------------------------------------
# Mineral page


def production_by_country(
    shares: Sequence[Sequence[Any]],
    *,
    world_total: float | None,
    unit: str,
    feoc: Sequence[str],
    names: Mapping[str, str],
    title: str,
    top: int = 12,
) -> go.Figure:
    """Production of the largest producers (China highlighted), the rest summed.

    `shares`: [[iso3, share or None], ...] largest first; quantities = share x world total.
    Withheld countries are listed with no bar (unknown, not zero).
    """
    known = [(c, s) for c, s in shares if s is not None]
    head, tail = known[:top], known[top:]
    labels = [names.get(c, c) for c, _ in head]
    values = [s * 100 for _, s in head]
    colours = [colour_of(c, feoc) for c, _ in head]
    if tail:
        labels.append(f"{len(tail)} other countries")
        values.append(sum(s for _, s in tail) * 100)
        colours.append(UNATTRIBUTED_COLOUR)
    quantities = [(v / 100 * world_total) if world_total else None for v in values]
    figure = go.Figure(
        go.Bar(
            y=labels,
            x=values,
            orientation="h",
            marker={"color": colours},
            customdata=[[number_text(q, unit)] for q in quantities],
            hovertemplate="%{y}: %{x:.1f} % of world production (%{customdata[0]})<extra></extra>",
            text=[f"{v:.1f} %" for v in values],
            textposition="outside",
            cliponaxis=False,
            showlegend=False,
        )
    )
    figure.update_layout(
        _layout(
            title,
            height=max(260, 24 * len(labels) + 120),
            xaxis={
                "ticksuffix": " %",
                "range": [0, 115],
                "gridcolor": "#e6e9ee",
                "title": {"text": "share of world production"},
            },
            yaxis={"autorange": "reversed", "automargin": True},
            margin={"l": 10, "r": 30, "t": 70, "b": 40},
        )
    )
    return figure


def share_trend(series: Sequence[Mapping[str, Any]], *, title: str) -> go.Figure:
    """China's (solid) and all FEOC countries' (dashed) share of production across years.

    `series`: {"label", "years": [...], "china": [...], "feoc": [...], "editions": [...]}, one
    per stage; None values leave a gap (unknown, never zero).
    """
    figure = go.Figure()
    dashes = ["solid", "dot", "dash", "longdash"]
    for i, s in enumerate(series):
        figure.add_trace(
            go.Scatter(
                x=s["years"],
                y=[None if v is None else v * 100 for v in s["china"]],
                name=f"China, {s['label']}",
                mode="lines+markers",
                line={"color": CHINA_COLOUR, "width": 3, "dash": dashes[i % len(dashes)]},
                marker={"size": 8},
                customdata=s.get("editions"),
                hovertemplate="%{x}: %{y:.1f} %<br>%{customdata}<extra>China, " + s["label"] + "</extra>",
            )
        )
        figure.add_trace(
            go.Scatter(
                x=s["years"],
                y=[None if v is None else v * 100 for v in s["feoc"]],
                name=f"All FEOC, {s['label']}",
                mode="lines+markers",
                line={"color": FEOC_COLOUR, "width": 2, "dash": dashes[(i + 1) % len(dashes)]},
                marker={"size": 6, "symbol": "diamond"},
                hovertemplate="%{x}: %{y:.1f} %<extra>All FEOC, " + s["label"] + "</extra>",
            )
        )
    figure.update_layout(
        _layout(
            title,
            height=320,
            xaxis={"dtick": 1, "tickformat": "d", "gridcolor": "#e6e9ee"},
            yaxis={
                "range": [0, 105],
                "ticksuffix": " %",
                "gridcolor": "#e6e9ee",
                "title": {"text": "share of world production"},
            },
        )
    )
    return figure


def production_map(shares: Sequence[Sequence[Any]], *, names: Mapping[str, str], title: str) -> go.Figure:
    """World map of production shares (choropleth, ISO-3). China outlined in black.

    Maps draw from our own topojson (charts.js sets config.topojsonURL); `fitbounds` stays off
    so the world view is stable whatever the producers.
    """
    known = [(c, s) for c, s in shares if s is not None]
    figure = go.Figure(
        go.Choropleth(
            locations=[c for c, _ in known],
            z=[round(s * 100, 2) for _, s in known],
            text=[names.get(c, c) for c, _ in known],
            locationmode="ISO-3",
            colorscale=MAP_SCALE,
            zmin=0,
            zmax=100,
            marker={
                "line": {
                    "color": ["#000000" if c == "CHN" else "#ffffff" for c, _ in known],
                    "width": [1.5 if c == "CHN" else 0.5 for c, _ in known],
                }
            },
            colorbar={"title": {"text": "share of world"}, "ticksuffix": " %", "thickness": 12, "len": 0.8},
            hovertemplate="%{text}: %{z:.1f} %<extra></extra>",
        )
    )
    figure.update_layout(
        _layout(
            title,
            height=360,
            margin={"l": 0, "r": 0, "t": 70, "b": 0},
            geo={
                "projection": {"type": "natural earth"},
                "showframe": False,
                "showcoastlines": False,
                "showland": True,
                "landcolor": "#eef1f5",
                "showcountries": True,
                "countrycolor": "#ffffff",
                "fitbounds": False,
                "resolution": 110,
            },
        )
    )
    return figure


# Plot width the label layout assumes (px) and the width of one 10 px label character: enough to
# keep labels apart at 1440 px; phones scroll the chart sideways instead of squeezing it.
LABEL_PLOT_WIDTH_PX = 1000
LABEL_CHAR_PX = 6.2
LABEL_ROW_STEP = 0.085


def _event_shapes(
    events: Sequence[Mapping[str, Any]], *, span: tuple[date, date] | None = None
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Vertical lines with labels for dated events on a date x axis. Labels never overlap: each
    goes on the highest row where it clears the labels already placed, given the axis `span`
    (without one, rows simply alternate)."""
    shapes, annotations = [], []
    placed: list[list[tuple[date, date]]] = []  # per row, the date intervals its labels cover
    days_per_px = ((span[1] - span[0]).days / LABEL_PLOT_WIDTH_PX) if span else None
    for i, event in enumerate(sorted(events, key=lambda e: _as_date(e["date"]))):
        day = _as_date(event["date"])
        when = day.isoformat()
        colour = event.get("colour", OKABE_ITO["black"])
        shapes.append(
            {
                "type": "line",
                "xref": "x",
                "yref": "paper",
                "x0": when,
                "x1": when,
                "y0": 0,
                "y1": 1,
                "line": {"color": colour, "width": 1.5, "dash": event.get("dash", "dot")},
            }
        )
        if days_per_px is None:
            row = i % 4
        else:
            width = timedelta(days=(len(event["label"]) * LABEL_CHAR_PX + 8) * days_per_px)
            interval = (day, day + width)
            row = next(
                (r for r, taken in enumerate(placed) if all(interval[0] > b or interval[1] < a for a, b in taken)),
                len(placed),
            )
            if row == len(placed):
                placed.append([])
            placed[row].append(interval)
        annotations.append(
            {
                "x": when,
                "y": 1.0 - LABEL_ROW_STEP * row,
                "xref": "x",
                "yref": "paper",
                "text": event["label"],
                "showarrow": False,
                "xanchor": "left",
                "yanchor": "top",
                "font": {"size": 10, "color": colour},
                "bgcolor": "rgba(255,255,255,0.85)",
            }
        )
    return shapes, annotations


def _as_date(value: date | str) -> date:
    return value if isinstance(value, date) else date.fromisoformat(value)


def imports_over_time(
    years: Sequence[Mapping[str, Any]],
    *,
    events: Sequence[Mapping[str, Any]],
    as_of: date,
    title: str,
) -> go.Figure:
    """U.S. import sources by year (stacked by country group) and net import reliance, with
    each export-control event marked on a time axis that runs to the as-of date.

    Net import reliance comes as two series that are never joined: the one USGS publishes
    (solid) and the one computed from trade statistics (a dotted cross-check); a year one of
    them lacks is a gap in that series, never a fall to zero.

    `years`: {"year", "groups": {group: share} or {}, "nir": published fraction or None,
    "nir_bound", "nir_computed": fraction or None}. `events`: {"date", "label", "colour"?, "dash"?}.
    """
    x = [f"{y['year']}-07-01" for y in years]  # mid-year, so events fall inside their year
    figure = go.Figure()
    for key in ("china", "feoc", "usa", "fta", "other", "unattributed"):
        values = [(y["groups"].get(key) if y["groups"] else None) for y in years]
        if not any(v for v in values):
            continue
        figure.add_trace(
            go.Bar(
                x=x,
                y=[None if v is None else v * 100 for v in values],
                name=GROUP_LABELS[key] if key != "unattributed" else "Unknown partner",
                marker={"color": GROUP_COLOURS[key]},
                width=1000 * 60 * 60 * 24 * 250,  # 250 days in ms: bars read as years
                hovertemplate="%{x|%Y}: %{y:.1f} % of imports by value<extra>" + GROUP_LABELS[key] + "</extra>",
            )
        )
    series = (
        ("nir", "Net import reliance, published (USGS)", OKABE_ITO["black"], "solid"),
        ("nir_computed", "Net import reliance, computed from trade (cross-check)", COMPUTED_COLOUR, "dot"),
    )
    for key, name, colour, dash in series:
        values = [None if y.get(key) is None else y[key] * 100 for y in years]
        if not any(v is not None for v in values):
            continue
        symbols = ["triangle-up" if key == "nir" and y.get("nir_bound") == ">" else "circle" for y in years]
        figure.add_trace(
            go.Scatter(
                x=x,
                y=values,
                name=name,
                mode="lines+markers",
                connectgaps=False,
                line={"color": colour, "width": 2, "dash": dash},
                marker={"size": 8, "symbol": symbols},
                hovertemplate="%{x|%Y}: %{y:.0f} %<extra>" + name + "</extra>",
            )
        )
    starts = [date(y["year"], 1, 1) for y in years[:1]] + [e["date"] - timedelta(days=60) for e in events]
    ends = [date(y["year"], 12, 31) for y in years[-1:]] + [e["date"] + timedelta(days=120) for e in events]
    ends.append(as_of + timedelta(days=60))  # the axis reaches the as-of date (lapses after the data show)
    start = min(starts, default=as_of - timedelta(days=365))
    end = max(ends)
    shapes, annotations = _event_shapes(events, span=(start, end))
    rows = len({a["y"] for a in annotations})
    figure.update_layout(
        _layout(
            title,
            barmode="stack",
            height=380 + 20 * max(0, rows - 3),
            shapes=shapes,
            annotations=annotations,
            xaxis={"type": "date", "range": [start.isoformat(), end.isoformat()], "gridcolor": "#e6e9ee"},
            # The band above 100 % holds the event labels, clear of the data.
            yaxis={
                "range": [0, 104 + 100 * LABEL_ROW_STEP * rows],
                "tickvals": [0, 20, 40, 60, 80, 100],
                "ticksuffix": " %",
                "gridcolor": "#e6e9ee",
                "title": {"text": "share of imports (by value) and reliance"},
            },
        )
    )
    return figure


STATUS_STYLES = {
    "in_force": {"width": 12, "dash": "solid", "label": "in force"},
    "needs_review": {"width": 12, "dash": "solid", "label": "in force again (suspension over; review)"},
    "suspended": {"width": 4, "dash": "dot", "label": "suspended"},
}


def _status_segments(m: Mapping[str, Any], start: date, end: date) -> list[tuple[date, date, str]]:
    """[start, end) split into in force / suspended / in force again; bars end where the next begins."""
    segments: list[tuple[date, date, str]] = []
    s_from, s_until = m.get("suspended_from"), m.get("suspended_until")
    if s_from and s_from < end:
        if s_from > start:
            segments.append((start, s_from, "in_force"))
        # "until D" includes D: the bar runs to the end of D, in force again from D + 1.
        resumes = s_until + timedelta(days=1) if s_until else None
        stop = min(resumes or end, end)
        segments.append((max(s_from, start), stop, "suspended"))
        if resumes and resumes < end:
            segments.append((resumes, end, "needs_review" if m.get("status") == "needs_review" else "in_force"))
    else:
        segments.append((start, end, "in_force"))
    return segments


def _segment_end_text(kind: str, seg_end: date, horizon: date) -> str:
    if seg_end == horizon:
        return "open"
    if kind == "suspended":  # the bar ends at D + 1; the suspension's last day is D
        return f"{seg_end - timedelta(days=1)} (last day suspended)"
    return str(seg_end)


def policy_timeline(
    measures: Sequence[Mapping[str, Any]],
    *,
    as_of: date,
    today: date,
    title: str,
) -> go.Figure:
    """One row per measure: in force (thick), suspended (dotted), ended (nothing after the end);
    colour by issuer group (China vermillion, other FEOC orange, United States blue for its
    support measures). Lines mark today and the chosen date.

    `measures`: {"key", "label", "issuer", "effective_on", "suspended_from", "suspended_until",
    "ended_on"}; dates or None.
    """
    horizon = max(today, as_of) + timedelta(days=180)
    figure = go.Figure()
    legend_seen: set[str] = set()
    labels = []
    # From 2022, or earlier when a measure starts earlier (Indonesia's 2020 nickel-ore ban).
    starts = [m.get("effective_on") or m.get("announced_on") for m in measures]
    axis_start = min([date(2022, 1, 1)] + [d for d in starts if d is not None])
    for m in measures:
        start = m.get("effective_on") or m.get("announced_on")
        if start is None:
            continue
        label = m["label"]
        labels.append(label)
        end = m.get("ended_on") or horizon
        colour = GROUP_COLOURS[country_group(m["issuer"], ("CHN", "RUS", "PRK", "IRN"))]
        for seg_start, seg_end, kind in _status_segments(m, start, end):
            style = STATUS_STYLES[kind]
            group_name = f"{m['issuer']}: {style['label']}" if kind != "needs_review" else str(style["label"])
            figure.add_trace(
                go.Scatter(
                    x=[seg_start.isoformat(), seg_end.isoformat()],
                    y=[label, label],
                    mode="lines",
                    line={
                        "color": IN_FORCE_AGAIN_COLOUR if kind == "needs_review" else colour,
                        "width": style["width"],
                        "dash": style["dash"],
                    },
                    name=group_name,
                    legendgroup=group_name,
                    showlegend=group_name not in legend_seen,
                    hovertemplate=f"{label}<br>{style['label']}: {seg_start} to "
                    + _segment_end_text(kind, seg_end, horizon)
                    + "<extra></extra>",
                )
            )
            legend_seen.add(group_name)
    lines = [{"date": today, "label": f"today {today}", "colour": OKABE_ITO["black"], "dash": "solid"}]
    if as_of != today:
        lines.append({"date": as_of, "label": f"as of {as_of}", "colour": AS_OF_COLOUR, "dash": "dash"})
    shapes, annotations = _event_shapes(lines)
    # Above the plot, side by side: the earlier date's label to the left of its line, the later
    # one's to the right, so "today" and "as of" a few days apart never overlap. A lone line's
    # label goes to its left: the axis ends six months after it, too close on a phone.
    for a in annotations:
        a["y"] = 1.0
        a["yanchor"] = "bottom"
        a["xanchor"] = "left" if len(lines) > 1 and a["x"] == max(today, as_of).isoformat() else "right"
    # Each measure's name sits above its bar, from the left edge, instead of beside the axis:
    # the bars keep the whole width (a phone's 350 px is the plot, not the names).
    names = [
        {
            "x": 0,
            "xref": "paper",
            "y": label,
            "yref": "y",
            "yshift": 8,
            "xanchor": "left",
            "yanchor": "bottom",
            "text": label,
            "showarrow": False,
            "font": {"size": 11},
        }
        for label in dict.fromkeys(labels)
    ]
    height = max(260, 42 * len(labels) + 150)
    figure.update_layout(
        _layout(
            title,
            height=height,
            shapes=shapes,
            annotations=annotations + names,
            # Just under the date ticks (about 30 px), however many measures make the plot tall.
            legend=_legend_below(30, plot_height=height - 130),
            xaxis={"type": "date", "gridcolor": "#e6e9ee", "range": [axis_start.isoformat(), horizon.isoformat()]},
            # Top to bottom in the given order, with room above the first bar for its name.
            yaxis={
                "type": "category",
                "range": [len(names) - 0.5, -0.9],
                "showticklabels": False,
                "showgrid": False,
                "zeroline": False,
            },
            margin={"l": 10, "r": 20, "t": 90, "b": 40},
        )
    )
    return figure


MEASURE_DATE_LABELS = (
    ("announced_on", "announced"),
    ("effective_on", "effective"),
    ("suspended_from", "suspended from"),
    ("suspended_until", "suspended until (last day)"),
    ("ended_on", "ended"),
)


def measure_timeline(measure: Mapping[str, Any], *, as_of: date, today: date, title: str) -> go.Figure | None:
    """One measure's dates on one small row: announced (thin), in force, suspended (dotted), in
    force again from the day after "suspended until", ended; a labelled marker per date and lines
    for today and the chosen date. None when the measure has no date at all.

    `measure`: {"issuer", "announced_on", "effective_on", "suspended_from", "suspended_until",
    "ended_on", "status"}; dates or None.
    """
    dated = [(measure[field], label) for field, label in MEASURE_DATE_LABELS if measure.get(field)]
    if not dated:
        return None
    last = max([d for d, _ in dated] + [today, as_of])
    horizon = last + timedelta(days=120)
    colour = GROUP_COLOURS[country_group(measure["issuer"], ("CHN", "RUS", "PRK", "IRN"))]
    row = "measure"
    figure = go.Figure()
    announced, effective = measure.get("announced_on"), measure.get("effective_on")
    end = measure.get("ended_on") or horizon
    if announced and (effective is None or announced < effective):
        pending_end = min(effective or end, end)
        figure.add_trace(
            go.Scatter(
                x=[announced.isoformat(), pending_end.isoformat()],
                y=[row, row],
                mode="lines",
                line={"color": PENDING_COLOUR, "width": 3},
                name="announced, not yet in force",
                hovertemplate=f"announced, not yet in force: {announced} to "
                + ("open" if pending_end == horizon else str(pending_end))
                + "<extra></extra>",
            )
        )
    if effective and effective < end:
        for seg_start, seg_end, kind in _status_segments(measure, effective, end):
            style = STATUS_STYLES[kind]
            figure.add_trace(
                go.Scatter(
                    x=[seg_start.isoformat(), seg_end.isoformat()],
                    y=[row, row],
                    mode="lines",
                    line={
                        "color": IN_FORCE_AGAIN_COLOUR if kind == "needs_review" else colour,
                        "width": style["width"],
                        "dash": style["dash"],
                    },
                    name=style["label"],
                    hovertemplate=f"{style['label']}: {seg_start} to "
                    + _segment_end_text(kind, seg_end, horizon)
                    + "<extra></extra>",
                )
            )
    dated.sort(key=lambda item: item[0])
    figure.add_trace(
        go.Scatter(
            x=[d.isoformat() for d, _ in dated],
            y=[row] * len(dated),
            mode="markers+text",
            marker={"color": OKABE_ITO["black"], "size": 8, "symbol": "line-ns-open", "line": {"width": 2}},
            text=[f"{label}<br>{d}" for d, label in dated],
            # Alternate above and below so neighbouring dates do not overlap.
            textposition=["top center" if i % 2 == 0 else "bottom center" for i in range(len(dated))],
            name="dates",
            showlegend=False,
            hovertemplate="%{text}<extra></extra>",
        )
    )
    lines = [{"date": today, "label": f"today {today}", "colour": OKABE_ITO["black"], "dash": "solid"}]
    if as_of != today:
        lines.append({"date": as_of, "label": f"as of {as_of}", "colour": AS_OF_COLOUR, "dash": "dash"})
    shapes, annotations = _event_shapes(lines)
    first = min(d for d, _ in dated)
    figure.update_layout(
        _layout(
            title,
            height=240,
            shapes=shapes,
            annotations=annotations,
            xaxis={
                "type": "date",
                "gridcolor": "#e6e9ee",
                "range": [(first - timedelta(days=120)).isoformat(), horizon.isoformat()],
            },
            yaxis={"visible": False, "type": "category"},
            margin={"l": 10, "r": 20, "t": 70, "b": 40},
        )
    )
    return figure


# --------------------------------------------------------------------------------------------
# Portfolio

EXPOSURE_PARTS = (
    ("direct", "Direct from China", CHINA_COLOUR),
    ("controlled", "China-controlled elsewhere", FEOC_COLOUR),
    ("upstream", "China upstream in the chain", OKABE_ITO["yellow"]),
    ("unaffected", "No China link found", OTHER_COLOUR),
)


# The share restricted by measures in force: a black diamond on every chart that shows it.
RESTRICTED_MARKER = {
    "symbol": "diamond",
    "size": 12,
    "color": OKABE_ITO["black"],
    "line": {"color": "#fff", "width": 1},
}


def _percents(rows: Sequence[Mapping[str, Any]], key: str) -> list[float | None]:
    """A fraction of each row in percent (two decimals); unknown stays None (a gap, never 0)."""
    return [None if r.get(key) is None else round(100 * r[key], 2) for r in rows]


def exposure_bars(rows: Sequence[Mapping[str, Any]], *, title: str) -> go.Figure:
    """Per mineral, the buyer's volume split into disjoint China links (stacked, 100 %), with
    the share restricted by measures in force as a black marker (it overlaps the others).

    `rows`: {"label", "direct", "controlled", "upstream", "unaffected", "restricted"} fractions.
    """
    labels = [r["label"] for r in rows]
    figure = go.Figure()
    for key, name, colour in EXPOSURE_PARTS:
        figure.add_trace(
            go.Bar(
                y=labels,
                x=[round(100 * (r.get(key) or 0.0), 2) for r in rows],
                name=name,
                orientation="h",
                marker={"color": colour},
                hovertemplate="%{y}: %{x:.1f} %<extra>" + name + "</extra>",
            )
        )
    figure.add_trace(
        go.Scatter(
            y=labels,
            x=_percents(rows, "restricted"),
            name="Restricted by measures in force",
            mode="markers",
            marker=RESTRICTED_MARKER,
            hovertemplate="%{y}: %{x:.1f} % restricted<extra></extra>",
        )
    )
    height = max(300, 30 * len(rows) + 150)
    figure.update_layout(
        _layout(
            title,
            barmode="stack",
            height=height,
            xaxis={
                "range": [0, 100],
                "ticksuffix": " %",
                "gridcolor": "#e6e9ee",
                "title": {"text": "share of your annual volume"},
            },
            yaxis={"autorange": "reversed", "automargin": True},
            # Below the axis title (about 60 px under the plot), however tall the plot.
            legend=_legend_below(60, plot_height=height - 110),
        )
    )
    return figure


def supply_chain_sankey(
    nodes: Sequence[Mapping[str, Any]], links: Sequence[Mapping[str, Any]], *, unit: str, title: str
) -> go.Figure:
    """Origin country -> processing -> the buyer. `nodes`: {"label", "group"}; `links`:
    {"source", "target", "value"} with node indexes; node colours by country group. Volumes
    read as everywhere else (tables.number_text, with the unit)."""
    entering, leaving = [0.0] * len(nodes), [0.0] * len(nodes)
    for lk in links:
        leaving[lk["source"]] += lk["value"]
        entering[lk["target"]] += lk["value"]
    through = [max(a, b) for a, b in zip(entering, leaving, strict=True)]
    figure = go.Figure(
        go.Sankey(
            arrangement="snap",
            node={
                "label": [n["label"] for n in nodes],
                "color": [GROUP_COLOURS.get(n["group"], "#4d5563") for n in nodes],
                "pad": 14,
                "thickness": 16,
                "line": {"color": "#ffffff", "width": 0.5},
                "customdata": [number_text(v, unit) for v in through],
                "hovertemplate": "%{label}: %{customdata} a year<extra></extra>",
            },
            link={
                "source": [lk["source"] for lk in links],
                "target": [lk["target"] for lk in links],
                "value": [lk["value"] for lk in links],
                "color": [_translucent(GROUP_COLOURS.get(nodes[lk["source"]]["group"], "#4d5563")) for lk in links],
                "customdata": [number_text(lk["value"], unit) for lk in links],
                "hovertemplate": "%{source.label} → %{target.label}: %{customdata} a year<extra></extra>",
            },
        )
    )
    figure.update_layout(
        _layout(title, height=max(320, 26 * len(nodes) + 120), margin={"l": 10, "r": 10, "t": 70, "b": 20})
    )
    return figure


def _translucent(hex_colour: str, alpha: float = 0.35) -> str:
    value = hex_colour.lstrip("#")
    r, g, b = (int(value[i : i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


# --------------------------------------------------------------------------------------------
# Transition plan

# The requirement's origin classes (risk.ORIGIN_CLASSES), the exposure chart's colours, plus the
# part no sourcing covers (grey, hatched: always in the legend, even at 0).
PLAN_PARTS = (
    ("china_direct", "Direct from China", CHINA_COLOUR),
    ("china_controlled", "China-controlled elsewhere", FEOC_COLOUR),
    ("china_upstream", "China upstream in the chain", OKABE_ITO["yellow"]),
    ("unaffected", "No China link found", OTHER_COLOUR),
    ("uncovered", "Uncovered (no supplier yet)", UNATTRIBUTED_COLOUR),
)
PLAN_SCENARIOS = (("today", "today's sourcing"), ("plan", "plan"))


def plan_origin_bars(series: Mapping[str, Sequence[Mapping[str, Any]] | None], *, unit: str, title: str) -> go.Figure:
    """One mineral's requirement by origin per year (2026-2030), today's sourcing beside the
    plan's (a two-level year / scenario axis), stacked by origin class in `unit`, with the share
    of the sourced volume restricted by measures in force as black markers on a right axis.

    `series`: {"today": [year rows], "plan": [year rows] or None}; a year row is
    risk.OriginYear as a dict (None figures stay gaps, never 0)."""
    scenarios = [(key, label) for key, label in PLAN_SCENARIOS if series.get(key) is not None]
    years: list[str] = []
    names: list[str] = []
    rows: list[Mapping[str, Any]] = []
    for index in range(len(series["today"] or [])):
        for key, label in scenarios:
            row = (series[key] or [])[index]
            years.append(str(row["year"]))
            names.append(label)
            rows.append(row)
    x = [years, names]
    figure = go.Figure()
    for key, name, colour in PLAN_PARTS:
        marker: dict[str, Any] = {"color": colour}
        if key == "uncovered":
            marker["pattern"] = {"shape": "/", "fgcolor": "#6b7280"}
        figure.add_trace(
            go.Bar(
                x=x,
                y=[r.get(key) for r in rows],
                name=name,
                marker=marker,
                hovertemplate="%{x}: %{y:,.4~g} " + unit + "<extra>" + name + "</extra>",
            )
        )
    figure.add_trace(
        go.Scatter(
            x=x,
            y=_percents(rows, "restricted_share"),
            name="Restricted share of the sourced volume",
            mode="markers",
            yaxis="y2",
            marker=RESTRICTED_MARKER,
            hovertemplate="%{x}: %{y:.1f} % restricted<extra></extra>",
        )
    )
    figure.update_layout(
        _layout(
            title,
            barmode="stack",
            height=380,
            xaxis={"type": "multicategory"},
            yaxis={"title": {"text": f"{unit} per year"}, "gridcolor": "#e6e9ee", "rangemode": "tozero"},
            yaxis2={"overlaying": "y", "side": "right", "range": [0, 100], "ticksuffix": " %", "showgrid": False},
            legend={"orientation": "h", "y": -0.25, "x": 0, "yanchor": "top", "traceorder": "normal"},
            margin={"l": 10, "r": 50, "t": 70, "b": 90},
        )
    )
    return figure
