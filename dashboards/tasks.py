"""Thin Celery tasks of the risk engine, and the coalesced enqueue that feeds them.

Flow: a service commits data and its stale marker -> `minerals_changed` /
`organizations_changed` (sent on commit) -> `recompute_minerals_enqueue` sets a Redis pending
key with SET NX and, only if it was not already set, publishes one task with a short
countdown: a burst of edits shares one run. The task clears the key first, then reads the
target version, so an edit that lands during the run enqueues another run (never lost).
Publishing fails fast (settings.CELERY_TASK_PUBLISH_RETRY_POLICY): a dead broker costs an edit
a fraction of a second, the metric stays stale and `sweep_stale` (beat, every minute) catches up.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

import redis
from celery import Task, shared_task
from django.conf import settings
from django.db import DatabaseError

from dashboards import services

logger = logging.getLogger(__name__)

# A lost message must not block coalescing forever: the pending key expires, the sweep repairs.
PENDING_TTL_SECONDS = 60

_TASK_OPTIONS: dict[str, Any] = {
    "acks_late": True,
    "reject_on_worker_lost": True,
    "time_limit": settings.CELERY_TASK_TIME_LIMIT,
    "soft_time_limit": settings.CELERY_TASK_SOFT_TIME_LIMIT,
    "autoretry_for": (DatabaseError,),  # deadlock, serialization failure, lost connection
    "retry_backoff": True,
    "max_retries": 5,
    "ignore_result": True,
}


@lru_cache(maxsize=4)
def _redis_client(url: str) -> redis.Redis:
    # Short timeouts: this runs in a request's on_commit; a dead Redis must cost milliseconds.
    return redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5)


def pending_client() -> redis.Redis | None:
    url = settings.LODESTONE_RECOMPUTE_REDIS_URL
    return _redis_client(url) if url else None


def pending_key(kind: str, object_id: int) -> str:
    return f"{settings.LODESTONE_RECOMPUTE_KEY_PREFIX}:{kind}:{object_id}"


def _pending_clear(kind: str, object_id: int) -> None:
    client = pending_client()
    if client is None:
        return
    try:
        client.delete(pending_key(kind, object_id))
    except redis.RedisError:
        logger.warning("could not clear the pending key of %s %s", kind, object_id, exc_info=True)


def _enqueue(task: Task, kind: str, object_ids: Iterable[int]) -> int:
    """Publish one task per object unless one is already pending; returns how many were sent."""
    sent = 0
    if task.app.conf.task_always_eager:
        # Embedded default: run in-process now (the caller is already after commit); a run
        # that finds its version current returns at once, which is the coalescing here.
        for object_id in object_ids:
            outcome = task.apply(args=(object_id,), throw=False)
            if outcome.failed():
                logger.error("recompute of %s %s failed; the sweep retries\n%s", kind, object_id, outcome.traceback)
            sent += 1
        return sent
    client = pending_client()
    countdown = settings.LODESTONE_RECOMPUTE_COUNTDOWN
    for object_id in object_ids:
        key = pending_key(kind, object_id)
        coalesced = client is not None
        if client is not None:
            try:
                if not client.set(key, "1", nx=True, ex=int(countdown) + PENDING_TTL_SECONDS):
                    continue  # a run is already scheduled and has not started: it will see this edit
            except redis.RedisError:
                coalesced = False  # no pending key store: publish anyway, the version check dedups
        try:
            task.apply_async(args=(object_id,), countdown=countdown)
            sent += 1
        except Exception:  # kombu raises OperationalError, socket errors, ...: the sweep repairs
            logger.warning("broker unavailable: %s %s stays stale until the sweep", kind, object_id, exc_info=True)
            if coalesced:
                _pending_clear(kind, object_id)
    return sent


def recompute_minerals_enqueue(mineral_ids: Iterable[int]) -> int:
    return _enqueue(recompute_mineral, "mineral", mineral_ids)


def recompute_organizations_enqueue(organization_ids: Iterable[int]) -> int:
    return _enqueue(recompute_organization, "organization", organization_ids)


@shared_task(name="dashboards.tasks.recompute_mineral", **_TASK_OPTIONS)
def recompute_mineral(mineral_id: int) -> dict[str, Any]:
    _pending_clear("mineral", mineral_id)
    result = services.mineral_metrics_recompute(mineral_id=mineral_id)
    return {"mineral_id": mineral_id, "data_version": result.data_version, "written": result.written}


@shared_task(name="dashboards.tasks.recompute_organization", **_TASK_OPTIONS)
def recompute_organization(organization_id: int) -> int:
    _pending_clear("organization", organization_id)
    return services.organization_exposure_recompute(organization_id=organization_id)


@shared_task(name="dashboards.tasks.sweep_stale", **_TASK_OPTIONS)
def sweep_stale() -> dict[str, int]:
    """Re-enqueue everything still stale (broker was down, message lost, a new day)."""
    minerals = services.stale_mineral_ids()
    organizations = services.stale_organization_ids()
    return {
        "minerals": recompute_minerals_enqueue(minerals),
        "organizations": recompute_organizations_enqueue(organizations),
    }
