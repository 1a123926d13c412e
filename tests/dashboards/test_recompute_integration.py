"""The recompute path for real: PostgreSQL, Redis and a Celery worker (solo pool, own thread).

Edits go through the service layer and commit; the signal enqueues through the real broker.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from dashboards import tasks
from dashboards.models import MineralMetricsState, SupplyMetric
from minerals import services as reference
from minerals.models import Mineral, ProductionRecord
from tests.dashboards.conftest import use_broker

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def _gallium() -> Mineral:
    return Mineral.objects.get(slug="gallium")


def _china_2024() -> ProductionRecord:
    return ProductionRecord.objects.get(mineral__slug="gallium", stage="refinery", country_id="CHN", year=2024)


def _current(mineral: Mineral) -> Callable[[], bool]:
    def check() -> bool:
        state = MineralMetricsState.objects.filter(mineral=mineral).first()
        return state is not None and state.data_version >= Mineral.objects.get(pk=mineral.pk).data_version

    return check


def _edit(quantity: float) -> None:
    record = _china_2024()
    record.quantity = quantity
    reference.record_save(instance=record)


def test_an_edit_updates_the_metric_within_seconds(celery_worker: Any, demo: None, wait_until: Any) -> None:
    _edit(720_000)
    took = wait_until(_current(_gallium()), timeout=10, what="gallium metrics current")
    row = SupplyMetric.objects.get(mineral__slug="gallium", stage="refinery", year=2024)
    assert row.china_share == pytest.approx(720_000 / 760_000)
    assert took < 5


def test_a_thousand_edits_coalesce_into_a_handful_of_recomputes(
    celery_worker: Any, demo: None, wait_until: Any, settings: Any
) -> None:
    settings.LODESTONE_RECOMPUTE_COUNTDOWN = 2.0  # the production default
    gallium = _gallium()
    wait_until(_current(gallium), what="initial state")
    before = MineralMetricsState.objects.get(mineral=gallium).recompute_count
    started = time.monotonic()
    for i in range(1000):
        _edit(700_000 + i)  # each one commits on its own
    burst = time.monotonic() - started
    wait_until(_current(gallium), timeout=30, what="gallium metrics current after the burst")
    recomputes = MineralMetricsState.objects.get(mineral=gallium).recompute_count - before
    print(f"1000 edits in {burst:.1f} s -> {recomputes} recomputes")
    # One run per countdown window while edits keep coming, plus the final one.
    assert 1 <= recomputes <= max(5, int(burst / 2.0) + 3)
    row = SupplyMetric.objects.get(mineral=gallium, stage="refinery", year=2024)
    assert row.china_share == 700_999 / 760_000
    assert row.data_version == Mineral.objects.get(pk=gallium.pk).data_version


def test_dead_broker_edit_commits_at_once_and_the_sweep_repairs(
    celery_worker: Any, demo: None, wait_until: Any, test_redis_url: str
) -> None:
    from config.celery import app

    gallium = _gallium()
    wait_until(_current(gallium), what="initial state")
    use_broker(app, "redis://127.0.0.1:1/0")  # nothing listens on port 1
    try:
        started = time.monotonic()
        _edit(710_000)  # must neither raise nor hang
        took = time.monotonic() - started
    finally:
        use_broker(app, test_redis_url)
    assert took < 2.0
    assert _china_2024().quantity == 710_000  # committed
    time.sleep(1.0)
    assert not _current(gallium)()  # stale: nothing was enqueued

    tasks.sweep_stale.delay()  # the beat's job, through the real broker and worker
    wait_until(_current(gallium), timeout=15, what="gallium current after the sweep")
    row = SupplyMetric.objects.get(mineral=gallium, stage="refinery", year=2024)
    assert row.china_share == pytest.approx(710_000 / 760_000)


def test_duplicate_delivery_changes_nothing(celery_worker: Any, demo: None, wait_until: Any) -> None:
    gallium = _gallium()
    _edit(705_000)
    wait_until(_current(gallium), what="gallium current")
    time.sleep(0.5)  # let any trailing run finish
    state = MineralMetricsState.objects.get(mineral=gallium)
    row = SupplyMetric.objects.get(mineral=gallium, stage="refinery", year=2024)
    for _ in range(2):
        tasks.recompute_mineral.apply_async(args=(gallium.pk,))  # the same message delivered twice
    time.sleep(1.5)
    again = MineralMetricsState.objects.get(mineral=gallium)
    assert (again.recompute_count, again.computed_at) == (state.recompute_count, state.computed_at)
    assert SupplyMetric.objects.get(pk=row.pk).computed_at == row.computed_at
