"""Thin Celery tasks over the alert producers (all idempotent) and the deliveries."""

from __future__ import annotations

from typing import Any

from celery import Task, shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError

from alerts import editions, email, thresholds, webhooks
from alerts.capture import policy_changes_capture
from alerts.deadlines import suspension_deadlines_fire

_DELIVERY_OPTIONS: dict[str, Any] = {
    "bind": True,
    "acks_late": True,
    "reject_on_worker_lost": True,
    "time_limit": settings.CELERY_TASK_TIME_LIMIT,
    "soft_time_limit": settings.CELERY_TASK_SOFT_TIME_LIMIT,
    "autoretry_for": (OperationalError, InterfaceError),
    "retry_backoff": True,
    "max_retries": 5,
    "ignore_result": True,
}


@shared_task(ignore_result=True)
def capture_policy_changes() -> int:
    return policy_changes_capture()


@shared_task(ignore_result=True)
def fire_suspension_deadlines() -> int:
    return suspension_deadlines_fire()


@shared_task(ignore_result=True)
def capture_data_editions() -> int:
    return editions.data_editions_capture()


@shared_task(ignore_result=True)
def evaluate_thresholds() -> int:
    return thresholds.thresholds_evaluate()


@shared_task(name="alerts.tasks.deliver_webhooks", **_DELIVERY_OPTIONS)
def deliver_webhooks(self: Task, endpoint_id: int) -> int:
    """Send an endpoint's due deliveries; go on in a new task, or retry later with backoff."""
    run = webhooks.endpoint_deliver(endpoint_id=endpoint_id)
    if not self.request.is_eager:  # in-process (embedded default): the next catch-up retries
        if run.more:
            self.apply_async(args=(endpoint_id,))
        elif run.retry_in is not None:
            self.apply_async(args=(endpoint_id,), countdown=run.retry_in)
    return run.delivered


@shared_task(name="alerts.tasks.send_instant_emails", **_DELIVERY_OPTIONS)
def send_instant_emails(self: Task) -> int:
    return email.instant_emails_send()


@shared_task(ignore_result=True)
def send_daily_digests() -> int:
    return email.daily_digests_send()


@shared_task(ignore_result=True)
def sweep_deliveries() -> int:
    """What a dead broker or a lost worker held back: due webhooks and unsent instant e-mails."""
    endpoint_ids = webhooks.endpoints_due()
    for endpoint_id in endpoint_ids:
        deliver_webhooks.delay(endpoint_id)
    send_instant_emails.delay()
    return len(endpoint_ids)
