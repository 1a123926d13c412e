"""Issue 17: the first screen (China's share at the stage it dominates, what is restricted, the
best alternative and its year; tonnes at risk on the portfolio), the data's vintage, one number
formatter, the comparison and the briefings."""

from __future__ import annotations

from datetime import date

import pytest

from dashboards import page_content, page_selectors
from dashboards.tables import Column, format_value, number_text

TODAY = date(2026, 12, 4)


@pytest.mark.parametrize(
    ("value", "unit", "text"),
    [
        (31000.0, "", "31,000"),  # a float sum: never "31,000.0"
        (30999.9999, "t", "31,000 t"),
        (20000, "t", "20,000 t"),
        (12.5, "kg", "12.5 kg"),
        (7.0, "", "7"),
        (0.036, "t", "0.036 t"),
        (0.000012, "", "0.000012"),
        (0.0, "t", "0 t"),
        (None, "t", "\u2013"),
    ],
)
def test_one_number_formatter(value: float | None, unit: str, text: str) -> None:
    assert number_text(value, unit) == text


def test_tables_use_the_same_formatter() -> None:
    column = Column("quantity", "Quantity", "number")
    assert [format_value(v, column) for v in (31000.0, 7000.0, 20000, 2.25)] == ["31,000", "7,000", "20,000", "2.2"]


MCS_2025 = [{"key": "usgs-mcs-2025", "edition": "MCS 2025 (January 2025)"}]


def test_vintage_says_edition_year_and_estimate_and_warns_after_a_year() -> None:
    published = {"usgs-mcs-2025": "2025-01-31"}
    old = page_content.vintage(MCS_2025, published=published, year=2024, estimates=True, today=TODAY)
    assert old["text"] == "MCS 2025 (January 2025) · 2024 data · estimates"
    assert old["short"] == "MCS 2025 (January 2025) · 2024 e"
    assert old["old"] is True
    assert "January 2025, more than a year ago" in old["warning"]
    fresh = page_content.vintage(MCS_2025, published=published, year=2024, estimates=False, today=date(2025, 12, 1))
    assert (fresh["old"], fresh["warning"], fresh["text"]) == (False, "", "MCS 2025 (January 2025) · 2024 data · final")
    undated = page_content.vintage(MCS_2025, published={}, year=2024, estimates=False, today=TODAY)
    assert undated["old"] is False
    assert undated["published"] is None


def _alternative(**extra: object) -> dict[str, object]:
    return {
        "rank": 1,
        "kind": "country",
        "country": "JPN",
        "stage": "refinery",
        "name": "JPN refinery output 2024",
        "available_capacity": 3000.0,
        "unit": "kg",
        "available_from": 2026,
        "announced": False,
        "score": 0.71,
        **extra,
    }


def test_glance_answers_the_three_questions() -> None:
    head = {"stage": "refinery", "year": 2024, "china_share": 0.987, "estimate": True}
    measures = [{"title": "US ban"}, {"title": "Export licensing"}]
    replacement = {"stage": "refinery", "volume": 750_000.0, "unit": "kg", "alternatives": [_alternative()]}
    glance = page_content.glance(
        slug="gallium",
        name="Gallium",
        head=head,
        restrictions=measures,
        restricted_share=0.987,
        replacement=replacement,
        names={"JPN": "Japan"},
        as_of=date(2026, 11, 30),
        alternatives_href="#alternatives",
    )
    assert glance["china"] == "98.7 % e"
    assert glance["stage"] == "refining 2024"
    assert glance["restricted"]["text"] == "98.7 % of supply · 2 measures in force"
    assert glance["restricted"]["title"] == "US ban; Export licensing"
    assert glance["alternative"]["text"] == "Japan, refining 2024: 3,000 kg"
    assert glance["alternative"]["year"] == "can supply from 2026"
    assert glance["plan_href"] == "/portfolio/plan/"
    # A project announced for 2028; no restriction; China's figure not published.
    project = _alternative(
        kind="us_project", name="Gallium project", country="USA", available_from=2028, announced=True
    )
    other = page_content.glance(
        slug="germanium",
        name="Germanium",
        head={"stage": "refinery", "year": 2024, "china_share": None, "unpublished": True},
        restrictions=[],
        restricted_share=None,
        replacement={**replacement, "alternatives": [project]},
        names={"USA": "United States"},
        as_of=date(2026, 11, 30),
        alternatives_href="#alternatives",
    )
    assert other["china"] == "not published"
    assert other["restricted"]["text"] == "nothing restricted on 2026-11-30"
    assert other["alternative"] == {
        "text": "Gallium project (United States)",
        "year": "can supply from 2028 (announced)",
        "title": other["alternative"]["title"],
    }


@pytest.fixture(autouse=True)
def page_cache(private_page_cache):  # type: ignore[no-untyped-def]
    return private_page_cache


@pytest.mark.django_db
def test_best_alternative_replaces_chinas_output_at_the_headline_stage(metrics) -> None:  # type: ignore[no-untyped-def]
    data = page_selectors.minerals_overview(as_of=date(2026, 11, 30))
    gallium = next(m for m in data["minerals"] if m["slug"] == "gallium")
    replacement = gallium["replacement"]
    # MCS 2025: China refined 750,000 kg of 760,000 kg in 2024 (98.7 %): the volume to replace.
    assert replacement["stage"] == "refinery"
    assert replacement["unit"] == "kg"
    assert replacement["volume"] == pytest.approx(750_000.0)
    best = replacement["alternatives"][0]
    assert best["country"] not in {"CHN", "RUS", "PRK", "IRN"}
    assert best["available_from"] == 2026  # operating now
    germanium = next(m for m in data["minerals"] if m["slug"] == "germanium")
    assert germanium["replacement"] is None  # no China figure published: nothing to replace, nothing guessed


@pytest.mark.django_db
def test_overview_first_screen_and_vintage(client, metrics) -> None:  # type: ignore[no-untyped-def]
    html = client.get("/?as_of=2026-11-30").content.decode()
    first = html.index("data-first-screen")
    assert first < html.index('data-table="minerals"')
    assert html.count('data-glance-fact="alternative"') == 17
    assert "data-vintage-old" in html  # MCS 2025, published 2025-01-31: over a year before today
    assert "current ·" not in html  # no green "current" for a compute time


@pytest.mark.django_db
def test_germanium_production_chart_is_a_sentence(client, metrics) -> None:  # type: ignore[no-untyped-def]
    html = client.get("/minerals/germanium/").content.decode()
    assert 'id="fig-production-refinery-plot" data-chart-empty' in html
    assert "USGS publishes no country figures for germanium refining in 2024" in html
    assert 'id="fig-production-refinery" type="application/json"' not in html


@pytest.mark.django_db
def test_compare_two_minerals(client, metrics) -> None:  # type: ignore[no-untyped-def]
    html = client.get("/compare/?a=gallium&b=germanium").content.decode()
    assert 'data-side="a"' in html
    assert 'data-side="b"' in html
    assert 'data-table="compare"' in html
    assert 'id="a-fig-production-refinery"' in html  # each side's chart has its own id
    assert client.get("/compare/?a=gallium&b=unobtainium").status_code == 404
    picker = client.get("/compare/").content.decode()
    assert "Pick two minerals" in picker


@pytest.mark.django_db
def test_mineral_briefing_has_sources_and_no_download_controls(client, metrics) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/minerals/gallium/briefing/")
    html = response.content.decode()
    assert response.status_code == 200
    assert '<body class="briefing">' in html
    assert "Mineral Commodity Summaries 2025" in html
    assert "data-first-screen" in html
    assert client.get("/minerals/unobtainium/briefing/").status_code == 404


@pytest.mark.django_db
def test_portfolio_first_screen_says_tonnes_at_risk_and_uncovered(buyer_client) -> None:  # type: ignore[no-untyped-def]
    html = buyer_client.get("/portfolio/").content.decode()
    # demo/sourcing.csv, China-exposed a year: direct from China gallium 1,600 kg + germanium 400 kg
    # + graphite 30 t + antimony 6 t + tungsten 4 t + lithium 8 t, China-controlled cobalt (Tenke
    # Fungurume, 80 % CMOC) 10 t, rare earths through the Japanese magnet works fed by a Chinese
    # refinery 16 t: 2 + 30 + 6 + 4 + 8 + 10 + 16 = 76 t. Every requirement is fully sourced: 0 t.
    assert '<span class="kpi-value" data-first="at-risk">76 t</span>' in html
    assert '<span class="kpi-value" data-first="uncovered">0 t</span>' in html
    assert html.index("data-first-screen") < html.index('data-table="exposure"')
    assert "current ·" not in html


def _exposure(*sources: str) -> dict[str, object]:
    return {"sources": [{"key": key, "edition": f"MCS {key[-4:]} (January {key[-4:]})"} for key in sources]}


def test_exposure_vintage_takes_year_and_estimates_from_the_table_it_falls_back_on() -> None:
    published = {"usgs-mcs-2025": "2025-01-31", "usgs-mcs-2026": "2026-01-30"}
    mix = {"stage": "refinery", "year": 2024, "sources": _exposure("usgs-mcs-2025")["sources"], "estimates": True}
    row = _exposure("usgs-mcs-2025")
    age = page_content.exposure_vintage(row, mix, published=published, today=TODAY)
    assert age["text"] == "MCS 2025 (January 2025) · 2024 data · estimates"
    assert age["old"] is True
    # The stored row was computed from an older edition than the newest table: year and
    # estimate-or-final are not known for it, never borrowed from the other edition.
    newer = {**mix, "year": 2025, "sources": _exposure("usgs-mcs-2026")["sources"]}
    assert page_content.exposure_vintage(row, newer, published=published, today=TODAY)["text"] == (
        "MCS 2025 (January 2025)"
    )
    assert page_content.exposure_vintage(row, None, published=published, today=TODAY)["short"] == (
        "MCS 2025 (January 2025)"
    )


def test_combined_vintage_spans_the_years_and_says_estimates_if_any() -> None:
    published = {"usgs-mcs-2025": "2025-01-31"}
    row = _exposure("usgs-mcs-2025")
    final_2023 = {"stage": "mine", "year": 2023, "sources": row["sources"], "estimates": False}
    estimated_2024 = {**final_2023, "year": 2024, "estimates": True}
    both = page_content.combined_vintage([row, row], [final_2023, estimated_2024], published=published, today=TODAY)
    assert both is not None
    assert both["text"] == "MCS 2025 (January 2025) · 2023\u20132024 data · estimates"
    assert both["old"] is True
    final = page_content.combined_vintage([row], [final_2023], published=published, today=TODAY)
    assert final is not None
    assert final["text"] == "MCS 2025 (January 2025) · 2023 data · final"
    # One row's table unknown: "final" cannot be said of the whole.
    partial = page_content.combined_vintage([row, row], [final_2023, None], published=published, today=TODAY)
    assert partial is not None
    assert partial["text"] == "MCS 2025 (January 2025) · 2023 data"
    assert page_content.combined_vintage([], [], published=published, today=TODAY) is None


def _vintage_text(html: str) -> str:
    """The text of the page's vintage line, up to the publication date."""
    line = html[html.index("data-vintage") :]
    return line[line.index("</span>") + len("</span>") : line.index("(published")].strip()


@pytest.mark.django_db
def test_portfolio_shows_the_vintage_of_the_mineral_pages(buyer_client) -> None:  # type: ignore[no-untyped-def]
    html = buyer_client.get("/portfolio/").content.decode()
    # Every exposure row of the demo falls back on an MCS 2025 table of 2024 (the most upstream
    # stage: gallium and germanium refining, the others mining), estimates except germanium's.
    assert _vintage_text(html) == "MCS 2025 (January 2025) · 2024 data · estimates"
    assert "data-vintage-old" in html  # published 2025-01-31, more than a year before today
    assert html.index("data-vintage") < html.index("data-first-screen")
    assert html.count(">MCS 2025 (January 2025) · 2024 e</td>") == 7
    assert html.count(">MCS 2025 (January 2025) · 2024</td>") == 1  # germanium: no estimate
    # Gallium's exposure falls back on the table its page headlines (refining 2024): one vintage.
    gallium = buyer_client.get("/minerals/gallium/").content.decode()
    assert _vintage_text(gallium) == _vintage_text(html)
    # Figures carry their unit.
    assert ">1,600 kg</td>" in html


@pytest.mark.django_db
def test_portfolio_briefing_lists_vintage_and_sources(buyer_client) -> None:  # type: ignore[no-untyped-def]
    html = buyer_client.get("/portfolio/briefing/").content.decode()
    assert _vintage_text(html) == "MCS 2025 (January 2025) · 2024 data · estimates"
    assert "Mineral Commodity Summaries 2025 data release" in html
    assert "https://doi.org/10.5066/P13XCP3R" in html
    assert "published 2025-01-31" in html
    assert 'href="#alternatives"' not in html  # the page's own links stay on the page
