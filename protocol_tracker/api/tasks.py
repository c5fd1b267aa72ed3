"""Background parsing of large instrument uploads (a thin task over the upload service)."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="api.ingest_upload", time_limit=600, soft_time_limit=540, ignore_result=True)
def ingest_upload_task(upload_id: int) -> str | None:
    """Parse one received upload; a redelivered message finds it claimed and does nothing."""
    from protocol_tracker.api.services import instrument_upload_process

    upload = instrument_upload_process(upload_id=upload_id)
    return upload.status if upload is not None else None


@shared_task(name="api.requeue_uploads", time_limit=60, soft_time_limit=50, ignore_result=True)
def requeue_uploads_task() -> int:
    """Beat: enqueue again the uploads whose parse message was lost."""
    from django.utils import timezone

    from protocol_tracker.api.services import uploads_requeue_stale

    return len(uploads_requeue_stale(now=timezone.now()))
