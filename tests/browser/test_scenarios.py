"""Scenarios in a real Chromium: create one in the form, run it, see the comparison chart."""

from __future__ import annotations

import pytest

from scenarios.models import Scenario
from suppliers.models import Organization
from tests.browser.conftest import full_page_screenshot, log_in, open_page
from tests.browser.test_pages import _charts_drawn

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_create_run_and_compare(watched, screenshots) -> None:  # type: ignore[no-untyped-def]
    page, watch = watched
    log_in(page, watch)
    page.click('nav a:has-text("Scenarios")')
    page.wait_for_url("**/scenarios/")
    page.click('a:has-text("New scenario")')
    page.wait_for_url("**/scenarios/new/")
    page.fill("#id_name", "Gallium ban to the U.S. and 25 % more demand")
    page.fill("#id_as_of", "2026-01-01")
    page.fill("#id_window_start", "2027-01-01")
    page.fill("#id_window_end", "2027-12-31")
    page.select_option("#id_policy-0-kind", "new")
    page.select_option("#id_policy-0-issuer", "CHN")
    page.select_option("#id_policy-0-measure_type", "export_ban")
    page.select_option("#id_policy-0-minerals", ["gallium"])
    page.select_option("#id_policy-0-targets", ["USA"])
    page.select_option("#id_demand-0-mineral", "gallium")
    page.fill("#id_demand-0-change_percent", "25")
    page.click('button:has-text("Save")')
    page.wait_for_url("**/scenarios/*/")
    scenario = Scenario.objects.get(name="Gallium ban to the U.S. and 25 % more demand")
    assert scenario.organization == Organization.objects.get(name="Demo Buyer Inc.")
    assert page.locator('[data-run-status="none"]').count() == 1

    page.click('button:has-text("Run")')
    page.wait_for_load_state("networkidle")
    _charts_drawn(page, 2)  # baseline vs scenario by mineral; volume at risk by year
    assert page.locator("#scenario-minerals-plot .js-plotly-plot, #scenario-minerals-plot.js-plotly-plot").count() == 1
    # The buyer's table: gallium 2027, 2,000 x 1.25 = 2,500 kg required, China's 1,600 x 1.25 banned.
    row = page.locator('table[data-table="buyer"] tbody tr', has_text="Gallium").first
    assert "2,500" in row.inner_text()
    assert "2,000" in row.inner_text()
    full_page_screenshot(page, screenshots / "scenario.png")
    watch.assert_clean()

    # Another organization's scenario answers 404.
    open_page(page, watch, "/scenarios/999999/", status=404)
