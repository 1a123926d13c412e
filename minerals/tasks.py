"""Celery tasks of the minerals app: thin wrappers around minerals.imports."""

from __future__ import annotations

from celery import shared_task

from minerals.imports import import_batch_run
from minerals.models import ImportBatch


@shared_task(acks_late=True)
def import_batch_task(batch_id: int) -> str:
    """Run an uploaded file's import batch (created, with its file saved, by the admin upload)."""
    batch = ImportBatch.objects.filter(pk=batch_id, status=ImportBatch.Status.RUNNING, finished_at=None).first()
    if batch is None:
        return "gone or already finished"  # a redelivered message must not import twice
    return import_batch_run(batch=batch).status
