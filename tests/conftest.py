"""Shared fixtures. In CI (CI=true) a missing service fails the run; locally it skips with a reason.

The suite runs in parallel with pytest-xdist (`-n 2`): each worker has a PostgreSQL test database
of its own (pytest-django suffixes the name with the worker id, e.g. `test_lodestone_ci_gw0`) and a
Redis database of its own (15 for the first worker, 14 for the second, ...) for the cache, the
recompute pending keys and, in the integration tests, the broker.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db.backends.signals import connection_created
from django.test import override_settings

IN_CI = os.environ.get("CI") == "true"
REPO = Path(__file__).resolve().parent.parent
# ../shared/data from the project root; LODESTONE_SHARED_DATA points elsewhere (a git worktree one level deeper).
SHARED_DATA = Path(os.environ.get("LODESTONE_SHARED_DATA") or REPO.parent / "shared" / "data")

XDIST_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")  # "gw0", "gw1", ... or "" without xdist
# The same for every xdist worker of one run.
TEST_RUN = os.environ.get("PYTEST_XDIST_TESTRUNUID") or uuid.uuid4().hex
WORKER_INDEX = int(XDIST_WORKER.removeprefix("gw")) if XDIST_WORKER.startswith("gw") else 0
# TEST_REDIS_TOP_DB moves the range down, so two checkouts testing at once on one Redis never share a database.
TEST_REDIS_DB = int(os.environ.get("TEST_REDIS_TOP_DB", "15")) - WORKER_INDEX
TEST_KEY_PREFIX = f"lodestone-test-{XDIST_WORKER or 'gw0'}:recompute"


def commit_without_waiting_for_the_disk(sender: Any, connection: Any, **kwargs: Any) -> None:
    """Test databases are thrown away, so a commit need not wait for its WAL record to reach the
    disk: 6 ms a commit on this machine, 0.3 ms without (the demo load, the integration and browser
    tests commit thousands of times). What other connections see, and when, is unchanged."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET synchronous_commit TO off")


connection_created.connect(commit_without_waiting_for_the_disk, dispatch_uid="tests-synchronous-commit-off")


def require(available: bool, what: str) -> None:
    """Fail in CI, skip elsewhere, when a real service or file the test needs is missing."""
    if available:
        return
    if IN_CI:
        pytest.fail(f"{what} is required in CI (CI=true) and is missing")
    pytest.skip(f"{what} is not available here; CI runs this test")


def redis_db_url(url: str, db: int) -> str:
    base = url.rsplit("/", 1)[0] if url.count("/") > 2 else url.rstrip("/")
    return f"{base}/{db}"


def on_postgresql() -> bool:
    return bool(settings.DATABASES["default"]["ENGINE"].endswith("postgresql"))


@pytest.fixture
def shared_data() -> Path:
    require(SHARED_DATA.is_dir(), f"the shared data folder {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture
def postgresql() -> None:
    require(on_postgresql(), "PostgreSQL (DATABASE_URL)")


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
def worker_redis() -> Iterator[None]:
    """With REDIS_URL set (CI), this worker's cache and recompute pending keys live in its own Redis
    database under its own prefix: parallel workers never see each other's cached pages, throttle
    counts or pending keys, and the development database (0) is left alone."""
    if not settings.REDIS_URL:
        yield
        return
    if TEST_REDIS_DB < 1:
        pytest.exit(f"at most 15 xdist workers share one Redis server here (worker {XDIST_WORKER})", returncode=4)
    url = redis_db_url(settings.REDIS_URL, TEST_REDIS_DB)
    overrides: dict[str, object] = {"REDIS_URL": url, "LODESTONE_RECOMPUTE_KEY_PREFIX": TEST_KEY_PREFIX}
    if settings.LODESTONE_RECOMPUTE_REDIS_URL:
        overrides["LODESTONE_RECOMPUTE_REDIS_URL"] = url
    if settings.CACHES["default"]["BACKEND"].endswith("RedisCache"):
        overrides["CACHES"] = {"default": {**settings.CACHES["default"], "LOCATION": url}}
    with override_settings(**overrides):
        yield


@pytest.fixture(scope="session", autouse=True)
def anonymous_pages_unlimited() -> Iterator[None]:
    """The suite makes thousands of anonymous page requests from one address (127.0.0.1) within
    minutes: the per-address limit of anonymous page views is off, except in its own tests
    (tests/test_security.py), which turn it on."""
    with override_settings(LODESTONE_ANONYMOUS_PAGE_VIEWS=0):
        yield


@pytest.fixture(scope="session", autouse=True)
def generation_from_the_database() -> Iterator[None]:
    """The data generation is read from the database on every request, as without Redis, so query
    counts are the same on SQLite and in CI (Redis): a test's writes commit only with its
    transaction, never, so the epoch renewed after each commit (dashboards/generation.py) would
    not move. The tests of the cached generation turn it on (tests/dashboards/test_views.py,
    tests/api/test_metrics_api.py)."""
    with override_settings(LODESTONE_GENERATION_CACHE_SECONDS=0):
        yield


@pytest.fixture(autouse=True)
def stored_responses_forgotten() -> None:
    """The stored answers, API tokens and data generation a process keeps in memory
    (config/stored_responses.py, dashboards/generation.py) depend on the data generation, which
    repeats when a test's transaction rolls back: every test starts without them, as it starts
    with an empty page cache."""
    from dashboards.generation import forget_kept
    from dashboards.page_cache import stored_clear
    from minerals.api.authentication import forget_tokens

    stored_clear()
    forget_tokens()
    forget_kept()


@pytest.fixture(scope="session", autouse=True)
def fast_password_hashing() -> Iterator[None]:
    """Passwords and OAuth client secrets are hashed with MD5 in tests, as Django's testing docs
    advise: PBKDF2 at Django's 1,000,000 iterations costs 0.26 s of CPU a hash here, and the
    fixtures make hundreds of users, logins and applications (the admin tests four hashes each).
    Passwords are still stored hashed and checked on login; the app's configured hashers
    (config/settings.py) are exercised end to end by tests/test_password_hashing.py."""
    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        yield


@pytest.fixture(scope="session", autouse=True)
def celery_eager():  # type: ignore[no-untyped-def]
    """Ordinary tests run Celery tasks in-process (eager), so nothing reaches the real Redis even
    in CI, where REDIS_URL (hence the broker) is set for the whole suite. Integration tests
    switch to a real worker on their own Redis database (tests/dashboards/conftest.py)."""
    from config.celery import app

    app.conf.task_always_eager = True
    return app


class DemoSnapshot:
    """The demo dataset as loaded once into this worker's test database, kept in memory per table
    (PostgreSQL: binary COPY data; SQLite: the rows). A transactional test (browser, integration)
    commits its writes; the next test that uses the database gets the demo back
    (pytest_runtest_setup below) by emptying every table and copying the rows in again (a fraction
    of a second) instead of loading demo/*.csv through the services again (seconds)."""

    tables: list[str] = []
    data: list[tuple[str, Any]] = []
    dirty = False  # a transactional test has committed writes since the last restore

    @classmethod
    def take(cls) -> None:
        from django.db import connection

        quote = connection.ops.quote_name
        cls.tables = sorted(connection.introspection.django_table_names(only_existing=True, include_views=False))
        cls.data = []
        with connection.cursor() as cursor:
            for table in cls.tables:
                if on_postgresql():
                    cursor.execute(f"SELECT EXISTS (SELECT 1 FROM {quote(table)})")
                    if cursor.fetchone()[0]:
                        with cursor.copy(f"COPY {quote(table)} TO STDOUT (FORMAT binary)") as copy:
                            cls.data.append((table, b"".join(bytes(block) for block in copy)))
                else:
                    cursor.execute(f"SELECT * FROM {quote(table)}")
                    rows = cursor.fetchall()
                    if rows:
                        cls.data.append((table, ([column[0] for column in cursor.description], rows)))

    @classmethod
    def restore(cls) -> None:
        """Replace every table's rows (whatever a transactional test committed) by the snapshot's.
        Sequences are left where they are, past every restored id; foreign keys (every one
        DEFERRABLE INITIALLY DEFERRED, none with an ON DELETE action) are checked at the commit,
        so the tables empty in any order.

        DELETE, not TRUNCATE: a TRUNCATE of the 108 tables (nearly 800 relations with their indexes
        and TOAST tables) gives each a new file and drops the old one at the commit, and PostgreSQL
        commits a transaction that drops files synchronously even with synchronous_commit off:
        1.4-2.9 s each under load here, against 0.1-0.2 s for the DELETEs of a few thousand rows."""
        from django.contrib.contenttypes.models import ContentType
        from django.db import connection, transaction

        quote = connection.ops.quote_name
        with transaction.atomic(), connection.cursor() as cursor:
            for table in cls.tables:
                cursor.execute(f"DELETE FROM {quote(table)}")
            if on_postgresql():
                for table, rows in cls.data:
                    with cursor.copy(f"COPY {quote(table)} FROM STDIN (FORMAT binary)") as copy:
                        copy.write(rows)
            else:
                for table, (columns, rows) in cls.data:
                    names = ", ".join(quote(column) for column in columns)
                    marks = ", ".join(["%s"] * len(columns))
                    cursor.executemany(f"INSERT INTO {quote(table)} ({names}) VALUES ({marks})", rows)
        ContentType.objects.clear_cache()


def _database_use(name: str) -> None:
    from django.db import connection

    connection.close()
    settings.DATABASES["default"]["NAME"] = connection.settings_dict["NAME"] = name


@pytest.fixture(scope="session")
def django_db_setup(request, django_test_environment, django_db_blocker, celery_eager):  # type: ignore[no-untyped-def]
    """Every test database starts with the demo dataset, kept by rolled-back tests and restored
    from a snapshot after a transactional test (DemoSnapshot).

    On PostgreSQL under xdist, the first worker to need a database migrates one and loads the demo
    (29 s quiet), and every worker, that one included, copies it (CREATE DATABASE ... TEMPLATE,
    about a second): what two workers each did at once is done once, while the other worker runs
    the tests that need no database (the order below puts them first in its half)."""
    import fcntl

    from django.db import connection
    from django.test.utils import setup_databases, teardown_databases

    from suppliers.demo_dataset import demo_dataset_load

    if not (on_postgresql() and XDIST_WORKER):
        request.getfixturevalue("django_db_modify_db_settings")
        keepdb = request.getfixturevalue("django_db_keepdb") and not request.getfixturevalue("django_db_createdb")
        with django_db_blocker.unblock():
            databases = setup_databases(verbosity=0, interactive=False, keepdb=keepdb)
            demo_dataset_load()
            DemoSnapshot.take()
        yield
        if not keepdb:
            with django_db_blocker.unblock():
                teardown_databases(databases, verbosity=0)
        return

    template = connection.creation._get_test_db_name()
    stamp = REPO / "var" / f"{template}.built"
    stamp.parent.mkdir(exist_ok=True)
    with django_db_blocker.unblock(), open(REPO / "var" / f"{template}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not stamp.exists() or stamp.read_text() != TEST_RUN:
            connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
            demo_dataset_load()
            stamp.write_text(TEST_RUN)
        _database_use(template)
        connection.creation.clone_test_db(suffix=XDIST_WORKER, verbosity=0, autoclobber=True)
        fcntl.flock(lock, fcntl.LOCK_UN)
        _database_use(f"{template}_{XDIST_WORKER}")
        DemoSnapshot.take()
    yield
    with django_db_blocker.unblock():
        _database_use(template)
        with connection._nodb_cursor() as cursor:
            clone = connection.ops.quote_name(f"{template}_{XDIST_WORKER}")
            # FORCE: a live server's thread may still hold a connection to it.
            cursor.execute(f"DROP DATABASE IF EXISTS {clone} WITH (FORCE)")


def pytest_sessionfinish(session: pytest.Session) -> None:
    """The xdist controller drops the workers' template database (django_db_setup) at the end."""
    if hasattr(session.config, "workerinput") or session.config.getoption("dist", "no") == "no":
        return
    if not on_postgresql():
        return
    from django.db import connection
    from pytest_django.plugin import blocking_manager_key

    with session.config.stash[blocking_manager_key].unblock(), connection._nodb_cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS {connection.ops.quote_name(connection.creation._get_test_db_name())}")


@pytest.fixture
def demo(db):  # type: ignore[no-untyped-def]
    """The demo dataset (tests/conftest.py keeps it in every test database, pytest_runtest_setup)."""
    from minerals.models import PolicyMeasure

    assert PolicyMeasure.objects.exists(), "the demo dataset is missing: was the database flushed by a test?"


# --------------------------------------------------------------------------------------------
# Scheduling: the two xdist workers finish together (`make test` runs them with --dist worksteal).


def uses_the_database(item: pytest.Item) -> bool:
    fixtures = set(getattr(item, "fixturenames", ()))
    return item.get_closest_marker("django_db") is not None or bool({"db", "transactional_db"} & fixtures)


@pytest.fixture(scope="session", autouse=True)
def transactional_writes_left_to_the_restore() -> Iterator[None]:
    """A transactional test (browser, integration; pytest-django runs it as Django's
    TransactionTestCase) ends without Django's flush: the next test that uses the database
    replaces every table's rows anyway (DemoSnapshot.restore, pytest_runtest_setup below), and the
    flush's TRUNCATE of every table cost 1.4-2.9 s a test under load (see restore), its post-migrate
    content types and permissions thrown away by that restore. A test that needs no database never
    sees the rows left behind: pytest-django blocks its queries."""
    from django.test import TransactionTestCase

    flush = TransactionTestCase._fixture_teardown

    def leave_to_the_restore(self: TransactionTestCase) -> None:
        DemoSnapshot.dirty = True

    TransactionTestCase._fixture_teardown = leave_to_the_restore  # type: ignore[method-assign]
    try:
        yield
    finally:
        TransactionTestCase._fixture_teardown = flush  # type: ignore[method-assign]


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """After a transactional test, the next test that uses the database first gets the demo
    back, committed: so tests may run in any order (the slow ones first, below), and the tests
    after it do not each copy the demo in again inside their own rolled-back transaction."""
    if DemoSnapshot.dirty and uses_the_database(item):
        from pytest_django.plugin import blocking_manager_key

        with item.config.stash[blocking_manager_key].unblock():
            DemoSnapshot.restore()
        DemoSnapshot.dirty = False


# The tests that take seconds to minutes (a real browser, a real worker, thousands of generated
# requests) start first. A worker that runs out of tests takes the other's last ones (worksteal),
# so when the slow ones start last one worker is left running them alone (160 s of 460 s measured).
SLOW_FIRST = ("browser", "integration", "slow")


@pytest.hookimpl(trylast=True)  # after pytest-django's own order (plain, transactional, no database)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The slow tests first; the tests that need no database start the second half, which is where
    xdist's worksteal starts the second worker: it runs them while the first builds the database."""

    def rank(item: pytest.Item) -> int:
        return next((i for i, name in enumerate(SLOW_FIRST) if item.get_closest_marker(name)), len(SLOW_FIRST))

    ranked = sorted(items, key=rank)
    slow = [item for item in ranked if rank(item) < len(SLOW_FIRST)]
    database = [item for item in ranked[len(slow) :] if uses_the_database(item)]
    no_database = [item for item in ranked[len(slow) :] if not uses_the_database(item)]
    first_half = max(0, len(items) // 2 - len(slow))
    items[:] = slow + database[:first_half] + no_database + database[first_half:]
