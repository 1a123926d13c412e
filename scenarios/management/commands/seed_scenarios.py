"""`manage.py seed_scenarios`: the built-in scenarios of the demo (idempotent), optionally run now."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from scenarios import services


class Command(BaseCommand):
    help = "Create the built-in scenarios when missing; --run computes them synchronously."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--run", action="store_true", help="Run each built-in scenario now (in-process).")

    def handle(self, *args: Any, **options: Any) -> None:
        scenarios = services.builtin_scenarios_ensure()
        for scenario in scenarios:
            if options["run"]:
                run = services.scenario_run_request(scenario=scenario)
                if run.status == run.Status.QUEUED:
                    run = services.scenario_run_execute(run_id=run.pk)
                self.stdout.write(f"{scenario.key}: run {run.pk} {run.status}")
            else:
                self.stdout.write(f"{scenario.key}: ready")
