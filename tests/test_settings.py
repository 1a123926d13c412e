"""Production settings are safe: check --deploy is clean, and a weak secret stops start-up."""

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from config.secret_key import secret_key_problem

REPO = Path(__file__).resolve().parent.parent
# Made per run: any key written in the repository is public, and production refuses it.
STRONG_KEY = secrets.token_urlsafe(50)


def manage(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    # The production environment only: not the test run's own switches (browser tests allow
    # async-unsafe; pytest's PYTEST_VERSION turns the development defaults on).
    unset = {"DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "DATABASE_URL", "DJANGO_ALLOW_ASYNC_UNSAFE", "PYTEST_VERSION"}
    base = {k: v for k, v in os.environ.items() if k not in unset}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=env.pop("cwd", REPO),
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def setting(name: str, **env: str) -> str:
    result = manage("shell", "-c", f"from django.conf import settings; print(repr(settings.{name}))", **env)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


def test_check_deploy_is_clean_with_production_settings():
    result = manage(
        "check", "--deploy", "--fail-level", "WARNING",
        DEBUG="false", SECRET_KEY=STRONG_KEY, ALLOWED_HOSTS="lodestone.example.org",
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def test_missing_secret_key_is_a_clear_start_up_error():
    result = manage("check", DEBUG="false", ALLOWED_HOSTS="lodestone.example.org")
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_weak_secret_key_is_refused():
    result = manage("check", DEBUG="false", SECRET_KEY="short", ALLOWED_HOSTS="lodestone.example.org")
    assert result.returncode != 0
    assert "SECRET_KEY is too weak" in result.stderr


def test_ci_runs_on_postgresql():
    """CI must exercise the production database, never fall back to SQLite."""
    if os.environ.get("CI") == "true":
        from django.conf import settings

        assert settings.DATABASES["default"]["ENGINE"] == "config.postgresql"  # PostgreSQL, its health check a poll


def test_settings_are_defined_once_each():
    """Grouped by topic: no setting is assigned twice (a later block silently overriding an earlier one)."""
    import ast

    tree = ast.parse((REPO / "config" / "settings.py").read_text())
    names = [t.id for node in tree.body if isinstance(node, ast.Assign | ast.AnnAssign)
             for t in (node.targets if isinstance(node, ast.Assign) else [node.target])
             if isinstance(t, ast.Name) and t.id.isupper()]  # fmt: skip
    assert sorted({n for n in names if names.count(n) > 1}) == []


def test_a_too_small_upload_memory_size_is_refused_not_floored():
    result = manage("check", DEBUG="true", DATA_UPLOAD_MAX_MEMORY_SIZE="1048576")
    assert result.returncode != 0
    assert "DATA_UPLOAD_MAX_MEMORY_SIZE='1048576': must be at least 8388608" in result.stderr


def test_a_number_that_is_not_a_number_names_its_variable():
    result = manage("check", DEBUG="true", CELERY_TASK_TIME_LIMIT="5min")
    assert result.returncode != 0
    assert "CELERY_TASK_TIME_LIMIT='5min': expected a whole number" in result.stderr


def test_debug_is_off_unless_the_environment_turns_it_on():
    """A deployment that forgets DEBUG gets production behaviour (and must then set a key): under
    gunicorn (config.wsgi) always, and under manage.py once a database or a key is configured.
    Only a bare manage.py with nothing configured is the embedded default, as under make run."""
    deployment = {"ALLOWED_HOSTS": "lodestone.example.org", "DATABASE_URL": "postgres://lodestone@127.0.0.1/lodestone"}
    result = manage("check", **deployment)
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr
    wsgi = subprocess.run(
        [sys.executable, "-c", "import config.wsgi"],
        cwd=REPO,
        env={k: v for k, v in os.environ.items() if k not in {"DEBUG", "SECRET_KEY", "DATABASE_URL", "PYTEST_VERSION"}},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert wsgi.returncode != 0
    assert "SECRET_KEY must be set" in wsgi.stderr
    assert setting("DEBUG") == "True"  # nothing configured: the embedded development default
    assert setting("DEBUG", SECRET_KEY=STRONG_KEY, ALLOWED_HOSTS="lodestone.example.org") == "False"
    assert setting("DEBUG", DEBUG="true") == "True"


def test_a_misspelt_boolean_stops_start_up():
    result = manage("check", DEBUG="flase")
    assert result.returncode != 0
    assert "DEBUG='flase': expected true or false" in result.stderr


def test_makefile_run_turns_debug_on_for_the_development_server():
    makefile = (REPO / "Makefile").read_text()
    assert "setup run worker beat: export DEBUG ?= true" in makefile


def test_a_test_client_never_indexes_the_static_files_make_run_collected():
    """`make run` collects into var/staticfiles; whitenoise indexes STATIC_ROOT each time a test
    client loads the middleware, so a checkout that had run `make run` ran the API tests 4x
    slower. Under pytest the root is the tests' own, empty unless a test collects into it."""
    from django.conf import settings
    from django.test import Client
    from whitenoise.middleware import WhiteNoiseMiddleware

    assert settings.STATIC_ROOT != settings.VAR_DIR / "staticfiles"
    assert not any(Path(settings.STATIC_ROOT).rglob("*"))
    indexed = WhiteNoiseMiddleware(lambda request: None).files
    assert indexed == {}
    assert Client().get("/static/css/lodestone.css").status_code == 404  # nothing collected is served


def test_a_dot_env_file_in_the_checkout_changes_nothing(tmp_path):
    """`cp .env.example .env` (once the compose recipe) must not turn `make run` to PostgreSQL."""
    for entry in REPO.iterdir():
        if entry.name not in {"config", "manage.py", "var", ".env", ".git"}:
            (tmp_path / entry.name).symlink_to(entry)
    # Real copies of manage.py (Python puts the real directory of the script on sys.path) and
    # config/, so settings.BASE_DIR (from its own path) is the scratch checkout.
    (tmp_path / "manage.py").write_text((REPO / "manage.py").read_text())
    (tmp_path / "config").mkdir()
    for source in (REPO / "config").glob("*.py"):
        (tmp_path / "config" / source.name).write_text(source.read_text())
    (tmp_path / ".env").write_text(
        "DEBUG=false\nDATABASE_URL=postgres://lodestone:lodestone@127.0.0.1:5432/lodestone\n"
    )
    engine = setting("DATABASES['default']['ENGINE']", DEBUG="true", cwd=str(tmp_path))
    assert engine == "'django.db.backends.sqlite3'"
    assert setting("BASE_DIR", DEBUG="true", cwd=str(tmp_path)) == repr(tmp_path)


def repository_secret_keys() -> set[str]:
    tracked = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout.split()
    keys = set()
    for name in tracked:
        path = REPO / name
        if not path.is_file() or path.suffix in {".png", ".xlsx", ".zip", ".gz"}:
            continue
        text = path.read_text(errors="ignore")
        for match in re.finditer(r"SECRET_KEY\w*\s*[=:]\s*[\"']?([^\s\"'`\\)]+)", text):
            if not match.group(1).startswith("$"):  # a shell substitution, not a key
                keys.add(match.group(1))
    return keys


def test_every_secret_key_written_in_the_repository_is_refused():
    keys = repository_secret_keys()
    assert any("change-me" in key for key in keys), keys  # the scan sees .env.example's placeholder
    assert {key: secret_key_problem(key) for key in keys if secret_key_problem(key) is None} == {}


def test_the_example_placeholder_key_stops_start_up_and_check_deploy():
    example = (REPO / ".env.example").read_text()
    placeholder = re.search(r"^SECRET_KEY=(.+)$", example, re.MULTILINE).group(1)  # type: ignore[union-attr]
    result = manage("check", "--deploy", DEBUG="false", SECRET_KEY=placeholder, ALLOWED_HOSTS="lodestone.example.org")
    assert result.returncode != 0
    assert "SECRET_KEY is a placeholder published in the repository" in result.stderr


def celery(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    unset = {"REDIS_URL", "CELERY_BROKER_URL", "PYTEST_VERSION"}
    base = {k: v for k, v in os.environ.items() if k not in unset}
    try:
        return subprocess.run(
            [sys.executable, "-m", "celery", "-A", "config", *args],
            cwd=REPO, env={**base, **env}, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    except subprocess.TimeoutExpired as exc:  # still running: it found a broker to talk to
        raise AssertionError(f"celery {args} did not refuse to start: {exc.stderr!r}") from None


def test_worker_and_beat_refuse_to_start_without_a_broker():
    """`make worker` / `make beat` with nothing configured: a clear message, never amqp://localhost."""
    for command in (["worker", "--concurrency=1"], ["beat"]):
        result = celery(*command, "--loglevel=INFO", DEBUG="true")
        assert result.returncode == 1, result.stderr[-2000:]
        assert "No broker configured: set CELERY_BROKER_URL or REDIS_URL" in result.stderr
        assert "amqp://" not in result.stderr


def test_the_page_cache_gets_its_own_redis_database_never_the_brokers():
    assert setting("CACHES['default']['LOCATION']", DEBUG="true", REDIS_URL="redis://redis:6379/0") == repr(
        "redis://redis:6379/1"
    )
    result = manage("check", DEBUG="true", REDIS_URL="redis://redis:6379/0", CACHE_REDIS_URL="redis://redis:6379/0")
    assert result.returncode != 0
    assert "is the broker's Redis database" in result.stderr


def test_the_redis_cache_keeps_one_client_per_pool_and_still_reads_and_writes(redis_url):  # type: ignore[no-untyped-def]
    """config.cache: one redis-py client per connection pool, not one per cache call (building
    one cost more than the rest of a stored answer), shared by threads."""
    from concurrent.futures import ThreadPoolExecutor

    from config.cache import KeptClientRedisCache

    cache = KeptClientRedisCache(redis_url, {"KEY_PREFIX": f"kept-client-{secrets.token_hex(4)}"})
    client = cache._cache.get_client(write=True)
    assert cache._cache.get_client(write=True) is client
    assert cache._cache.get_client() is client  # one server: reads and writes share its pool

    def round_trip(n: int) -> int:
        cache.set(f"k{n}", n, timeout=30)
        assert cache._cache.get_client() is client
        return int(cache.get(f"k{n}"))

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert list(pool.map(round_trip, range(64))) == list(range(64))
    assert cache.get_many(["k1", "k2", "missing"]) == {"k1": 1, "k2": 2}
    cache.delete_many([f"k{n}" for n in range(64)])


def test_a_django_log_line_is_printed_once():
    code = (
        "import django, logging; django.setup(); "
        "logging.getLogger('django.request').warning('probe-django'); "
        "logging.getLogger('dashboards.tasks').warning('probe-app')"
    )
    base = {k: v for k, v in os.environ.items() if k != "PYTEST_VERSION"}
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120,
        env={**base, "DEBUG": "true", "DJANGO_SETTINGS_MODULE": "config.settings"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("probe-django") == 1, result.stderr
    assert result.stderr.count("probe-app") == 1, result.stderr


# --- Login lockout and password change ---------------------------------------------------------


def wrong_logins(client, username: str, times: int, **address: str) -> None:  # type: ignore[no-untyped-def]
    for _ in range(times):
        client.post("/accounts/login/", {"username": username, "password": "wrong-password"}, **address)


def logs_in(client, username: str, **address: str) -> bool:  # type: ignore[no-untyped-def]
    client.logout()
    response = client.post("/accounts/login/", {"username": username, "password": "right-password-1"}, **address)
    return response.status_code == 302


@pytest.fixture
def accounts(django_user_model):  # type: ignore[no-untyped-def]
    return [django_user_model.objects.create_user(name, password="right-password-1") for name in ("ann", "bob")]


@pytest.mark.django_db
def test_lockout_is_per_account_and_client_address(client, accounts, settings):  # type: ignore[no-untyped-def]
    settings.AXES_FAILURE_LIMIT = 3
    wrong_logins(client, "ann", 3, REMOTE_ADDR="198.51.100.7")
    assert not logs_in(client, "ann", REMOTE_ADDR="198.51.100.7")  # locked where the attempts came from
    assert logs_in(client, "ann", REMOTE_ADDR="203.0.113.9")  # the same account elsewhere
    assert logs_in(client, "bob", REMOTE_ADDR="198.51.100.7")  # another account from there


@pytest.mark.django_db
def test_behind_the_tls_proxy_the_lockout_reads_the_client_address_the_proxy_appended(client, accounts, settings):  # type: ignore[no-untyped-def]
    settings.AXES_FAILURE_LIMIT = 3
    settings.LODESTONE_TRUSTED_PROXY_COUNT = 1
    proxy = {"REMOTE_ADDR": "10.0.0.2"}  # every request arrives from the proxy
    # The attacker also forges a left-hand X-Forwarded-For entry: ignored.
    wrong_logins(client, "ann", 3, HTTP_X_FORWARDED_FOR="192.0.2.1, 198.51.100.7", **proxy)
    assert not logs_in(client, "ann", HTTP_X_FORWARDED_FOR="198.51.100.7", **proxy)
    assert logs_in(client, "ann", HTTP_X_FORWARDED_FOR="203.0.113.9", **proxy)


@pytest.mark.django_db
def test_without_a_trusted_proxy_a_forged_forwarded_for_header_changes_nothing(client, accounts, settings):  # type: ignore[no-untyped-def]
    settings.AXES_FAILURE_LIMIT = 3
    for n in range(3):
        wrong_logins(client, "ann", 1, REMOTE_ADDR="198.51.100.7", HTTP_X_FORWARDED_FOR=f"192.0.2.{n}")
    assert not logs_in(client, "ann", REMOTE_ADDR="198.51.100.7", HTTP_X_FORWARDED_FOR="192.0.2.99")


def test_lockout_settings_have_a_cool_off():
    from datetime import timedelta

    from django.conf import settings

    assert settings.AXES_LOCKOUT_PARAMETERS == [["username", "ip_address"]]
    assert timedelta(minutes=1) <= settings.AXES_COOLOFF_TIME <= timedelta(hours=24)
    assert settings.AXES_CLIENT_IP_CALLABLE == "config.accounts.client_ip"


@pytest.mark.django_db
def test_password_change_is_rate_limited_per_user(client, accounts, settings):  # type: ignore[no-untyped-def]
    from django.core.cache import cache

    cache.clear()
    settings.LODESTONE_PASSWORD_CHANGE_MAX_FAILURES = 3
    client.force_login(accounts[0])
    form = {"new_password1": "a-new-password-42", "new_password2": "a-new-password-42"}
    for _ in range(3):
        response = client.post("/accounts/password/", {**form, "old_password": "guess"})
        assert response.status_code == 200  # the form again, with its error
    response = client.post("/accounts/password/", {**form, "old_password": "right-password-1"})
    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= settings.LODESTONE_PASSWORD_CHANGE_WINDOW_SECONDS
    accounts[0].refresh_from_db()
    assert accounts[0].check_password("right-password-1")  # unchanged
    cache.clear()
    response = client.post("/accounts/password/", {**form, "old_password": "right-password-1"})
    assert response.status_code == 302


def test_typecheck_loads_the_settings_with_development_defaults():
    """mypy's django-stubs plugin imports the settings with no environment (`make typecheck`)."""
    code = "import mypy, os; os.environ['DJANGO_SETTINGS_MODULE'] = 'config.settings'; "
    code += "from django.conf import settings; print(settings.DEBUG)"
    unset = {"DEBUG", "SECRET_KEY", "PYTEST_VERSION"}
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120,
        env={k: v for k, v in os.environ.items() if k not in unset},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "True"
