"""Every page at a desktop (1440x900) and a phone (390x844) size, in one browser (issue 17):
nothing wider than the viewport, every chart drawn with data or replaced by a sentence saying
why, the first screen answering the question (China's share, what is restricted, the best
alternative; the tonnes at risk on the portfolio), a screenshot of each page at each size
(var/screenshots/), and a mineral briefing that prints on at most two A4 pages."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.browser.conftest import Watch, log_in, open_page, watch_page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

VIEWPORTS = {"desktop": {"width": 1440, "height": 900}, "phone": {"width": 390, "height": 844}}
AS_OF = "2026-11-30"
PUBLIC_PAGES = (
    ("overview", f"/?as_of={AS_OF}"),
    ("mineral", f"/minerals/gallium/?as_of={AS_OF}"),
    ("mineral-germanium", f"/minerals/germanium/?as_of={AS_OF}"),
    ("mineral-rare-earths", f"/minerals/rare-earths/?as_of={AS_OF}"),
    ("policies", f"/policies/?as_of={AS_OF}"),
    ("policy", "/policies/cn-2024-46-us-ban/"),
    ("compare", f"/compare/?a=gallium&b=germanium&as_of={AS_OF}"),
    ("briefing", f"/minerals/gallium/briefing/?as_of={AS_OF}"),
)
BUYER_PAGES = (("portfolio", "/portfolio/"), ("portfolio-briefing", "/portfolio/briefing/"))

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


def _wait_for_charts(page: Any) -> None:
    expected = page.locator(".js-chart").count()
    drawn = f"() => document.querySelectorAll('.js-chart.is-drawn').length >= {expected}"
    page.wait_for_function(drawn, timeout=30_000)


def _check_page(page: Any, name: str, size: str, screenshots: Any) -> list[dict[str, Any]]:
    _wait_for_charts(page)
    assert page.evaluate(OVERFLOW_JS) == [], f"{name} at {size}: wider than the viewport"
    charts = page.evaluate(CHARTS_JS)
    for chart in charts:
        assert chart["message"] or (chart["drawn"] and chart["data"]), f"{name} at {size}: {chart}"
    page.screenshot(path=str(screenshots / f"{name}-{size}.png"), full_page=True)
    return charts


def _first_screen(page: Any, selector: str) -> list[dict[str, Any]]:
    return page.evaluate(ON_FIRST_SCREEN_JS, selector)


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_every_page_fits_answers_first_and_never_draws_empty_charts(browser, site, screenshots, size: str) -> None:  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport=VIEWPORTS[size])
    page = context.new_page()
    watch: Watch = watch_page(page, site.url)
    try:
        for name, path in PUBLIC_PAGES:
            open_page(page, watch, path)
            charts = _check_page(page, name, size, screenshots)
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
            if name == "mineral":
                facts = _first_screen(page, "[data-glance-fact]")
                assert [f["visible"] for f in facts] == [True, True, True]
                assert facts[0]["text"].startswith("98.7 % e of refining 2024")
                assert "measures in force" in facts[1]["text"]
                assert "can supply from 2026" in facts[2]["text"]
            if name == "mineral-germanium":
                messages = [c["message"] for c in charts if c["message"]]
                assert any("USGS publishes no country figures" in m for m in messages), messages
            if name == "mineral-rare-earths":
                traces = page.evaluate("() => document.getElementById('fig-imports-plot').data.map((t) => t.name)")
                published = [t for t in traces if t.startswith("Net import reliance, published")]
                assert len(published) == 1
                assert all(
                    not t.startswith("Net import reliance") or "published" in t or "computed" in t for t in traces
                )
            if name == "compare":
                assert page.locator('[data-side="a"] [data-glance-fact="china"]').inner_text().startswith("98.7 %")
                assert page.locator('table[data-table="compare"] tbody tr').count() >= 5
        log_in(page, watch)
        for name, path in BUYER_PAGES:
            open_page(page, watch, path)
            _check_page(page, name, size, screenshots)
            at_risk = _first_screen(page, '[data-first="at-risk"]')
            assert at_risk[0]["visible"], f"{name} at {size}: tonnes at risk below the first screen"
            assert at_risk[0]["text"].endswith(" t")
            assert _first_screen(page, '[data-first="uncovered"]')[0]["visible"]
        watch.assert_clean()
    finally:
        context.close()


def test_mineral_briefing_prints_on_two_a4_pages_with_charts_as_images(browser, site, screenshots) -> None:  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport=VIEWPORTS["desktop"])
    page = context.new_page()
    watch = watch_page(page, site.url)
    try:
        open_page(page, watch, f"/minerals/gallium/briefing/?as_of={AS_OF}")
        charts = page.locator(".js-chart").count()
        assert charts >= 2
        page.wait_for_function(f"() => document.querySelectorAll('img.chart-print').length >= {charts}")
        page.emulate_media(media="print")
        assert page.locator(".site-header").is_hidden()
        assert page.locator("img.chart-print").first.is_visible()
        assert page.locator(".js-plotly-plot").first.is_hidden()
        assert "Mineral Commodity Summaries 2025" in page.locator(".sources-list").inner_text()
        page.screenshot(path=str(screenshots / "briefing-print.png"), full_page=True)
        pdf = page.pdf(format="A4", print_background=True)
        pages = len(re.findall(rb"/Type\s*/Page(?!s)", pdf))
        assert 1 <= pages <= 2, f"{pages} A4 pages"
        watch.assert_clean()
    finally:
        context.close()
