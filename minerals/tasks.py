"""Celery tasks of the minerals app: thin wrappers around minerals.imports.

An import batch always ends (issue 16, probing 8): import_batch_run records any error itself;
what it cannot record (the hard time limit, a lost connection, an error while recording) is
recorded here in a transaction of its own, and the hourly housekeeping ends batches still
running after any task could (a killed worker). On PostgreSQL each statement of the import is
bounded by the task's soft time limit, and the server drops a query whose client went away, so
nothing keeps running after the task is gone.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.db import DatabaseError, connection, transaction

from minerals.bulk_upsert import is_postgresql
from minerals.imports import (
    UPLOAD_PERMISSION,
    import_batch_fail,
    import_batch_refuse,
    import_batch_run,
    import_batches_fail_stale,
    import_files_purge,
)
from minerals.models import ImportBatch

logger = logging.getLogger(__name__)


@contextlib.contextmanager
def statement_timeout(seconds: int) -> Iterator[None]:
    """PostgreSQL: no statement runs longer than ``seconds``; a query whose client died is cancelled
    within 5 s (client_connection_check_interval, PostgreSQL 14+). Reset afterwards: the worker's
    connection is reused."""
    if not is_postgresql():
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('statement_timeout', %s, false)", [f"{seconds * 1000}"])
        with contextlib.suppress(DatabaseError), transaction.atomic():  # a savepoint if in a transaction
            cursor.execute("SELECT set_config('client_connection_check_interval', '5000', false)")
    try:
        yield
    finally:
        with contextlib.suppress(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("RESET statement_timeout")
            cursor.execute("RESET client_connection_check_interval")


@shared_task(
    acks_late=True,
    time_limit=settings.CELERY_TASK_TIME_LIMIT,
    soft_time_limit=settings.CELERY_TASK_SOFT_TIME_LIMIT,
)
def import_batch_task(batch_id: int) -> str:
    """Run an uploaded file's import batch (created, with its file saved, by the admin upload);
    a dry run too (counted, rolled back)."""
    batch = ImportBatch.objects.filter(pk=batch_id, status=ImportBatch.Status.RUNNING, finished_at=None).first()
    if batch is None:
        return "gone or already finished"  # a redelivered message must not import twice
    uploader = batch.started_by
    if uploader is None or not uploader.is_active or not uploader.has_perm(UPLOAD_PERMISSION):
        # Checked again here: the right may have been withdrawn while the batch was queued.
        name = uploader.get_username() if uploader is not None else "an unknown user"
        reason = f"Refused: {name} does not have the permission {UPLOAD_PERMISSION} (upload a data file)."
        return import_batch_refuse(batch=batch, reason=reason).status
    try:
        with statement_timeout(settings.CELERY_TASK_SOFT_TIME_LIMIT):
            return import_batch_run(batch=batch).status
    except BaseException as error:  # SoftTimeLimitExceeded, a lost connection, ...: the batch still ends
        logger.exception("import batch %s failed outside the import", batch_id)
        import_batch_fail(batch_id=batch_id, error=error)
        if isinstance(error, Exception):
            return ImportBatch.Status.FAILED
        raise


@shared_task(name="minerals.tasks.import_housekeeping", ignore_result=True)
def import_housekeeping() -> dict[str, int]:
    """Hourly (beat): end batches running longer than any task can, delete old uploads and reports."""
    return {
        "failed_stale_batches": import_batches_fail_stale(
            older_than=timedelta(seconds=2 * settings.CELERY_TASK_TIME_LIMIT)
        ),
        "files_removed": import_files_purge(older_than=timedelta(days=settings.LODESTONE_IMPORT_RETENTION_DAYS)),
    }
