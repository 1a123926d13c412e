"""Pages and API answers on the demo dataset, byte for byte against golden files.

A refactor of the risk engine's spine (issue 10) must not change what anyone sees: this test
renders the public pages, a buyer's portfolio and the metrics API on the demo, with "today"
pinned, and compares each answer with tests/fixtures/golden/<name>. Regenerate after an
intended change with `UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/test_outputs_unchanged.py`
and review the diff like code.

Only values that change from one run to the next whatever the code are masked (see VOLATILE).
"""

from __future__ import annotations

import json
import os
import re
import secrets
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone
from oauth2_provider.models import AccessToken, Application, set_token_value
from rest_framework.test import APIClient

from dashboards import services
from dashboards.models import ExposureMetric
from suppliers import services as supplier_services
from suppliers.models import ApplicationOrganization, Organization

pytestmark = pytest.mark.django_db

GOLDEN_ROOT = Path(__file__).resolve().parent / "fixtures" / "golden"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"
TODAY = date(2026, 11, 30)

PAGES = {
    "overview.html": "/",
    "overview-2026-06-01.html": "/?as_of=2026-06-01",
    "mineral-gallium.html": "/minerals/gallium/",
    "mineral-rare-earths.html": "/minerals/rare-earths/",
    "mineral-germanium-2024-01-01.html": "/minerals/germanium/?as_of=2024-01-01",
    "policies.html": "/policies/",
    "portfolio.html": "/portfolio/",
}
API = {
    "api-metrics-gallium.json": "/api/v1/metrics/?mineral=gallium",
    "api-metrics-rare-earths.json": "/api/v1/metrics/?mineral=rare-earths&as_of=2026-06-01",
    "api-minerals.json": "/api/v1/minerals/",
    "api-facilities.json": "/api/v1/facilities/",
    "api-exposure.json": "/api/v1/exposure/",
}

# Masked because they differ between two runs of the same code, whatever the code:
# - the CSRF token of the log-out form and of the portfolio forms (random per request);
# - wall-clock times: when the metrics were computed (the pages' "computed 2026-12-04 20:34 UTC"
#   freshness notes, the API's `computed_at` and `age_seconds`) and when the demo was loaded
#   (`data_changed_at`). Dates of data (as-of dates, editions, measures) are never masked.
VOLATILE_HTML = [
    (re.compile(r'name="csrfmiddlewaretoken" value="[^"]*"'), 'name="csrfmiddlewaretoken" value="…"'),
    (re.compile(r"\b\d{4}-\d\d-\d\d \d\d:\d\d\b"), "<time>"),
    (re.compile(r"computed \d{4}-\d\d-\d\d\b"), "computed <date>"),
]
VOLATILE_JSON_KEYS = frozenset({"computed_at", "age_seconds", "data_changed_at"})


def _mask_json(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: ("…" if k in VOLATILE_JSON_KEYS else _mask_json(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask_json(v) for v in value]
    return value


def _golden_path(name: str) -> Path:
    """SQLite's golden, or on PostgreSQL its own where the two backends legitimately differ
    (postgresql/<name>, both generated on the code before the issue-10 refactor): PostgreSQL
    sorts NULL dates first in a descending order (the policy tracker's measures without an
    effective date), and computes the import rows with the set-based statement, whose
    summation order moves the last digit of a float (docs/metrics.md: relative 1e-12)."""
    from django.db import connection

    own = GOLDEN_ROOT / "postgresql" / name
    return own if connection.vendor == "postgresql" and (own.exists() or UPDATE) else GOLDEN_ROOT / name


def _compare(name: str, text: str) -> None:
    path = _golden_path(name)
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.parent.name == "postgresql" and (GOLDEN_ROOT / name).read_text(encoding="utf-8") == text:
            path.unlink(missing_ok=True)  # the same bytes as SQLite's: no override
            return
        path.write_text(text, encoding="utf-8")
        return
    assert path.exists(), f"{path} missing: generate it with UPDATE_GOLDEN=1"
    expected = path.read_text(encoding="utf-8")
    if text != expected:
        lines, golden_lines = text.splitlines(), expected.splitlines()
        first = next(
            (i for i, (a, b) in enumerate(zip(lines, golden_lines, strict=False)) if a != b),
            min(len(lines), len(golden_lines)),
        )
        got = lines[first] if first < len(lines) else "<end>"
        want = golden_lines[first] if first < len(golden_lines) else "<end>"
        pytest.fail(f"{name} differs from its golden file at line {first + 1}:\n got: {got!r}\nwant: {want!r}")


@pytest.fixture
def pinned_today(monkeypatch: pytest.MonkeyPatch) -> date:
    """Pages and the API default their as-of date to today, and exposure rows carry the date
    they were computed for: both are pinned so the goldens do not age."""
    monkeypatch.setattr(timezone, "localdate", lambda *args, **kwargs: TODAY)
    return TODAY


@pytest.fixture
def outputs_world(settings: Any, demo: None, pinned_today: date, django_user_model: Any) -> dict[str, Any]:
    from django.core.cache import cache

    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "golden"}}
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    cache.clear()
    list(services.all_metrics_recompute())
    # The session's demo load computed exposure for the real today; recompute it for TODAY (a
    # write never moves a row's as-of date backwards, hence the delete, rolled back after).
    ExposureMetric.objects.all().delete()
    services.organizations_exposure_recompute()
    organization = Organization.objects.get(name="Demo Buyer Inc.")
    user = django_user_model.objects.create_user("golden-buyer", password="pw-golden-buyer-123")
    supplier_services.membership_grant(user=user, organization=organization, role="analyst")
    app = Application.objects.create(
        name="golden-partner",
        client_type=Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=Application.GRANT_CLIENT_CREDENTIALS,
        client_secret="secret-golden",
        hash_client_secret=True,
    )
    ApplicationOrganization.objects.create(application=app, organization=organization)
    raw = secrets.token_urlsafe(30)
    token = AccessToken(
        application=app,
        user=None,
        scope="reference:read portfolio:read",
        expires=timezone.now() + timedelta(hours=1),
    )
    set_token_value(token, raw)
    token.save()
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    yield {"user": user, "api": api}
    cache.clear()


@pytest.mark.parametrize("name", sorted(PAGES))
def test_page_unchanged(client: Any, outputs_world: dict[str, Any], name: str) -> None:
    client.force_login(outputs_world["user"])
    response = client.get(PAGES[name])
    assert response.status_code == 200, response.status_code
    text = response.content.decode()
    for pattern, replacement in VOLATILE_HTML:
        text = pattern.sub(replacement, text)
    _compare(name, text)


@pytest.mark.parametrize("name", sorted(API))
def test_api_unchanged(outputs_world: dict[str, Any], name: str) -> None:
    response = outputs_world["api"].get(API[name])
    assert response.status_code == 200, response.status_code
    body = _mask_json(json.loads(response.content))
    _compare(name, json.dumps(body, indent=1, ensure_ascii=False, sort_keys=False) + "\n")
