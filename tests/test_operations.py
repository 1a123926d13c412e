"""What an operator relies on: seeding is explicit and safe, the commands say what they do, and
each fault of docs/operations.md behaves as that page says."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.test import override_settings

pytestmark = pytest.mark.django_db


def test_seed_demo_with_logins_is_refused_unless_debug_is_on(demo: None) -> None:
    # pytest-django runs tests with DEBUG off, as production is.
    with pytest.raises(CommandError, match="only with DEBUG on"):
        call_command("seed_demo", "--with-logins")
    assert not get_user_model().objects.filter(username__in=["demo", "curator"]).exists()


@override_settings(DEBUG=True)
def test_seed_demo_with_logins_under_debug_on_sqlite(demo: None, capsys: pytest.CaptureFixture[str]) -> None:
    from django.conf import settings

    if not settings.DATABASES["default"]["ENGINE"].endswith("sqlite3"):
        with pytest.raises(CommandError, match="embedded default"):
            call_command("seed_demo", "--with-logins")
        return
    call_command("seed_demo", "--with-logins")
    assert "demo login: demo / lodestone-demo" in capsys.readouterr().out
    assert get_user_model().objects.filter(username="demo").exists()
