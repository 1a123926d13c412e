"""Figure builders are pure: plain data in, traces out; one colour per country group."""

from __future__ import annotations

from datetime import date

from dashboards import figures
from dashboards.trade_partners import US_FTA_PARTNERS, group_shares

FEOC = ("CHN", "RUS", "PRK", "IRN")


def test_palette_is_okabe_ito_and_consistent() -> None:
    assert figures.CHINA_COLOUR == "#D55E00"
    assert figures.FEOC_COLOUR == "#E69F00"
    assert figures.colour_of("CHN", FEOC) == figures.CHINA_COLOUR
    assert figures.colour_of("RUS", FEOC) == figures.FEOC_COLOUR
    assert figures.colour_of("USA", FEOC) == figures.US_COLOUR
    assert figures.colour_of("AUS", FEOC) == figures.FTA_COLOUR
    assert figures.colour_of("JPN", FEOC) == figures.OTHER_COLOUR


def test_fta_list_is_the_ustr_twenty() -> None:
    assert len(US_FTA_PARTNERS) == 20
    assert {"CAN", "MEX", "AUS", "KOR", "CHL", "SGP"} <= US_FTA_PARTNERS
    assert "JPN" not in US_FTA_PARTNERS
    assert "CHN" not in US_FTA_PARTNERS


def test_group_shares_keep_unknown_apart() -> None:
    groups = group_shares([["CHN", 0.6], ["RUS", 0.1], ["AUS", 0.1], ["USA", 0.05], ["JPN", 0.05], ["KAZ", None]], FEOC)
    assert groups["china"] == 0.6
    assert groups["feoc"] == 0.1
    assert groups["fta"] == 0.1
    assert groups["usa"] == 0.05
    assert groups["other"] == 0.05
    assert abs(groups["unattributed"] - 0.1) < 1e-9  # withheld KAZ: not guessed into a group


def test_dependency_bars_one_trace_per_group_with_group_colours() -> None:
    rows = [
        {"label": "Gallium", "china": 0.987, "feoc": 0.008, "usa": 0, "fta": 0.004, "other": 0.001, "unattributed": 0}
    ]
    figure = figures.dependency_bars(
        rows, title=figures.title_text("Dependency", sources=["MCS 2025"], computed="computed X")
    )
    by_name = {t.name: t for t in figure.data}
    china = by_name["China"]
    assert china.marker.color == figures.CHINA_COLOUR
    assert list(china.x) == [98.7]
    assert by_name["Other FEOC (Russia, Iran, North Korea)"].marker.color == figures.FEOC_COLOUR
    assert figure.layout.barmode == "stack"
    assert "Source: MCS 2025" in figure.layout.title.text
    assert "computed X" in figure.layout.title.text


def test_production_by_country_highlights_china_and_sums_the_tail() -> None:
    shares = [["CHN", 0.7], ["USA", 0.1], ["AUS", 0.05], ["RUS", 0.05], ["BRA", 0.05], ["IND", 0.05], ["MMR", None]]
    figure = figures.production_by_country(
        shares, world_total=1000, unit="t", feoc=FEOC, names={"CHN": "China"}, title="t", top=4
    )
    bar = figure.data[0]
    assert bar.y[0] == "China"
    assert bar.marker.color[0] == figures.CHINA_COLOUR
    assert bar.marker.color[3] == figures.FEOC_COLOUR  # RUS
    assert bar.y[-1] == "2 other countries"
    assert abs(bar.x[-1] - 10.0) < 1e-9
    assert "MMR" not in bar.y  # withheld: no bar, never a zero


def test_map_uses_iso3_and_no_fitbounds() -> None:
    figure = figures.production_map([["CHN", 0.9], ["AUS", 0.1]], names={}, title="map")
    trace = figure.data[0]
    assert trace.locationmode == "ISO-3"
    assert list(trace.locations) == ["CHN", "AUS"]
    assert figure.layout.geo.fitbounds is False
    assert trace.marker.line.width[0] > trace.marker.line.width[1]  # China outlined


def test_imports_over_time_marks_events_on_the_time_axis() -> None:
    years = [
        {"year": 2023, "groups": {"china": 0.5, "fta": 0.5}, "nir": 1.0, "nir_bound": ""},
        {"year": 2024, "groups": {}, "nir": None, "nir_bound": ""},
    ]
    events = [{"date": date(2023, 8, 1), "label": "Ga/Ge licence", "colour": figures.CHINA_COLOUR}]
    figure = figures.imports_over_time(years, events=events, as_of=date(2024, 6, 1), title="imports")
    names = [t.name for t in figure.data]
    assert "China" in names
    assert "Net import reliance, published (USGS)" in names
    assert figure.layout.shapes[0].x0 == "2023-08-01"
    assert figure.layout.annotations[0].text == "Ga/Ge licence"


def test_imports_time_axis_runs_to_the_as_of_date() -> None:
    """Data ends in 2024; the November 2026 lapses must still be on the axis (issue 17)."""
    years = [{"year": 2024, "groups": {"china": 1.0}, "nir": 1.0, "nir_bound": ""}]
    figure = figures.imports_over_time(years, events=[], as_of=date(2026, 11, 30), title="imports")
    start, end = figure.layout.xaxis.range
    assert start == "2024-01-01"
    assert end == "2027-01-29"  # as of + 60 days, past 2024-12-31


def test_published_and_computed_import_reliance_are_separate_labelled_series() -> None:
    """Rare earths: USGS publishes 80 % for 2024, the trade cross-check is known for another year
    only; two series with gaps, never one line falling to zero."""
    years = [
        {"year": 2022, "groups": {}, "nir": None, "nir_bound": "", "nir_computed": 0.05},
        {"year": 2023, "groups": {}, "nir": 0.8, "nir_bound": "", "nir_computed": None},
        {"year": 2024, "groups": {}, "nir": 0.8, "nir_bound": "", "nir_computed": None},
    ]
    figure = figures.imports_over_time(years, events=[], as_of=date(2026, 11, 30), title="imports")
    by_name = {t.name: t for t in figure.data}
    published = by_name["Net import reliance, published (USGS)"]
    computed = by_name["Net import reliance, computed from trade (cross-check)"]
    assert list(published.y) == [None, 80.0, 80.0]
    assert list(computed.y) == [5.0, None, None]
    assert published.connectgaps is False
    assert computed.connectgaps is False
    assert published.line.color != computed.line.color
    assert computed.line.dash == "dot"


def test_event_labels_never_overlap() -> None:
    """Three measures within weeks of each other get three label rows; a later one reuses the top."""
    events = [
        {"date": date(2024, 12, 3), "label": "US ban (Ann. 46)"},
        {"date": date(2024, 12, 20), "label": "suspended"},
        {"date": date(2025, 1, 5), "label": "Export licensing"},
        {"date": date(2026, 6, 1), "label": "later"},
    ]
    _, annotations = figures._event_shapes(events, span=(date(2020, 1, 1), date(2027, 1, 1)))
    rows = [round((1.0 - a["y"]) / figures.LABEL_ROW_STEP) for a in annotations]
    assert rows == [0, 1, 2, 0]


def test_a_chart_without_data_is_empty() -> None:
    """Germanium: USGS lists the producers without quantities: no bars, no map, only a message."""
    withheld = [["CHN", None], ["USA", None]]
    bars = figures.production_by_country(withheld, world_total=None, unit="kg", feoc=FEOC, names={}, title="t")
    assert figures.is_empty(bars)
    assert figures.is_empty(figures.production_map(withheld, names={}, title="map"))
    assert figures.is_empty(figures.imports_over_time([], events=[], as_of=date(2026, 11, 30), title="imports"))
    assert not figures.is_empty(figures.production_map([["CHN", 0.9]], names={}, title="map"))


def test_policy_timeline_splits_suspension_and_marks_review() -> None:
    measure = {
        "key": "ban",
        "label": "US ban",
        "issuer": "CHN",
        "effective_on": date(2024, 12, 3),
        "suspended_from": date(2025, 11, 9),
        "suspended_until": date(2026, 11, 27),
        "ended_on": None,
        "status": "needs_review",
    }
    figure = figures.policy_timeline([measure], as_of=date(2026, 6, 1), today=date(2026, 11, 30), title="t")
    segments = [(t.x[0], t.x[1], t.line.dash) for t in figure.data]
    assert segments[0] == ("2024-12-03", "2025-11-09", "solid")
    # "until 2026-11-27" includes the 27th: the dotted bar runs to the end of it, in force from the 28th.
    assert segments[1] == ("2025-11-09", "2026-11-28", "dot")
    assert "2026-11-27 (last day suspended)" in figure.data[1].hovertemplate
    assert segments[2][0] == "2026-11-28"
    assert "review" in figure.data[2].name
    # "In force" and "in force again" never share a colour (issue 17).
    assert figure.data[0].line.color == figures.CHINA_COLOUR
    assert figure.data[1].line.color == figures.CHINA_COLOUR
    assert figure.data[2].line.color == figures.IN_FORCE_AGAIN_COLOUR != figures.CHINA_COLOUR
    assert {a.text for a in figure.layout.annotations if a.yref == "paper"} == {"today 2026-11-30", "as of 2026-06-01"}
    # Each measure's name above its bar, not beside the axis (the bars keep a phone's width).
    assert [a.text for a in figure.layout.annotations if a.yref == "y"] == ["US ban"]
    assert figure.layout.yaxis.showticklabels is False


def test_exposure_bars_and_sankey() -> None:
    figure = figures.exposure_bars(
        [{"label": "Gallium", "direct": 0.8, "controlled": 0, "upstream": 0, "unaffected": 0.2, "restricted": 0.8}],
        title="exposure",
    )
    assert figure.data[0].marker.color == figures.CHINA_COLOUR
    assert list(figure.data[-1].x) == [80.0]
    sankey = figures.supply_chain_sankey(
        [{"label": "China", "group": "china"}, {"label": "Buyer", "group": "buyer"}],
        [{"source": 0, "target": 1, "value": 5.0}],
        unit="t",
        title="chain",
    ).data[0]
    assert sankey.node.color[0] == figures.CHINA_COLOUR
    assert list(sankey.link.value) == [5.0]
    # Volumes read as in the tables: "7,000", never "7,000.0".
    big = figures.supply_chain_sankey(
        [{"label": "Japan", "group": "other"}, {"label": "Buyer", "group": "buyer"}],
        [{"source": 0, "target": 1, "value": 7000.0}],
        unit="kg",
        title="chain",
    ).data[0]
    assert list(big.link.customdata) == ["7,000 kg"]
    assert list(big.node.customdata) == ["7,000 kg", "7,000 kg"]


def test_production_hover_formats_quantities_with_their_unit() -> None:
    figure = figures.production_by_country(
        [["CHN", 0.31], ["AUS", 0.69]], world_total=100_000, unit="t", feoc=FEOC, names={}, title="t"
    )
    assert [c[0] for c in figure.data[0].customdata] == ["31,000 t", "69,000 t"]
    assert figure.layout.xaxis.title.text == "share of world production"


def test_payload_is_plain_json() -> None:
    payload = figures.payload(figures.production_map([["CHN", 1.0]], names={}, title="m"))
    assert set(payload) >= {"data", "layout"}
    assert payload["data"][0]["type"] == "choropleth"
