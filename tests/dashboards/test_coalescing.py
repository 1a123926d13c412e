"""Coalescing of recomputes under rapid edits over HTTP, with a real worker (issue 16, probing 12).

1,000 rapid edits to one mineral over HTTP ran 11 recomputes: the pending key was deleted when
a run started, so each run was followed by another one COUNTDOWN later while edits kept coming.
Here the edits are real HTTP requests (the bulk production API on a live server, each one its own
committed transaction), the broker and pending keys are a real Redis and the worker is real.

This file uses Redis database 12 and its own key prefix, so it can run beside the other
integration tests (database 15).
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from dashboards.models import MineralMetricsState, SupplyMetric
from minerals.models import Mineral
from tests.api.conftest import make_application, make_token
from tests.dashboards.conftest import recompute_settled, redis_db_url

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

COALESCING_REDIS_DB = 12
KEY_PREFIX = "lodestone-test-coalescing:recompute"
EDITS = 600


@pytest.fixture
def test_redis_url(redis_url: str) -> Iterator[str]:
    """Overrides the conftest's database 15 for the worker and the pending keys."""
    url = redis_db_url(redis_url, COALESCING_REDIS_DB)
    client = redis.Redis.from_url(url)
    client.flushdb()
    yield url
    client.flushdb()


@pytest.fixture
def production_defaults(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.LODESTONE_RECOMPUTE_COUNTDOWN = 2.0  # the production defaults
    settings.LODESTONE_RECOMPUTE_MAX_DELAY = 10.0
    settings.LODESTONE_API_THROTTLE_RATES = {**settings.LODESTONE_API_THROTTLE_RATES, "bulk": "100000/min"}


def _state(mineral: Mineral) -> MineralMetricsState:
    return MineralMetricsState.objects.get(mineral=mineral)


def _current(mineral: Mineral) -> bool:
    state = MineralMetricsState.objects.filter(mineral=mineral).first()
    return state is not None and state.data_version >= Mineral.objects.get(pk=mineral.pk).data_version


def test_rapid_http_edits_coalesce_into_at_most_five_recomputes(
    demo: None,
    production_defaults: None,
    celery_worker: Any,
    settings: Any,
    live_server: Any,
    wait_until: Any,
    django_user_model: Any,
) -> None:
    settings.LODESTONE_RECOMPUTE_KEY_PREFIX = KEY_PREFIX  # after celery_worker, which sets its own
    owner = django_user_model.objects.create_user("coalescing-curator", is_staff=True, is_superuser=True)
    token = make_token(make_application(name="coalescing", owner=owner), "reference:read reference:write")
    gallium = Mineral.objects.get(slug="gallium")
    wait_until(lambda: _current(gallium), what="initial state")
    before = _state(gallium).recompute_count

    def edit(quantity: float) -> None:
        row = {"mineral": "gallium", "stage": "refinery", "country": "CHN", "year": 2024, "quantity": quantity,
               "unit": "kg", "is_estimate": True, "source": "usgs-mcs-2025"}  # fmt: skip
        request = urllib.request.Request(  # noqa: S310 - http to the live test server
            f"{live_server.url}/api/v1/production/bulk/",
            data=json.dumps([row]).encode(),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - the live test server
            assert response.status == 200

    started = time.monotonic()
    for i in range(EDITS):
        edit(700_000 + i)  # each request commits on its own
    burst = time.monotonic() - started
    wait_until(lambda: _current(gallium), timeout=60, what="gallium metrics current after the burst")
    # A trailing follow-up run, if any, is counted: once nothing is scheduled, running or to follow.
    wait_until(lambda: recompute_settled("mineral", gallium.pk), timeout=60, what="no gallium recompute pending")
    recomputes = _state(gallium).recompute_count - before
    print(f"{EDITS} HTTP edits in {burst:.1f} s -> {recomputes} recomputes")
    assert 1 <= recomputes <= 5
    row = SupplyMetric.objects.get(mineral=gallium, stage="refinery", year=2024)
    assert row.china_share == pytest.approx((700_000 + EDITS - 1) / 760_000)
    assert row.data_version == Mineral.objects.get(pk=gallium.pk).data_version
