"""Thin Celery tasks over scenarios.services (a run is claimed once; the sweep is idempotent)."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from scenarios import services


@shared_task(acks_late=True, ignore_result=True)
def run_scenario(run_id: int) -> dict[str, Any]:
    run = services.scenario_run_execute(run_id=run_id)
    return {"run": run.pk, "status": run.status}


@shared_task(ignore_result=True)
def rerun_stale_scenarios() -> int:
    return services.stale_scenarios_rerun()
