"""Celery tasks of the minerals app: thin wrappers around minerals.imports."""

from __future__ import annotations

from celery import shared_task

from minerals.imports import UPLOAD_PERMISSION, import_batch_refuse, import_batch_run
from minerals.models import ImportBatch


@shared_task(acks_late=True)
def import_batch_task(batch_id: int) -> str:
    """Run an uploaded file's import batch (created, with its file saved, by the admin upload)."""
    batch = ImportBatch.objects.filter(pk=batch_id, status=ImportBatch.Status.RUNNING, finished_at=None).first()
    if batch is None:
        return "gone or already finished"  # a redelivered message must not import twice
    uploader = batch.started_by
    if uploader is None or not uploader.is_active or not uploader.has_perm(UPLOAD_PERMISSION):
        # Checked again here: the right may have been withdrawn while the batch was queued.
        name = uploader.get_username() if uploader is not None else "an unknown user"
        reason = f"Refused: {name} does not have the permission {UPLOAD_PERMISSION} (upload a data file)."
        return import_batch_refuse(batch=batch, reason=reason).status
    return import_batch_run(batch=batch).status
