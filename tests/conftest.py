"""Shared fixtures. In CI (CI=true) a missing service fails the run; locally it skips with a reason."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.conf import settings

IN_CI = os.environ.get("CI") == "true"
REPO = Path(__file__).resolve().parent.parent
# ../shared/data from the project root; LODESTONE_SHARED_DATA points elsewhere (a git worktree one level deeper).
SHARED_DATA = Path(os.environ.get("LODESTONE_SHARED_DATA") or REPO.parent / "shared" / "data")


def require(available: bool, what: str) -> None:
    """Fail in CI, skip elsewhere, when a real service or file the test needs is missing."""
    if available:
        return
    if IN_CI:
        pytest.fail(f"{what} is required in CI (CI=true) and is missing")
    pytest.skip(f"{what} is not available here; CI runs this test")


@pytest.fixture
def shared_data() -> Path:
    require(SHARED_DATA.is_dir(), f"the shared data folder {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture
def postgresql() -> None:
    require(settings.DATABASES["default"]["ENGINE"].endswith("postgresql"), "PostgreSQL (DATABASE_URL)")


@pytest.fixture
def redis_url() -> str:
    import redis

    url = settings.REDIS_URL or os.environ.get("REDIS_URL", "")
    ok = False
    if url:
        try:
            ok = bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
        except redis.RedisError:
            ok = False
    require(ok, f"Redis ({url or 'REDIS_URL unset'})")
    return url


@pytest.fixture
def curator(django_user_model):  # type: ignore[no-untyped-def]
    return django_user_model.objects.create_user(
        "curator-test", password="pw-curator-test", is_staff=True, is_superuser=True
    )


@pytest.fixture
def curator_client(client, curator):  # type: ignore[no-untyped-def]
    client.force_login(curator)
    return client


@pytest.fixture(scope="session", autouse=True)
def celery_eager():  # type: ignore[no-untyped-def]
    """Ordinary tests run Celery tasks in-process (eager), so nothing reaches the real Redis even
    in CI, where REDIS_URL (hence the broker) is set for the whole suite. Integration tests
    switch to a real worker on their own Redis database (tests/dashboards/conftest.py)."""
    from config.celery import app

    app.conf.task_always_eager = True
    return app


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker, celery_eager):  # type: ignore[no-untyped-def]
    """Every test database starts with the demo dataset: loaded once, kept by rolled-back tests."""
    from suppliers.demo_dataset import demo_dataset_load

    with django_db_blocker.unblock():
        demo_dataset_load()


@pytest.fixture
def demo(db):  # type: ignore[no-untyped-def]
    """The demo dataset, reloaded when a transactional test before this one flushed the database."""
    from minerals.models import PolicyMeasure
    from suppliers.demo_dataset import demo_dataset_load

    if not PolicyMeasure.objects.exists():
        demo_dataset_load()
