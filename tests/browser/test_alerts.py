"""In a real Chromium: a curator edits a measure in the admin; the buyer watching its minerals
sees the alert in the inbox (and the unread count in the navigation)."""

from __future__ import annotations

from typing import Any

import pytest

from alerts.capture import policy_changes_capture
from minerals.models import PolicyMeasure
from suppliers import services as supplier_services
from suppliers.models import Organization

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

MEASURE = "cn-2025-10-ree-five"  # rare earths: in Demo Buyer Inc.'s portfolio (fictional buyer)
PASSWORD = "pw-browser-alerts-1"


@pytest.fixture
def people(live_server, demo, django_user_model, settings):  # type: ignore[no-untyped-def]
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "alerts"}}
    policy_changes_capture()  # the seeded measures' creations are already told
    django_user_model.objects.create_user("alerts-curator", password=PASSWORD, is_staff=True, is_superuser=True)
    buyer = django_user_model.objects.create_user("alerts-browser-buyer", password=PASSWORD)
    organization = Organization.objects.get(name="Demo Buyer Inc.")
    supplier_services.membership_grant(user=buyer, organization=organization, role="viewer")
    return live_server


def _log_in(page: Any, base: str, username: str, path: str) -> None:
    page.goto(
        f"{base}/accounts/login/?next={path}" if not path.startswith("/admin") else f"{base}/admin/login/?next={path}"
    )
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("[type=submit]")
    page.wait_for_url(f"**{path}")


def test_the_inbox_shows_an_alert_after_a_curator_edits_a_watched_measure(page, people) -> None:  # type: ignore[no-untyped-def]
    base = people.url
    left: list[str] = []
    errors: list[str] = []

    def route(r: Any) -> None:
        if r.request.url.startswith(base) or r.request.url.startswith(("data:", "blob:")):
            r.continue_()
        else:
            left.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    page.on("pageerror", lambda e: errors.append(str(e)))
    measure = PolicyMeasure.objects.get(key=MEASURE)

    _log_in(page, base, "alerts-curator", f"/admin/minerals/policymeasure/{measure.pk}/change/")
    new_title = f"{measure.title} (edited in the admin)"
    page.fill("#id_title", new_title)
    page.click("input[name=_save]")
    page.wait_for_url("**/admin/minerals/policymeasure/")
    assert PolicyMeasure.objects.get(pk=measure.pk).title == new_title

    assert policy_changes_capture() == 1  # the beat's minute: the history row becomes one event

    page.context.clear_cookies()
    _log_in(page, base, "alerts-browser-buyer", "/inbox/")
    row = page.locator("tr[data-kind='policy.changed']").first
    assert "Policy measure changed (title)" in row.inner_text()
    assert "edited in the admin" in row.inner_text()
    assert page.locator("nav .count").first.inner_text().strip() != ""
    row.locator("button", has_text="Mark read").click()
    page.wait_for_url("**/inbox/")
    assert page.locator("tr[data-kind='policy.changed'].unread").count() == 0
    assert not errors, errors
    assert not left, f"requests left 127.0.0.1: {left}"
