"""Production settings are safe: check --deploy is clean, and a weak secret stops start-up."""

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
STRONG_KEY = "k7#Qz!9vR2@mW5^tY8&uI1*oP4(aS6)dF3_gH0+jL-xCvBnM,.;"


def manage(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    # The production environment only: not the test run's own switches (browser tests allow async-unsafe).
    unset = {"DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "DATABASE_URL", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    base = {k: v for k, v in os.environ.items() if k not in unset}
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=REPO, env={**base, **env}, capture_output=True, text=True, timeout=120
    )


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

        assert settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"


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
