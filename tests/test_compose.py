"""docker-compose.yml, the Dockerfile and their env file, read as an operator would follow them
(docker is not available to the tests: the files are parsed, and the settings they produce are
loaded by manage.py)."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
STATIC_ROOT_IN_IMAGE = "/app/var/staticfiles"
LONG_RUNNING = {"web", "worker", "beat", "db", "redis"}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((REPO / "docker-compose.yml").read_text())


def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


def env_file_values(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.partition("=")
            values[name.strip()] = value.strip()
    return values


def mounts(service: dict[str, Any]) -> dict[str, str]:
    """Container path -> volume name."""
    return {entry.split(":")[1]: entry.split(":")[0] for entry in service.get("volumes", [])}


def test_uploads_are_on_a_volume_shared_by_web_and_worker_apart_from_static_files(compose):
    web, worker = services(compose)["web"], services(compose)["worker"]
    upload_dir = web["environment"]["LODESTONE_IMPORT_UPLOAD_DIR"]
    assert worker["environment"]["LODESTONE_IMPORT_UPLOAD_DIR"] == upload_dir
    shared = [
        path for path, volume in mounts(web).items()
        if upload_dir.startswith(path.rstrip("/") + "/") and mounts(worker).get(path) == volume
    ]  # fmt: skip
    assert shared, f"{upload_dir} is not on a volume mounted in both web and worker"
    for path in mounts(web) | mounts(worker):
        assert not STATIC_ROOT_IN_IMAGE.startswith(path.rstrip("/") + "/"), f"{path} would hide the static files"
    assert set(mounts(web).values()) <= set(compose["volumes"])


def test_no_seeding_on_start_and_one_migration_before_web_worker_and_beat(compose):
    for name, service in services(compose).items():
        assert "seed_demo" not in str(service.get("command", "")), name
    migrate = services(compose)["migrate"]
    assert "migrate" in str(migrate["command"])
    assert migrate["restart"] == "no"
    for name in ("web", "worker", "beat"):
        command = str(services(compose)[name]["command"])
        assert "migrate" not in command, name
        assert services(compose)[name]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
    assert "migrate" not in migrate["depends_on"]


def test_every_long_running_service_restarts_and_has_a_health_check(compose):
    assert set(services(compose)) == LONG_RUNNING | {"migrate"}
    for name in LONG_RUNNING:
        service = services(compose)[name]
        assert service.get("restart") in {"unless-stopped", "always"}, name
        assert service.get("healthcheck", {}).get("test"), name
    assert services(compose)["beat"]["healthcheck"]["test"][-3:] == ["-m", "config.healthcheck", "beat"]


def test_redis_keeps_its_append_only_data_and_evicts_only_expiring_keys(compose):
    redis = services(compose)["redis"]
    command = [str(part) for part in redis["command"]]
    assert command[command.index("--appendonly") + 1] == "yes"
    assert mounts(redis).get("/data") in compose["volumes"]
    assert command[command.index("--maxmemory-policy") + 1] == "volatile-lru"
    assert re.fullmatch(r"\d+mb", command[command.index("--maxmemory") + 1])


def test_cache_and_broker_are_different_redis_databases(compose):
    environment = services(compose)["web"]["environment"]
    assert environment["CACHE_REDIS_URL"] != environment["CELERY_BROKER_URL"]
    assert environment["CACHE_REDIS_URL"].rsplit("/", 1)[0] == environment["CELERY_BROKER_URL"].rsplit("/", 1)[0]


def test_compose_reads_its_own_env_file_never_dot_env(compose):
    for name in ("migrate", "web", "worker", "beat"):
        assert services(compose)[name]["env_file"] == ".env.compose", name
    assert (REPO / ".env.compose.example").is_file()
    assert ".env.compose" in (REPO / ".gitignore").read_text().split()


def test_docker_build_context_leaves_out_venv_var_env_files_and_git():
    ignored = {line.strip() for line in (REPO / ".dockerignore").read_text().splitlines()}
    assert {".venv", "var", ".env", ".env.*", ".git"} <= ignored
    dockerfile = (REPO / "Dockerfile").read_text()
    assert "COPY . ." in dockerfile
    assert "SECRET_KEY=collectstatic" not in dockerfile  # no fixed key in the image recipe


def compose_settings(compose: dict[str, Any], **overrides: str) -> subprocess.CompletedProcess[str]:
    """manage.py with the environment a compose container gets (env file, then `environment:`),
    on SQLite instead of the db service (no network here)."""
    environment = {
        **env_file_values(REPO / ".env.compose.example"),
        **services(compose)["web"]["environment"],
        "DATABASE_URL": "sqlite:////tmp/lodestone-compose-check.sqlite3",
        **overrides,
    }
    base = {k: v for k, v in os.environ.items() if k not in {"PYTEST_VERSION", "DEBUG", "DJANGO_ALLOW_ASYNC_UNSAFE"}}
    # The image has run collectstatic; here static files are served unhashed.
    code = (
        "from django.conf import settings as s; from django.test import Client, override_settings; "
        "storages = {**s.STORAGES, 'staticfiles': "
        "{'BACKEND': 'django.contrib.staticfiles.storage.StaticFilesStorage'}}; "
        "r = override_settings(STORAGES=storages)(Client().get)('/accounts/login/', HTTP_HOST='localhost:8000'); "
        "print(s.DEBUG, s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS, s.SESSION_COOKIE_SECURE, "
        "s.CSRF_COOKIE_SECURE, r.status_code)"
    )
    return subprocess.run(
        [sys.executable, "manage.py", "shell", "-v", "0", "-c", code],
        cwd=REPO, env={**base, **environment}, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_the_example_env_file_runs_a_plain_http_trial_on_localhost(compose):
    """README's recipe: copy the example, set a key, open http://localhost:8000/."""
    result = compose_settings(compose, SECRET_KEY=secrets.token_urlsafe(50))
    assert result.returncode == 0, result.stderr[-3000:]
    # Production mode, no HTTPS redirect, no HSTS, cookies usable over HTTP, and localhost
    # answers (not 400 DisallowedHost).
    assert result.stdout.split()[-6:] == ["False", "False", "0", "False", "False", "200"]


def test_the_example_env_file_placeholder_key_is_refused(compose):
    result = compose_settings(compose)
    assert result.returncode != 0
    assert "SECRET_KEY is a placeholder published in the repository" in result.stderr
