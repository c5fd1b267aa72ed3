"""Background parsing of large instrument uploads (thin tasks over the upload services)."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from protocol_tracker.qc.services.uploads import instrument_upload_process, uploads_requeue_stale


@shared_task(name="qc.ingest_upload", time_limit=600, soft_time_limit=540, ignore_result=True)
def ingest_upload_task(upload_id: int) -> str | None:
    """Parse one received upload; a redelivered message finds it claimed and does nothing."""
    upload = instrument_upload_process(upload_id=upload_id)
    return upload.status if upload is not None else None


@shared_task(name="qc.requeue_uploads", time_limit=60, soft_time_limit=50, ignore_result=True)
def requeue_uploads_task() -> int:
    """Beat: enqueue again the uploads whose parse message was lost."""
    return len(uploads_requeue_stale(now=timezone.now()))
