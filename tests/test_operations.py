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


def test_beat_health_check_follows_the_minute_sweep(demo: None) -> None:
    from datetime import timedelta

    from django.utils import timezone
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    from config.healthcheck import SWEEP_TASK, beat_problem, main

    every_minute, _ = IntervalSchedule.objects.get_or_create(every=60, period=IntervalSchedule.SECONDS)
    PeriodicTask.objects.filter(task=SWEEP_TASK).delete()
    assert "has not run" in (beat_problem() or "")
    sweep = PeriodicTask.objects.create(name="sweep", task=SWEEP_TASK, interval=every_minute)
    sweep.last_run_at = timezone.now() - timedelta(seconds=90)
    sweep.save()
    assert beat_problem() is None
    assert main(["healthcheck", "beat"]) == 0
    PeriodicTask.objects.filter(pk=sweep.pk).update(last_run_at=timezone.now() - timedelta(minutes=30))
    assert "last ran" in (beat_problem() or "")
    assert main(["healthcheck", "beat"]) == 1
