"""Thin Celery tasks over alerts.capture and alerts.deadlines (both idempotent)."""

from __future__ import annotations

from celery import shared_task

from alerts.capture import policy_changes_capture
from alerts.deadlines import suspension_deadlines_fire


@shared_task(ignore_result=True)
def capture_policy_changes() -> int:
    return policy_changes_capture()


@shared_task(ignore_result=True)
def fire_suspension_deadlines() -> int:
    return suspension_deadlines_fire()
