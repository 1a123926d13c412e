"""Issue 12 in a real Chromium: the requirement form fills in a mineral's quantity and unit and
asks before a 1,000x change; the uncovered part of a requirement appears when it grows; the
sourcing download uploads back as a no-op."""

from __future__ import annotations

from pathlib import Path

import pytest

from suppliers.models import Organization, Requirement, Sourcing
from tests.browser.conftest import log_in as _log_in
from tests.browser.conftest import open_page as _open

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _gap_row(page, mineral: str) -> list[str]:  # type: ignore[no-untyped-def]
    row = page.locator('table[data-table="alternative_gaps"] tbody tr', has_text=mineral).first
    return [cell.strip() for cell in row.locator("td").all_inner_texts()]


def test_uncovered_part_appears_when_a_requirement_grows_and_the_upload_round_trip_is_a_no_op(
    watched,
    tmp_path: Path,
) -> None:  # type: ignore[no-untyped-def]
    """Gallium: 2,000 kg required, 1,600 + 400 kg sourced: nothing uncovered. Picking gallium
    fills in 2000 kg; 2500 "t" (1,250x) is held back with a question; 5,000 kg (2.5x) saves, and
    the portfolio's gap table shows 5,000 - 2,000 = 3,000 kg not covered by any supplier. Then
    the sourcing table's CSV download, uploaded back, adds, updates and removes nothing."""
    page, watch = watched
    _log_in(page, watch)
    columns = page.locator('table[data-table="alternative_gaps"] thead th').all_inner_texts()
    uncovered = [c.strip() for c in columns].index("Not covered by any supplier / yr")
    assert _gap_row(page, "Gallium")[uncovered] == "0"

    _open(page, watch, "/portfolio/edit/")
    form = page.locator("form[data-requirement-form]")
    form.locator("[name=mineral]").select_option("gallium")
    assert float(form.locator("[name=annual_quantity]").input_value()) == 2000
    assert form.locator("[name=unit]").input_value() == "kg"

    form.locator("[name=annual_quantity]").fill("2500")
    form.locator("[name=unit]").select_option("t")
    form.locator("button[type=submit]").click()
    page.wait_for_selector("form[data-requirement-form] input[type=checkbox][name=confirm_change]")
    assert "1,250x larger" in page.locator("form[data-requirement-form]").inner_text()
    organization = Organization.objects.get(name="Demo Buyer Inc.")
    assert Requirement.objects.get(organization=organization, mineral__slug="gallium").annual_quantity == 2000

    form = page.locator("form[data-requirement-form]")
    form.locator("[name=annual_quantity]").fill("5000")
    form.locator("[name=unit]").select_option("kg")
    form.locator("button[type=submit]").click()
    page.wait_for_url("**/portfolio/edit/")
    assert "Requirement saved" in page.locator(".messages").inner_text()

    _open(page, watch, "/portfolio/")
    assert _gap_row(page, "Gallium")[uncovered] == "3,000"
    watch.errors = [e for e in watch.errors if "400 (Bad Request)" not in e]  # the held-back change answers 400
    watch.assert_clean()

    # The sourcing download uploads back unchanged as a no-op (one test: the demo reload per
    # transactional browser test is the slow part).
    _open(page, watch, "/portfolio/edit/")
    before = sorted(Sourcing.objects.filter(organization=organization).values_list("id", "annual_quantity", "share"))
    with page.expect_download() as info:
        page.click('[data-download="sourcing-csv"]')
    path = tmp_path / "sourcing.csv"
    info.value.save_as(path)
    assert "share (fraction)" in path.read_text(encoding="utf-8-sig").splitlines()[0]
    page.set_input_files("#upload input[type=file]", str(path))
    page.click("#upload button[type=submit]")
    page.wait_for_url("**/portfolio/edit/")
    assert f"0 added, 0 updated, {len(before)} unchanged, 0 removed" in page.locator(".messages").inner_text()
    after = sorted(Sourcing.objects.filter(organization=organization).values_list("id", "annual_quantity", "share"))
    assert after == before
    watch.assert_clean()
