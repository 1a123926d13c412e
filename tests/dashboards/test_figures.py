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
    figure = figures.imports_over_time(years, events=events, title="imports")
    names = [t.name for t in figure.data]
    assert "China" in names
    assert "Net import reliance" in names
    assert figure.layout.shapes[0].x0 == "2023-08-01"
    assert figure.layout.annotations[0].text == "Ga/Ge licence"


def test_imports_over_time_says_when_there_is_no_data() -> None:
    figure = figures.imports_over_time([], events=[], title="imports")
    assert "No import data" in figure.layout.annotations[0].text


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
    assert all(t.line.color == figures.CHINA_COLOUR for t in figure.data)
    assert {a.text for a in figure.layout.annotations} == {"today 2026-11-30", "as of 2026-06-01"}


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


def test_payload_is_plain_json() -> None:
    payload = figures.payload(figures.production_map([["CHN", 1.0]], names={}, title="m"))
    assert set(payload) >= {"data", "layout"}
    assert payload["data"][0]["type"] == "choropleth"
