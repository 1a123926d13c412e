"""Thin Celery tasks of the risk engine, and the coalesced enqueue that feeds them.

Flow: a service commits data and its stale marker -> `minerals_changed` /
`organizations_changed` (sent on commit) -> `recompute_minerals_enqueue`. Per object, in one
Redis round trip, the enqueue sets three keys: `quiet` (expires COUNTDOWN after the latest edit),
`dirty` (an edit happened) and the `pending` key with SET NX; only the edit that sets `pending`
publishes a task (countdown COUNTDOWN) and opens a `window` of MAX_DELAY seconds.

The task is a trailing debounce bounded by the window: while edits keep coming (`quiet` alive)
and the window is open, it re-publishes itself for when `quiet` expires and computes nothing.
A burst that outlasts its window gets a window twice as long at each follow-up run (10, 20,
40, then 60 s at most with the default MAX_DELAY), so a long burst costs a handful of runs and
the last run still comes COUNTDOWN after the last edit.
Then it clears `dirty`, recomputes, and only afterwards deletes `pending` (atomically with
reading `dirty`): edits during the run do not each start a run (the cause of 11 recomputes for
1,000 HTTP edits, issue 16 probing 12: `pending` used to be deleted when the run started, so
every run was followed by another one COUNTDOWN later). An edit seen during the run leaves
`dirty`, and the run ends by scheduling one follow-up; an edit after the delete publishes its
own. No edit is lost.

Failures: database errors that may pass on a retry (deadlock, serialization failure, lost
connection: OperationalError / InterfaceError) are retried with backoff. Any other error (a
numeric overflow, a bug) fails the same way every time: it is logged, recorded in the cache
with the object's data version, and the sweep skips that object until its data changes (or a
day passes), instead of re-running it every minute forever. Each object is its own task, so
one failing mineral never stops the others.

Publishing fails fast (settings.CELERY_TASK_PUBLISH_RETRY_POLICY): a dead broker costs an edit
a fraction of a second, the metric stays stale and `sweep_stale` (beat, every minute) catches up.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

import redis
from celery import Task, shared_task
from django.conf import settings
from django.core.cache import cache
from django.db import InterfaceError, OperationalError
from django.utils import timezone

from dashboards import services
from minerals.models import Mineral
from suppliers.models import Organization

logger = logging.getLogger(__name__)

# A lost message must not block coalescing forever: the pending key expires, the sweep repairs.
PENDING_TTL_SECONDS = 60
# Longest wait of a run while edits keep coming (the window doubles from MAX_DELAY up to this).
MAX_WINDOW_SECONDS = 60.0
# A deterministic failure is skipped by the sweep until the data changes, or for this long.
FAILURE_TTL_SECONDS = 24 * 3600
# Worth a retry: the database was away or the transaction lost a race (Django maps deadlocks,
# serialization failures and statement timeouts to OperationalError).
TRANSIENT_ERRORS = (OperationalError, InterfaceError)

_TASK_OPTIONS: dict[str, Any] = {
    "bind": True,
    "acks_late": True,
    "reject_on_worker_lost": True,
    "time_limit": settings.CELERY_TASK_TIME_LIMIT,
    "soft_time_limit": settings.CELERY_TASK_SOFT_TIME_LIMIT,
    "autoretry_for": TRANSIENT_ERRORS,
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


def _pending_ttl() -> int:
    return int(settings.LODESTONE_RECOMPUTE_COUNTDOWN + settings.LODESTONE_RECOMPUTE_MAX_DELAY) + PENDING_TTL_SECONDS


def _pending_clear(kind: str, object_id: int) -> None:
    client = pending_client()
    if client is None:
        return
    try:
        client.delete(pending_key(kind, object_id))
    except redis.RedisError:
        logger.warning("could not clear the pending key of %s %s", kind, object_id, exc_info=True)


def _mark_edit(client: redis.Redis, key: str) -> bool:
    """Record an edit (quiet, dirty) and claim the pending key; True when this caller must publish."""
    ttl = _pending_ttl()
    quiet_ms = max(int(settings.LODESTONE_RECOMPUTE_COUNTDOWN * 1000), 1)
    pipe = client.pipeline(transaction=False)  # one round trip, executed in this order
    pipe.set(f"{key}:quiet", "1", px=quiet_ms)
    pipe.set(f"{key}:dirty", "1", ex=ttl)
    pipe.set(key, "1", nx=True, ex=ttl)
    claimed = bool(pipe.execute()[2])
    if claimed:
        # A burst that outlasts its window gets a window twice as long at each follow-up run.
        streak = min(int(client.get(f"{key}:streak") or 0), 16)
        window = min(settings.LODESTONE_RECOMPUTE_MAX_DELAY * 2**streak, MAX_WINDOW_SECONDS)
        client.set(f"{key}:window", "1", px=max(int(window * 1000), 1))
    return claimed


def _enqueue(task: Task, kind: str, object_ids: Iterable[int], *, skip_failed: bool = False) -> int:
    """Publish one task per object unless one is already pending; returns how many were sent."""
    sent = 0
    ids = list(object_ids)
    if skip_failed:
        ids = _without_recorded_failures(kind, ids)
    if task.app.conf.task_always_eager:
        # Embedded default: run in-process now (the caller is already after commit); a run
        # that finds its version current returns at once, which is the coalescing here.
        for object_id in ids:
            outcome = task.apply(args=(object_id,), throw=False)
            if outcome.failed():
                logger.error("recompute of %s %s failed; the sweep retries\n%s", kind, object_id, outcome.traceback)
            sent += 1
        return sent
    client = pending_client()
    countdown = settings.LODESTONE_RECOMPUTE_COUNTDOWN
    for object_id in ids:
        key = pending_key(kind, object_id)
        coalesced = client is not None
        if client is not None:
            try:
                if not _mark_edit(client, key):
                    continue  # a run is scheduled or running: it (or its follow-up) sees this edit
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


def _postponed(task: Task, kind: str, object_id: int) -> bool:
    """Trailing debounce: edits still arriving and the window open -> run again when they pause."""
    client = pending_client()
    if client is None or task.request.is_eager:
        return False
    key = pending_key(kind, object_id)
    try:
        pipe = client.pipeline(transaction=False)
        pipe.pttl(f"{key}:quiet")
        pipe.exists(f"{key}:window")
        quiet_ms, window_open = pipe.execute()
    except redis.RedisError:
        return False
    if quiet_ms <= 0 or not window_open:
        return False
    try:
        task.apply_async(args=(object_id,), countdown=quiet_ms / 1000)
    except Exception:  # broker gone: compute now rather than lose the run
        return False
    return True


def _run_started(kind: str, object_id: int) -> None:
    client = pending_client()
    if client is None:
        return
    with contextlib.suppress(redis.RedisError):  # left set, it costs one extra run, nothing more
        client.delete(f"{pending_key(kind, object_id)}:dirty")


def _run_finished(task: Task, kind: str, object_id: int) -> None:
    """Release the pending key; if an edit was seen during the run, schedule one follow-up."""
    client = pending_client()
    if client is None or task.request.is_eager:
        return
    key = pending_key(kind, object_id)
    try:
        pipe = client.pipeline(transaction=True)  # MULTI: no edit slips between the two
        pipe.delete(key)
        pipe.get(f"{key}:dirty")
        _, dirty = pipe.execute()
        if dirty:
            client.incr(f"{key}:streak")
            client.expire(f"{key}:streak", _pending_ttl() + int(MAX_WINDOW_SECONDS))
        else:
            client.delete(f"{key}:streak")
    except redis.RedisError:
        logger.warning("could not release the pending key of %s %s", kind, object_id, exc_info=True)
        return
    if dirty:
        _enqueue(task, kind, [object_id])


# -- deterministic failures


def _failure_key(kind: str, object_id: int) -> str:
    return f"{settings.LODESTONE_RECOMPUTE_KEY_PREFIX}:failed:{kind}:{object_id}"


def _versions(kind: str, object_ids: Iterable[int]) -> dict[int, int]:
    model = Mineral if kind == "mineral" else Organization
    return dict(model.objects.filter(pk__in=list(object_ids)).values_list("id", "data_version"))


def _record_failure(kind: str, object_id: int, error: BaseException) -> None:
    version = _versions(kind, [object_id]).get(object_id)
    logger.error(
        "recompute of %s %s failed at data version %s and is not retried until its data changes",
        kind, object_id, version, exc_info=error,
    )  # fmt: skip
    record = {"version": version, "error": repr(error)[:500], "at": timezone.now().isoformat()}
    cache.set(_failure_key(kind, object_id), record, FAILURE_TTL_SECONDS)


def recorded_failure(kind: str, object_id: int) -> dict[str, Any] | None:
    """The last deterministic failure of a recompute, if its data has not changed since."""
    record = cache.get(_failure_key(kind, object_id))
    if record is None or record["version"] != _versions(kind, [object_id]).get(object_id):
        return None
    return record


def _without_recorded_failures(kind: str, object_ids: list[int]) -> list[int]:
    records = cache.get_many([_failure_key(kind, i) for i in object_ids])
    if not records:
        return object_ids
    versions = _versions(kind, object_ids)
    return [
        i
        for i in object_ids
        if (record := records.get(_failure_key(kind, i))) is None or record["version"] != versions.get(i)
    ]


def _recompute(task: Task, kind: str, object_id: int, compute: Any) -> Any:
    if _postponed(task, kind, object_id):
        return None
    _run_started(kind, object_id)
    try:
        return compute()
    except TRANSIENT_ERRORS:
        raise  # autoretry_for: backoff, then the sweep
    except Exception as error:  # deterministic: the same data fails the same way
        _record_failure(kind, object_id, error)
        return None
    finally:
        _run_finished(task, kind, object_id)


def recompute_minerals_enqueue(mineral_ids: Iterable[int], *, skip_failed: bool = False) -> int:
    return _enqueue(recompute_mineral, "mineral", mineral_ids, skip_failed=skip_failed)


def recompute_organizations_enqueue(organization_ids: Iterable[int], *, skip_failed: bool = False) -> int:
    return _enqueue(recompute_organization, "organization", organization_ids, skip_failed=skip_failed)


@shared_task(name="dashboards.tasks.recompute_mineral", **_TASK_OPTIONS)
def recompute_mineral(self: Task, mineral_id: int) -> dict[str, Any]:
    result = _recompute(self, "mineral", mineral_id, lambda: services.mineral_metrics_recompute(mineral_id=mineral_id))
    if result is None:
        return {"mineral_id": mineral_id, "written": False}
    return {"mineral_id": mineral_id, "data_version": result.data_version, "written": result.written}


@shared_task(name="dashboards.tasks.recompute_organization", **_TASK_OPTIONS)
def recompute_organization(self: Task, organization_id: int) -> int:
    result = _recompute(
        self,
        "organization",
        organization_id,
        lambda: services.organization_exposure_recompute(organization_id=organization_id),
    )
    return result or 0


@shared_task(name="dashboards.tasks.sweep_stale", **_TASK_OPTIONS)
def sweep_stale(self: Task) -> dict[str, int]:
    """Re-enqueue everything still stale (broker was down, message lost, a new day), except what
    failed deterministically on the same data."""
    minerals = services.stale_mineral_ids()
    organizations = services.stale_organization_ids()
    return {
        "minerals": recompute_minerals_enqueue(minerals, skip_failed=True),
        "organizations": recompute_organizations_enqueue(organizations, skip_failed=True),
    }
