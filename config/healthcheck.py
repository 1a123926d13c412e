"""Container health checks (docker-compose.yml): `python -m config.healthcheck web|beat`.

Exit status 0 when healthy, 1 otherwise, with one line saying why.
- web: gunicorn accepts connections on port 8000 (an HTTP probe would have to pass
  ALLOWED_HOSTS and the HTTPS redirect of a production configuration).
- beat: the database scheduler recorded a run of the minute sweep recently; a beat process
  that hangs or lost its database stops updating it.
"""

from __future__ import annotations

import os
import socket
import sys
from datetime import timedelta

# The sweep runs every 60 s; django-celery-beat writes last_run_at back every 3 minutes.
BEAT_SILENCE_LIMIT = timedelta(minutes=10)
SWEEP_TASK = "dashboards.tasks.sweep_stale"


def web_problem(port: int = 8000) -> str | None:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except OSError as exc:
        return f"nothing accepts connections on port {port}: {exc}"
    return None


def beat_problem() -> str | None:
    from django.utils import timezone
    from django_celery_beat.models import PeriodicTask

    last = (
        PeriodicTask.objects.filter(task=SWEEP_TASK, enabled=True)
        .exclude(last_run_at=None)
        .order_by("-last_run_at")
        .values_list("last_run_at", flat=True)
        .first()
    )
    if last is None:
        return f"beat has not run {SWEEP_TASK} yet"
    silence = timezone.now() - last
    if silence > BEAT_SILENCE_LIMIT:
        return f"beat last ran {SWEEP_TASK} {int(silence.total_seconds())} s ago"
    return None


def main(argv: list[str]) -> int:
    if argv[1:] == ["web"]:
        problem = web_problem()
    elif argv[1:] == ["beat"]:
        import django

        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
        django.setup()
        problem = beat_problem()
    else:
        print("usage: python -m config.healthcheck web|beat", file=sys.stderr)
        return 2
    print(problem or "healthy", file=sys.stderr if problem else sys.stdout)
    return 1 if problem else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
