"""The recompute path for real: PostgreSQL, Redis and a Celery worker (solo pool, own thread).

Edits go through the service layer and commit; the signal enqueues through the real broker.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from celery.signals import task_postrun
from django.conf import settings as dj_settings

from dashboards import tasks
from dashboards.models import MineralMetricsState, SupplyMetric
from minerals import services as reference
from minerals.models import Mineral, ProductionRecord
from tests.dashboards.conftest import recompute_settled, use_broker

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
    time.sleep(1.0)  # a run published despite the dead broker would have run (countdown 0.3 s) by now
    assert not _current(gallium)()  # stale: nothing was enqueued

    tasks.sweep_stale.delay()  # the beat's job, through the real broker and worker
    wait_until(_current(gallium), timeout=15, what="gallium current after the sweep")
    row = SupplyMetric.objects.get(mineral=gallium, stage="refinery", year=2024)
    assert row.china_share == pytest.approx(710_000 / 760_000)


def test_duplicate_delivery_changes_nothing(celery_worker: Any, demo: None, wait_until: Any) -> None:
    gallium = _gallium()
    _edit(705_000)
    wait_until(_current(gallium), what="gallium current")
    wait_until(lambda: recompute_settled("mineral", gallium.pk), what="no gallium recompute pending")
    state = MineralMetricsState.objects.get(mineral=gallium)
    row = SupplyMetric.objects.get(mineral=gallium, stage="refinery", year=2024)
    finished: set[str] = set()

    def count(sender: Any = None, task_id: str = "", **kwargs: Any) -> None:
        finished.add(task_id)  # the worker runs in this process (a thread): its signals are seen here

    task_postrun.connect(count, weak=False)
    try:
        sent = {tasks.recompute_mineral.apply_async(args=(gallium.pk,)).id for _ in range(2)}  # delivered twice
        wait_until(lambda: sent <= finished, what="both deliveries run by the worker")
    finally:
        task_postrun.disconnect(count)
    again = MineralMetricsState.objects.get(mineral=gallium)
    assert (again.recompute_count, again.computed_at) == (state.recompute_count, state.computed_at)
    assert SupplyMetric.objects.get(pk=row.pk).computed_at == row.computed_at


# --- A real worker process SIGKILLed mid-recompute (docs/operations.md, "Worker killed") -------------

# The worker as `celery -A config worker` starts it, with a broker visibility timeout of 3 s
# instead of 600 s (twice the task limit) so the redelivery of the killed worker's message is seen
# in seconds; everything else is the production configuration (acks_late, reject_on_worker_lost).
WORKER = (
    "import sys; from config.celery import app; "
    "app.conf.broker_transport_options = {'visibility_timeout': 3, 'unacked_restore_interval': 1}; "
    "app.worker_main(['worker', '--pool=solo', '--concurrency=1', '--loglevel=WARNING', '--without-heartbeat', "
    "'--without-gossip', '--without-mingle'])"
)


def _worker_process(test_redis_url: str, log: Any) -> Any:
    import os
    import subprocess
    import sys

    from django.db import connection

    from tests.conftest import TEST_KEY_PREFIX

    database = connection.settings_dict
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "PYTEST_VERSION", "PYTEST_XDIST_WORKER")},
        "DEBUG": "true",
        "DATABASE_URL": f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/{database['NAME']}",
        "CELERY_BROKER_URL": test_redis_url,
        "LODESTONE_RECOMPUTE_REDIS_URL": test_redis_url,
        "LODESTONE_RECOMPUTE_KEY_PREFIX": TEST_KEY_PREFIX,
        "LOG_LEVEL": "WARNING",
    }
    return subprocess.Popen(
        [sys.executable, "-c", WORKER],
        cwd=str(dj_settings.BASE_DIR),
        env=env,
        start_new_session=True,  # its own process group: SIGKILL reaches the worker and nothing else
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def test_a_worker_killed_mid_recompute_is_caught_up_by_the_next_one(
    demo: None, real_broker: Any, test_redis_url: str, wait_until: Any, tmp_path: Any
) -> None:
    """SIGKILL a real worker process while its recompute waits to write (a lock held by the test):
    nothing of the run is written, the message stays unacknowledged; a new worker gets it again and
    the metrics catch up to the exact result."""
    import os
    import signal

    import psycopg
    from django.db import connection

    gallium = _gallium()
    state_before = MineralMetricsState.objects.filter(mineral=gallium).values_list("data_version", flat=True).first()
    params = {k: v for k, v in connection.get_connection_params().items() if k != "cursor_factory"}
    workers: list[Any] = []
    log = (tmp_path / "workers.log").open("w")
    try:
        with psycopg.connect(**params) as locker, psycopg.connect(**params, autocommit=True) as watcher:
            # Writes to the supply metrics wait for this lock; reads do not.
            locker.execute("LOCK TABLE dashboards_supplymetric IN EXCLUSIVE MODE")
            _edit(712_345)  # commits; the recompute is published through the real broker
            workers.append(_worker_process(test_redis_url, log))

            def worker_waits_to_write() -> bool:
                # (autocommit: pg_stat_activity is a snapshot per transaction)
                waiting = watcher.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock' AND query ILIKE %s",
                    ["%dashboards_supplymetric%"],
                ).fetchone()
                return bool(waiting and waiting[0])

            wait_until(worker_waits_to_write, timeout=60, what="the worker's recompute waiting to write")
            os.killpg(workers[0].pid, signal.SIGKILL)
            workers[0].wait(timeout=10)
            locker.rollback()  # the lock goes; the killed worker's transaction is rolled back by the server
        time.sleep(0.5)
        assert not _current(gallium)()  # nothing of the killed run was written
        assert (
            MineralMetricsState.objects.filter(mineral=gallium).values_list("data_version", flat=True).first()
            == state_before
        )

        workers.append(_worker_process(test_redis_url, log))
        took = wait_until(_current(gallium), timeout=60, what="gallium current after a new worker started")
        print(f"caught up {took:.1f} s after the new worker started")
        row = SupplyMetric.objects.get(mineral=gallium, stage="refinery", year=2024)
        assert row.china_share == 712_345 / 760_000  # the exact result, as a full recompute gives it
        assert row.data_version == Mineral.objects.get(pk=gallium.pk).data_version
    finally:
        for process in workers:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        log.close()
        print((tmp_path / "workers.log").read_text()[-3000:])  # shown by pytest when the test fails
