from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from dashboards.services import demo_metrics_compute
from suppliers.demo_dataset import DemoDataError, demo_dataset_load, demo_logins_create


class Command(BaseCommand):
    help = (
        "Load the curated demo dataset and bring its metrics current (demo/*.csv): "
        "real public figures plus one fictional buyer. Idempotent."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--with-logins",
            action="store_true",
            help="Also create the demo logins (refused unless DEBUG is on and the database is the embedded SQLite).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["with_logins"]:
            # Public passwords: only on a developer's machine (`make run` turns DEBUG on).
            if not settings.DEBUG:
                raise CommandError("Demo logins are created only with DEBUG on (`make run`); DEBUG is off.")
            if not settings.DATABASES["default"]["ENGINE"].endswith("sqlite3"):
                raise CommandError("Demo logins are created only for the embedded default (SQLite).")
        try:
            report = demo_dataset_load()
        except DemoDataError as exc:
            raise CommandError(str(exc)) from exc
        for model, counts in report.summary().items():
            self.stdout.write(f"  {model:<22} " + ", ".join(f"{k} {v}" for k, v in counts.items()))
        self.stdout.write(self.style.SUCCESS(f"Demo dataset loaded: {report.changed} rows written."))
        # Metrics must be current when `make run` serves the first page, worker or not.
        recomputed = demo_metrics_compute()
        self.stdout.write(f"Metrics current ({recomputed} minerals recomputed).")
        if options["with_logins"]:
            for username, password, role in demo_logins_create():
                self.stdout.write(self.style.WARNING(f"  demo login: {username} / {password}  ({role})"))
