"""Risk-engine fixtures: a real Celery worker on its own Redis database for integration tests."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis

# Integration tests use the xdist worker's own Redis database (15, 14, ...; tests/conftest.py) for
# the broker and the pending keys, flushed before and after, so they never touch the development
# queue (database 0) nor another worker's.
from tests.conftest import TEST_KEY_PREFIX, TEST_REDIS_DB, redis_db_url


def use_broker(app: Any, url: str) -> None:
    """Point the app's publisher at another broker: forget the cached pools (not closed: the
    running worker thread may still hold them)."""
    app.conf.broker_url = url
    app._pool = None
    app.amqp._producer_pool = None


def recompute_settled(kind: str, object_id: int) -> bool:
    """No recompute of the object scheduled or running, and none to follow: its pending key is gone
    (a run deletes it last, dashboards/tasks.py) and so is its dirty key (an edit since the last
    run started, which makes the run end by scheduling a follow-up, or publishes a new run)."""
    from dashboards.tasks import pending_client, pending_key

    client = pending_client()
    assert client is not None, "the recompute's pending keys need Redis (LODESTONE_RECOMPUTE_REDIS_URL)"
    key = pending_key(kind, object_id)
    return not client.exists(key, f"{key}:dirty")


@pytest.fixture
def test_redis_url(redis_url: str) -> Iterator[str]:
    url = redis_db_url(redis_url, TEST_REDIS_DB)
    client = redis.Redis.from_url(url)
    client.flushdb()
    yield url
    client.flushdb()


@pytest.fixture
def real_broker(test_redis_url: str, postgresql: None, settings: Any, celery_eager: Any) -> Iterator[Any]:
    """This process publishes through the test Redis database (no eager tasks), with the
    recompute's pending keys there too; yields the Celery app."""
    import dashboards.tasks  # noqa: F401  (registers the tasks)

    app = celery_eager
    settings.LODESTONE_RECOMPUTE_REDIS_URL = test_redis_url
    settings.LODESTONE_RECOMPUTE_KEY_PREFIX = TEST_KEY_PREFIX
    settings.LODESTONE_RECOMPUTE_COUNTDOWN = 0.3
    app.conf.task_always_eager = False
    use_broker(app, test_redis_url)
    try:
        yield app
    finally:
        app.conf.task_always_eager = True
        use_broker(app, test_redis_url)


@pytest.fixture
def celery_worker(real_broker: Any) -> Iterator[Any]:
    """A real worker thread (solo pool) consuming from the test Redis database."""
    from celery.contrib.testing.worker import start_worker

    with start_worker(real_broker, pool="solo", perform_ping_check=False, shutdown_timeout=30) as worker:
        yield worker


@pytest.fixture
def wait_until() -> Callable[..., float]:
    """Poll a condition; return the seconds it took, fail after `timeout`."""

    def wait(condition: Callable[[], bool], *, timeout: float = 15.0, what: str = "condition") -> float:
        started = time.monotonic()
        while not condition():
            if time.monotonic() - started > timeout:
                pytest.fail(f"{what} not reached within {timeout} s")
            time.sleep(0.05)
        return time.monotonic() - started

    return wait


@pytest.fixture
def private_page_cache(settings: Any) -> Iterator[Any]:
    """A private in-memory cache per test: a rolled-back test must not leave pages behind, and
    clearing must never flush a shared Redis."""
    from django.core.cache import cache

    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "views"}}
    cache.clear()
    yield cache
    cache.clear()


@pytest.fixture
def metrics(demo: Any) -> None:
    """Every metric current (synchronously, as `recompute_metrics --sync` does)."""
    from dashboards import services

    list(services.all_metrics_recompute())


@pytest.fixture
def buyer(django_user_model: Any, metrics: None) -> Any:
    """An analyst of the fictional Demo Buyer Inc., every metric current."""
    from suppliers import services as supplier_services
    from suppliers.models import Organization

    user = django_user_model.objects.create_user("buyer-test", password="pw-buyer-test-123")
    organization = Organization.objects.get(name="Demo Buyer Inc.")
    supplier_services.membership_grant(user=user, organization=organization, role="analyst")
    return user


@pytest.fixture
def buyer_client(client: Any, buyer: Any) -> Any:
    client.force_login(buyer)
    return client
