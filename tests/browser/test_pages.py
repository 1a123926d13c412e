"""Every dashboard page in a real Chromium: loads without errors, nothing leaves 127.0.0.1,
charts render, the numbers equal the stored metrics, the as-of control, portfolio isolation,
downloads and the supplier-list upload."""

from __future__ import annotations

import csv
import io
import re
from datetime import date
from typing import Any

import pytest

from dashboards import selectors
from suppliers import services as supplier_services
from suppliers.models import Organization, Sourcing
from tests.browser.conftest import full_page_screenshot
from tests.browser.conftest import log_in as _log_in
from tests.browser.conftest import open_page as _open

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# docs/performance.md "First view": at most 1.5 MB of JavaScript on the wire per page.
JS_BUDGET_BYTES = 1_500_000


def _charts_drawn(page, expected: int) -> None:  # type: ignore[no-untyped-def]
    # A function, not an expression: Playwright evals an expression when it polls again (CSP: no eval).
    drawn = f"() => document.querySelectorAll('.js-chart.is-drawn').length >= {expected}"
    page.wait_for_function(drawn, timeout=30_000)
    assert page.locator(".js-plotly-plot").count() >= expected
    assert page.locator(".js-plotly-plot .main-svg").count() >= expected


def _value(page, metric: str, key: str) -> float:  # type: ignore[no-untyped-def]
    return float(page.locator(f'[data-metric="{metric}"][data-key="{key}"]').first.get_attribute("data-value"))


def test_overview(watched, screenshots) -> None:  # type: ignore[no-untyped-def]
    page, watch = watched
    _open(page, watch, "/?as_of=2026-11-30")
    _charts_drawn(page, 1)
    stored = selectors.mineral_metrics(mineral="gallium", as_of=date(2026, 11, 30))["supply"][0]
    assert _value(page, "china_refinery", "gallium") == pytest.approx(stored["china_share"])
    assert _value(page, "restricted_supply_share", "gallium") == pytest.approx(stored["restricted_supply_share"])
    restricted_cell = page.locator('[data-metric="restricted_supply_share"][data-key="gallium"]')
    assert restricted_cell.inner_text() == f"{stored['restricted_supply_share'] * 100:.1f} %"
    assert page.locator('[data-panel="needs-review"] li').count() >= 2
    full_page_screenshot(page, screenshots / "overview.png")

    # The as-of control (a GET form): the U.S. gallium ban is suspended on 2026-06-01.
    page.fill("#id_as_of", "2026-06-01")
    page.click(".as-of button[type=submit]")
    page.wait_for_url("**as_of=2026-06-01**")
    june = selectors.mineral_metrics(mineral="gallium", as_of=date(2026, 6, 1))["supply"][0]
    assert _value(page, "restricted_supply_share", "gallium") == pytest.approx(june["restricted_supply_share"])
    assert june["restricted_supply_share"] < stored["restricted_supply_share"]

    # The CSV download has the rows on screen.
    on_screen = page.locator('table[data-table="minerals"] tbody tr').count()
    with page.expect_download() as download:
        page.click('[data-download="minerals-csv"]')
    rows = list(csv.reader(io.StringIO(download.value.path().read_text(encoding="utf-8-sig"))))
    assert len(rows) - 1 == on_screen
    names_on_screen = page.locator('table[data-table="minerals"] tbody tr td:first-child').all_inner_texts()
    assert [r[0] for r in rows[1:]] == names_on_screen

    # PNG export through Plotly's modebar, offline.
    page.hover("#fig-dependency-plot")
    with page.expect_download() as png:
        page.click('#fig-dependency-plot .modebar-btn[data-title="Download plot as a PNG"]')
    assert png.value.suggested_filename.endswith(".png")
    assert png.value.path().read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    watch.assert_clean()


def test_mineral_page(watched, screenshots) -> None:  # type: ignore[no-untyped-def]
    page, watch = watched
    _open(page, watch, "/minerals/gallium/?as_of=2026-11-30")
    _charts_drawn(page, 5)  # production bars, map, trend, imports, policy timeline
    assert page.locator("#fig-map-refinery-plot .choroplethlocation").count() > 0
    # The map's topojson: our own static file, under its hashed (cacheable) name.
    assert any(re.search(r"/static/vendor/plotly/topojson/world_110m\.[0-9a-f]{12}\.json$", u) for u in watch.requests)
    metrics = selectors.mineral_metrics(mineral="gallium", as_of=date(2026, 11, 30))
    assert _value(page, "china_share", "gallium") == pytest.approx(metrics["supply"][0]["china_share"])
    # MCS 2025 publishes 2024 production as estimates: the figure carries its "e" mark.
    assert page.locator('.kpi-value[data-metric="china_share"]').inner_text() == "98.7 % e"
    assert page.locator('table[data-table="production_refinery"] tbody tr').count() == len(
        metrics["supply"][0]["country_shares"]
    )
    full_page_screenshot(page, screenshots / "mineral.png")
    watch.assert_clean()


def test_policy_tracker_and_measure_page(watched, screenshots) -> None:  # type: ignore[no-untyped-def]
    page, watch = watched
    _open(page, watch, "/policies/?as_of=2026-11-30")
    _charts_drawn(page, 1)
    page.select_option("#id_issuer", "USA")
    page.click(".filters button[type=submit]")
    page.wait_for_url("**issuer=USA**")
    issuers = page.locator('table[data-table="measures"] tbody tr td:nth-child(2)').all_inner_texts()
    assert issuers
    assert set(issuers) == {"USA"}
    full_page_screenshot(page, screenshots / "policies.png")
    _open(page, watch, "/policies/cn-2024-46-us-ban/?as_of=2026-06-01")
    assert page.locator("[data-status]").first.get_attribute("data-status") == "suspended"
    assert "811292" in page.content()
    full_page_screenshot(page, screenshots / "policy.png")
    watch.assert_clean()


def test_portfolio(watched, screenshots, django_user_model) -> None:  # type: ignore[no-untyped-def]
    page, watch = watched
    _log_in(page, watch)
    page.wait_for_load_state("networkidle")
    _charts_drawn(page, 2)  # exposure bars and the supply-chain Sankey
    organization = Organization.objects.get(name="Demo Buyer Inc.")
    for row in selectors.organization_exposure(organization=organization):
        for metric in ("direct_china_share", "upstream_china_share", "restricted_share"):
            cell = page.locator(f'td[data-metric="{metric}"][data-key="{row["mineral"]}"]')
            expected = row[metric]
            assert float(cell.get_attribute("data-value")) == pytest.approx(expected)
            assert cell.inner_text() == f"{expected * 100:.1f} %"
    full_page_screenshot(page, screenshots / "portfolio.png")
    assert page.locator('form[method="post"] input[name="action"]').count() == 0  # read only: forms on the edit page

    # The edit page, linked from the portfolio: the forms and the supplier-list upload.
    page.click('[data-link="edit"]')
    page.wait_for_url("**/portfolio/edit/")
    assert page.locator("#id_country option").count() > 200
    assert (
        page.locator('table[data-table="sourcing"] tbody tr').count()
        == Sourcing.objects.filter(organization=organization).count()
    )
    full_page_screenshot(page, screenshots / "portfolio-edit.png")

    # Another organization's portfolio answers 404.
    other = supplier_services.record_save(
        instance=Organization(name="Rival Buyer", slug="rival-buyer", country_id="DEU")
    )
    rival = django_user_model.objects.create_user("rival", password="pw-rival-12345")
    supplier_services.membership_grant(user=rival, organization=other, role="admin")
    _open(page, watch, "/portfolio/rival-buyer/", status=404)

    _open(page, watch, "/portfolio/rival-buyer/edit/", status=404)

    # A malformed supplier list: row errors on screen, nothing saved.
    _open(page, watch, "/portfolio/edit/")
    before = sorted(Sourcing.objects.values_list("id", "annual_quantity", "country_id"))
    page.set_input_files(
        "#upload input[type=file]",
        files=[
            {
                "name": "suppliers.csv",
                "mimeType": "text/csv",
                "buffer": b"mineral,facility,country,annual_quantity,share,notes\n"
                b"gallium,,JPN,10,,\ngallium,,ATLANTIS,5,,\nkryptonite,,JPN,1,,\n",
            }
        ],
    )
    page.click("#upload button[type=submit]")
    page.wait_for_selector("#upload-errors")
    errors = page.locator("#upload-errors tr.upload-error").all_inner_texts()
    assert len(errors) == 2
    assert errors[0].split("\t")[:3] == ["3", "country", "ATLANTIS"]
    assert errors[1].split("\t")[:3] == ["4", "mineral", "kryptonite"]
    assert sorted(Sourcing.objects.values_list("id", "annual_quantity", "country_id")) == before
    watch.errors = [e for e in watch.errors if "400 (Bad Request)" not in e]  # the upload answers 400 on purpose
    assert not [e for e in watch.errors if "404" not in e]
    assert not watch.blocked


def test_tables_work_without_javascript(browser, site) -> None:  # type: ignore[no-untyped-def]
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(site.url + "/?as_of=2026-06-01&sort=name&dir=desc")
    names = page.locator('table[data-table="minerals"] tbody tr td:first-child').all_inner_texts()
    assert names == sorted(names, reverse=True)
    assert len(names) > 10
    assert page.locator(".chart-fallback").count() == 1  # the chart says the table has its numbers
    assert page.locator('[data-as-of="2026-06-01"]').count() == 1
    context.close()


@pytest.mark.parametrize(
    ("path", "bundle", "charts"),
    [
        ("/", "basic", 1),
        ("/minerals/gallium/", "geo", 5),
        ("/policies/", "basic", 1),
        ("/portfolio/", "sankey", 2),
    ],
)
def test_page_javascript_is_one_partial_bundle_compressed_and_cached(
    watched, path: str, bundle: str, charts: int
) -> None:  # type: ignore[no-untyped-def]
    """Each page loads charts.js and the smallest plotly.js bundle with its trace types, by hashed
    name, brotli-compressed by whitenoise, marked immutable, within the JavaScript budget."""
    page, watch = watched
    scripts: list[Any] = []
    page.on("requestfinished", lambda r: scripts.append(r) if r.resource_type == "script" else None)
    if path == "/portfolio/":
        _log_in(page, watch)
    else:
        _open(page, watch, path)
    _charts_drawn(page, charts)
    page.wait_for_load_state("networkidle")

    names = [re.sub(r"\.[0-9a-f]{12}\.js$", ".js", r.url.rsplit("/", 1)[1]) for r in scripts]
    assert sorted(names) == sorted(["charts.js", f"plotly-{bundle}.min.js"])
    transferred = 0
    for request in scripts:
        response = request.response()
        headers = response.all_headers()
        assert re.search(r"\.[0-9a-f]{12}\.js$", request.url), request.url  # hashed name
        assert headers.get("content-encoding") == "br", request.url
        assert "immutable" in headers.get("cache-control", ""), headers.get("cache-control")
        sizes = request.sizes()
        transferred += sizes["responseBodySize"] + sizes["responseHeadersSize"]
    assert transferred <= JS_BUDGET_BYTES
    watch.assert_clean()
