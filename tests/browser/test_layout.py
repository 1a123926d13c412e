"""Every page at a desktop (1440x900) and a phone (390x844) size, in one browser (issue 17):
nothing wider than the viewport, every chart drawn with data or replaced by a sentence saying
why, the first screen answering the question (China's share, what is restricted, the best
alternative; the tonnes at risk on the portfolio), a screenshot of each page at each size
(var/screenshots/), and briefings that print on at most two A4 pages without the navigation,
with the charts as images and the sources listed."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from minerals.models import Mineral, PolicyMeasure
from tests.browser.conftest import Watch, full_page_screenshot, log_in, open_page, watch_page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

VIEWPORTS = {"desktop": {"width": 1440, "height": 900}, "phone": {"width": 390, "height": 844}}
AS_OF = "2026-11-30"
PUBLIC_PAGES = (
    ("overview", f"/?as_of={AS_OF}"),
    ("policies", f"/policies/?as_of={AS_OF}"),
    ("policy", "/policies/cn-2024-46-us-ban/"),
    ("compare", f"/compare/?a=gallium&b=germanium&as_of={AS_OF}"),
    ("briefing", f"/minerals/gallium/briefing/?as_of={AS_OF}"),
    ("briefing-germanium", f"/minerals/germanium/briefing/?as_of={AS_OF}"),
)
# The buyer's pages (alerts: the inbox and what the buyer watches); a scenario's page is added
# with the id of a built-in scenario run for the test.
BUYER_PAGES = (
    ("portfolio", "/portfolio/"),
    ("portfolio-briefing", "/portfolio/briefing/"),
    ("plan", "/portfolio/plan/"),
    ("scenarios", "/scenarios/"),
    ("alerts", "/inbox/"),
    ("alerts-watching", "/inbox/watching/"),
)

# Elements wider than the viewport, or reaching past its right edge, that no horizontally
# scrolling container (itself inside the viewport) holds: what a phone user would have to pan to.
OVERFLOW_JS = """() => {
  const vw = document.documentElement.clientWidth;
  const bad = [];
  if (document.documentElement.scrollWidth > vw + 1) bad.push('document ' + document.documentElement.scrollWidth);
  const scrolls = (el) => {
    for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
      const style = getComputedStyle(p);
      if (['auto', 'scroll', 'hidden'].includes(style.overflowX)) {
        const box = p.getBoundingClientRect();
        if (box.right <= vw + 1 && box.left >= -1) return true;  // else an outer container may hold it
      }
    }
    return false;
  };
  for (const el of document.querySelectorAll('body *')) {
    const box = el.getBoundingClientRect();
    // Empty, or parked off-screen (Plotly's text tester): nothing to pan to.
    if (box.width === 0 || box.height === 0 || box.right <= 0) continue;
    if (box.right <= vw + 1 && box.width <= vw + 1) continue;
    if (!scrolls(el)) bad.push(el.tagName.toLowerCase() + '.' + el.getAttribute('class') + ' ' + Math.round(box.right));
  }
  return bad.slice(0, 10);
}"""

# Each figure of the page: drawn with at least one known value, or a sentence saying why not.
CHARTS_JS = """() => Array.from(document.querySelectorAll('figure.chart-figure')).map((figure) => {
  const empty = figure.querySelector('.chart-empty');
  if (empty) return {id: empty.id, message: empty.textContent.trim(), drawn: false, data: false};
  const plot = figure.querySelector('.js-chart');
  const known = (v) => Array.isArray(v) && v.some((x) => x !== null && x !== undefined);
  const data = (plot.data || []).some((t) => known(t.x) || known(t.y) || known(t.z) || known(t.values)
    || (t.link && known(t.link.value)));
  return {id: plot.id, message: '', drawn: plot.classList.contains('is-drawn'), data: data};
})"""

# The first screen holds an element when its box is inside the viewport's first screen.
ON_FIRST_SCREEN_JS = """(selector) => Array.from(document.querySelectorAll(selector)).map((el) => {
  const box = el.getBoundingClientRect();
  return {text: el.textContent.trim(), visible: box.top >= 0 && box.bottom <= window.innerHeight && box.height > 0};
})"""


# Each drawn chart's plot area (inside the axes) in CSS pixels: a phone's timeline squeezed to
# 60 px was the complaint. The policy timelines' measure names sit above their bars, and on a
# phone the names beside horizontal bars break into lines (charts.js), so no plot is squeezed.
MIN_PLOT_PX = 180
PLOT_WIDTHS_JS = """() => Array.from(document.querySelectorAll('.js-chart.is-drawn')).map((el) => ({
  id: el.id, plot: Math.round(el._fullLayout._size.w), width: Math.round(el.getBoundingClientRect().width),
  names: (el._fullLayout.annotations || []).filter((a) => a.yref === 'y').length}))"""
# A number written twice over (31,000.0) or without the formatter's rule.
STRAY_DECIMAL = re.compile(r"\b\d{1,3}(?:,\d{3})+\.0\b")
# Contents of a measure's page (issue 17, item 5): instrument, official text, HS codes with their
# product descriptions, targets and its dates on one timeline.
MEASURE_FACTS = ("[data-instrument]", "a[data-official-text]", "dl.facts code", "#fig-measure-dates-plot")


# Everything _check_page reads, in one round trip to the browser; `text` is what Playwright's
# inner_text() returns (the element's innerText).
PAGE_CHECKS_JS = f"""() => ({{overflow: ({OVERFLOW_JS})(), charts: ({CHARTS_JS})(), plots: ({PLOT_WIDTHS_JS})(),
  text: document.querySelector('main').innerText}})"""


def _check_page(page: Any, name: str, size: str, screenshots: Path) -> list[dict[str, Any]]:
    checks = page.evaluate(PAGE_CHECKS_JS)
    assert checks["overflow"] == [], f"{name} at {size}: wider than the viewport: {checks['overflow']}"
    charts: list[dict[str, Any]] = checks["charts"]
    for chart in charts:
        assert chart["message"] or (chart["drawn"] and chart["data"]), f"{name} at {size}: {chart}"
    for plot in checks["plots"]:
        assert plot["plot"] >= MIN_PLOT_PX, f"{name} at {size}: plot area of {plot}"
        if plot["id"] in ("fig-policy-plot", "fig-timeline-plot"):
            # Timelines fit the screen (no sideways scrolling) with every measure named.
            assert plot["width"] <= VIEWPORTS[size]["width"], f"{name} at {size}: {plot}"
            assert plot["names"] >= 1, f"{name} at {size}: {plot}"
    text = checks["text"]
    assert not STRAY_DECIMAL.search(text), f"{name}: {STRAY_DECIMAL.search(text)}"
    full_page_screenshot(page, screenshots / f"{name}-{size}.png")
    return charts


def _first_screen(page: Any, selector: str) -> list[dict[str, Any]]:
    return page.evaluate(ON_FIRST_SCREEN_JS, selector)


def _check_mineral(page: Any, slug: str, size: str, charts: list[dict[str, Any]]) -> None:
    """A mineral page's first screen holds its three answers; the demo's known cases besides."""
    facts = _first_screen(page, "[data-glance-fact]")
    assert [f["visible"] for f in facts] == [True, True, True], f"{slug} at {size}: {facts}"
    if slug == "gallium":
        assert facts[0]["text"].startswith("98.7 % e of refining 2024")
        assert "measures in force" in facts[1]["text"]
        assert "can supply from 2026" in facts[2]["text"]
    if slug == "germanium":
        messages = [c["message"] for c in charts if c["message"]]
        assert any("USGS publishes no country figures" in m for m in messages), messages
    if slug == "rare-earths":
        traces = page.evaluate("() => document.getElementById('fig-imports-plot').data.map((t) => t.name)")
        published = [t for t in traces if t.startswith("Net import reliance, published")]
        assert len(published) == 1
        assert all(not t.startswith("Net import reliance") or "published" in t or "computed" in t for t in traces)


def _scenario_page() -> tuple[str, str]:
    """A built-in scenario, run in this process (no broker needed), as its page."""
    from scenarios import services as scenario_services
    from scenarios.models import ScenarioRun

    scenario = scenario_services.builtin_scenarios_ensure()[0]
    run = ScenarioRun.objects.create(scenario=scenario)
    scenario_services.scenario_run_execute(run_id=run.pk)
    return ("scenario", f"/scenarios/{scenario.pk}/")


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_every_page_fits_answers_first_and_never_draws_empty_charts(browser, site, screenshots, size: str) -> None:  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport=VIEWPORTS[size])
    page = context.new_page()
    watch: Watch = watch_page(page, site.url)
    minerals = list(Mineral.objects.order_by("slug").values_list("slug", flat=True))
    assert len(minerals) == 17
    mineral_pages = tuple((f"mineral-{slug}", f"/minerals/{slug}/?as_of={AS_OF}") for slug in minerals)
    try:
        for name, path in PUBLIC_PAGES + mineral_pages:
            open_page(page, watch, path)
            charts = _check_page(page, name, size, screenshots)
            if name.startswith("mineral-"):
                _check_mineral(page, name.removeprefix("mineral-"), size, charts)
            if name == "overview":
                # Every mineral's answer on the desktop's first screen; the first mineral's on a phone.
                facts = {
                    fact: _first_screen(page, f'[data-glance-fact="{fact}"]')
                    for fact in ("china", "restricted", "alternative")
                }
                assert len(facts["china"]) == 17
                shown = facts if size == "desktop" else {k: v[:1] for k, v in facts.items()}
                for fact, boxes in shown.items():
                    assert all(b["visible"] for b in boxes), f"{fact} below the first screen"
                assert re.search(r"\d+\.\d %", facts["china"][0]["text"])
                assert "in force" in facts["restricted"][0]["text"]
                assert "can supply from" in facts["alternative"][0]["text"]
                assert page.locator("[data-vintage-old]").count() == 1  # MCS 2025, published January 2025
            if name == "policy":
                for selector in MEASURE_FACTS:
                    assert page.locator(selector).count() >= 1, f"measure page without {selector}"
                assert "Antimony ores and concentrates" in page.locator("dl.facts").first.inner_text()
                notes = PolicyMeasure.objects.get(key="cn-2024-46-us-ban").curator_notes[:60]
                assert notes not in page.locator("main").inner_text()  # curator notes stay in the admin
            if name == "compare":
                assert page.locator('[data-side="a"] [data-glance-fact="china"]').inner_text().startswith("98.7 %")
                assert page.locator('table[data-table="compare"] tbody tr').count() >= 5
        log_in(page, watch)
        for name, path in (*BUYER_PAGES, _scenario_page()):
            open_page(page, watch, path)
            _check_page(page, name, size, screenshots)
            if name.startswith("portfolio"):
                at_risk = _first_screen(page, '[data-first="at-risk"]')
                assert at_risk[0]["visible"], f"{name} at {size}: tonnes at risk below the first screen"
                assert at_risk[0]["text"].endswith(" t")
                assert _first_screen(page, '[data-first="uncovered"]')[0]["visible"]
                # The data's vintage, as on the mineral pages: edition, data year, estimates, age.
                vintage = page.locator("[data-vintage]").inner_text()
                assert "MCS 2025 (January 2025) · 2024 data · estimates" in vintage
                assert page.locator("[data-vintage-old]").count() == 1
        watch.assert_clean()
    finally:
        context.close()


def _print_to_pdf(page: Any, name: str, screenshots: Any) -> int:
    """Print the open briefing as the browser would (print media, A4): no navigation or controls,
    every chart as its image, the sources listed; the number of A4 pages of the PDF."""
    charts = page.locator(".js-chart").count()
    assert charts >= 1
    page.wait_for_function(f"() => document.querySelectorAll('img.chart-print').length >= {charts}")
    page.emulate_media(media="print")
    for hidden in (".site-header", ".site-footer", ".crumbs", ".js-print", ".downloads"):
        assert all(not el.is_visible() for el in page.locator(hidden).all()), f"{name} prints {hidden}"
    images = page.locator("img.chart-print")
    assert images.count() == charts
    assert all(img.is_visible() for img in images.all())
    assert all(not plot.is_visible() for plot in page.locator(".js-plotly-plot").all())
    full_page_screenshot(page, screenshots / f"{name}-print.png")
    pdf = page.pdf(format="A4", print_background=True)
    pdf_path = screenshots / f"{name}.pdf"
    pdf_path.write_bytes(pdf)
    return len(re.findall(rb"/Type\s*/Page(?!s)", pdf))


def test_mineral_briefing_prints_on_two_a4_pages_with_charts_as_images(browser, site, screenshots) -> None:  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport=VIEWPORTS["desktop"])
    page = context.new_page()
    watch = watch_page(page, site.url)
    try:
        open_page(page, watch, f"/minerals/gallium/briefing/?as_of={AS_OF}")
        assert page.locator(".js-chart").count() >= 2
        pages = _print_to_pdf(page, "briefing", screenshots)
        assert "Mineral Commodity Summaries 2025" in page.locator(".sources-list").inner_text()
        assert 1 <= pages <= 2, f"{pages} A4 pages"
        watch.assert_clean()
    finally:
        context.close()


def test_portfolio_briefing_prints_on_two_a4_pages_with_vintage_and_sources(browser, site, screenshots) -> None:  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport=VIEWPORTS["desktop"])
    page = context.new_page()
    watch = watch_page(page, site.url)
    try:
        log_in(page, watch)
        open_page(page, watch, "/portfolio/briefing/")
        pages = _print_to_pdf(page, "portfolio-briefing", screenshots)
        # The demo buyer (8 minerals, 14 measures hitting them) fits on two sheets.
        assert 1 <= pages <= 2, f"{pages} A4 pages"
        assert page.locator('[data-first="at-risk"]').is_visible()
        assert "2024 data · estimates" in page.locator("[data-vintage]").inner_text()
        sources = page.locator(".sources-list").inner_text()
        assert "Mineral Commodity Summaries 2025" in sources
        assert "https://doi.org/10.5066/P13XCP3R" in sources
        assert "Demo Buyer Inc.'s own requirements and supplier list" in sources
        watch.assert_clean()
    finally:
        context.close()
