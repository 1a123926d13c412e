"""The transition plan pages in a real Chromium: the read-only page links to the edit page, whose
forms create a plan and a step; back on the read-only page every mineral's chart is drawn (with
the PNG button), the uncovered part appears when a requirement grows, nothing leaves 127.0.0.1."""

from __future__ import annotations

import pytest

from minerals.models import Mineral
from suppliers import services as supplier_services
from suppliers.models import Organization, Requirement, TransitionPlan
from tests.browser.conftest import PASSWORD, full_page_screenshot, open_page
from tests.browser.test_pages import _charts_drawn

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_plan_page_renders_its_charts_and_the_uncovered_part(watched, screenshots) -> None:  # type: ignore[no-untyped-def]
    page, watch = watched
    open_page(page, watch, "/accounts/login/?next=/portfolio/plan/")
    page.fill("#id_username", "browser-buyer")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/portfolio/plan/")
    organization = Organization.objects.get(name="Demo Buyer Inc.")
    held = Requirement.objects.filter(organization=organization).count()

    # The read-only page has no form; its edit link leads to the forms.
    assert page.locator("form[method=post] input[name=action]").count() == 0
    page.click("#edit-plans")
    page.wait_for_url("**/portfolio/plan/edit/")
    # A draft plan, then a step through the forms (no JSON typed anywhere).
    page.fill("#id_name", "Halve Chinese gallium")
    page.click('form[aria-label="Create a plan"] button[type=submit]')
    page.wait_for_load_state("networkidle")
    plan = TransitionPlan.objects.get(organization=organization, name="Halve Chinese gallium")
    page.select_option("#id_source", label="Gallium: CHN (facility not known)")
    page.fill("#id_share_percent", "50")
    page.select_option("#id_target", "country")
    page.select_option("#id_to_country", "JPN")
    page.select_option("#id_from_year", "2027")
    page.click('form[aria-label="Add a step"] button[type=submit]')
    page.wait_for_load_state("networkidle")
    assert plan.steps.count() == 1
    assert page.locator('#steps-edit input[value="step-delete"]').count() == 1
    page.click(f'nav.crumbs a[href="/portfolio/plan/?plan={plan.pk}"]')
    page.wait_for_url(f"**/portfolio/plan/?plan={plan.pk}")
    assert page.locator('table[data-table="plan_steps"] tbody tr').count() == 1

    _charts_drawn(page, held)  # one chart per mineral
    # The chart as PNG through Plotly's modebar, offline.
    page.hover("#fig-plan-gallium-plot")
    with page.expect_download() as png:
        page.click('#fig-plan-gallium-plot .modebar-btn[data-title="Download plot as a PNG"]')
    assert png.value.suggested_filename == "lodestone-plan-gallium.png"
    assert png.value.path().read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # Nothing is uncovered in the demo: the note appears only when a requirement outgrows the sourcing.
    assert page.locator('[data-uncovered-now="gallium"]').count() == 0
    full_page_screenshot(page, screenshots / "plan.png")

    supplier_services.record_upsert(
        model=Requirement,
        lookup={"organization": organization, "mineral": Mineral.objects.get(slug="gallium")},
        values={"annual_quantity": 5000.0},
    )
    open_page(page, watch, f"/portfolio/plan/?plan={plan.pk}")
    _charts_drawn(page, held)
    assert page.locator('[data-uncovered-now="gallium"]').inner_text() == "(uncovered today: 3000 kg)"
    uncovered = page.locator('td[data-uncovered="gallium"]').all_inner_texts()
    assert uncovered
    assert all(text == "3,000" for text in uncovered)
    watch.assert_clean()
