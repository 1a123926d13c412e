"""The migrations build the schema the models describe (a fresh database runs the squashes:
docs/operations.md, "Upgrades and migrations")."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.db import connection

pytestmark = pytest.mark.django_db


def test_models_and_migrations_agree(capsys: pytest.CaptureFixture[str]) -> None:
    # A model change without its migration would leave deployed databases on the old schema.
    try:
        call_command("makemigrations", "--check", "--dry-run", verbosity=1)
    except SystemExit as exit_:
        pytest.fail(f"makemigrations would write a migration (exit {exit_.code}):\n{capsys.readouterr().out}")
    assert "No changes detected" in capsys.readouterr().out


def test_importmetric_table_leaves_room_for_heap_only_updates(postgresql: None) -> None:
    # dashboards 0006 (and its squash) set it with a RunPython (PostgreSQL only): no model option says so.
    with connection.cursor() as cursor:
        cursor.execute("SELECT reloptions FROM pg_class WHERE relname = 'dashboards_importmetric'")
        (options,) = cursor.fetchone()
    assert options == ["fillfactor=45"]
