"""Instrument uploads: the job behind ``/api/v1/instrument-uploads/``, from receipt to parsed.

:func:`instrument_upload_receive` decides everything about an incoming file: its format (first
bytes, name, declared type), its size (the format's limit and ``INSTRUMENT_UPLOAD_MAX_BYTES``),
its lab (the instrument's, or the lab of the stage run or instrument it is for), and whether it is
parsed in the request (up to ``INSTRUMENT_UPLOAD_INLINE_MAX_BYTES``) or by the
``qc.ingest_upload`` task. The file is kept either way. A background parse claims its upload with
a conditional update, so a redelivered message does nothing; beat re-enqueues uploads whose
message was lost (:func:`uploads_requeue_stale`).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import cast

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from labs.models import CAN_WORK, Instrument, Lab
from labs.selectors import require_role, sole_lab_for
from protocol_tracker.core.actors import Actor, Person
from protocol_tracker.core.errors import DomainError, ValidationFailed
from protocol_tracker.core.tasks import enqueue, enqueue_on_commit
from protocol_tracker.protocols.models import CheckpointTemplate
from protocol_tracker.qc.models import InstrumentUpload, RawFileStatus, UploadStatus
from protocol_tracker.qc.services.formats import IngestTargets, check_size, detect_format
from protocol_tracker.qc.services.ingest import instrument_file_ingest, raw_file_mark
from protocol_tracker.qc.services.preparing import refuse_lapsed_instrument
from protocol_tracker.qc.services.raw_files import raw_file_store
from protocol_tracker.runs.models import StageRun

logger = logging.getLogger(__name__)

INGEST_UPLOAD_TASK = "qc.ingest_upload"
UPLOAD_REQUEUE_AFTER = timedelta(minutes=2)


def _params(targets: IngestTargets) -> dict:
    """The targets as JSON, kept on the upload until its file is parsed."""
    return {
        "stage_run": targets.stage_run.pk if targets.stage_run else None,
        "checkpoint": targets.checkpoint.pk if targets.checkpoint else None,
        "instrument": targets.instrument.pk if targets.instrument else None,
        "value": targets.value,
        "unit": targets.unit,
        "measured_at": targets.measured_at.isoformat() if targets.measured_at else None,
        "comment": targets.comment,
    }


def _targets(params: dict, *, lab_id: int) -> IngestTargets:
    def get(model, key, related=()):
        pk = params.get(key)
        if pk is None:
            return None
        return model.objects.for_lab(lab_id).select_related(*related).filter(pk=pk).first()

    measured_at = params.get("measured_at")
    return IngestTargets(
        stage_run=get(StageRun, "stage_run", related=("run__lab", "stage")),
        checkpoint=get(CheckpointTemplate, "checkpoint"),
        instrument=get(Instrument, "instrument"),
        value=params.get("value"),
        unit=params.get("unit") or "",
        measured_at=datetime.fromisoformat(measured_at) if measured_at else None,
        comment=params.get("comment") or "",
    )


def _upload_lab(*, actor: Actor, targets: IngestTargets, lab: Lab | None) -> Lab:
    """An instrument uploads to its own lab; a person to the lab of the stage run or instrument
    the file is for, else to ``lab``, else to the one lab where they work."""
    if isinstance(actor, Instrument):
        return actor.lab
    if targets.stage_run is not None:
        lab = targets.stage_run.run.lab
    elif targets.instrument is not None:
        lab = targets.instrument.lab
    elif lab is None:
        lab = sole_lab_for(actor, CAN_WORK)
        if lab is None:
            raise ValidationFailed(
                "say which lab: you may upload files in several labs (or none)",
                fields={"lab": ["required: you may do this in several labs"]},
            )
    require_role(actor, lab, CAN_WORK, "upload instrument files")
    return lab


@transaction.atomic
def instrument_upload_receive(
    *,
    actor: Actor,
    data: bytes,
    filename: str,
    content_type: str = "",
    targets: IngestTargets | None = None,
    lab: Lab | None = None,
) -> InstrumentUpload:
    """Receive an instrument file: kept as it came, then parsed now (small) or in the background.

    Inline, a file that does not ingest writes nothing and raises. In the background the file
    is kept and the upload's status tells how parsing went.
    """
    targets = targets or IngestTargets()
    for instrument_ in (actor, targets.instrument):
        if isinstance(instrument_, Instrument):
            refuse_lapsed_instrument(instrument_)
    file_format = detect_format(data[:1024], filename, content_type)
    check_size(file_format.kind, len(data), limit=settings.INSTRUMENT_UPLOAD_MAX_BYTES)
    lab = _upload_lab(actor=actor, targets=targets, lab=lab)
    raw_file = raw_file_store(
        lab=lab, data=data, filename=filename, content_type=content_type, actor=actor
    )
    instrument = actor if isinstance(actor, Instrument) else None
    upload = InstrumentUpload.objects.create(
        lab=lab,
        raw_file=raw_file,
        filename=raw_file.filename,
        kind=file_format.kind,
        size_bytes=len(data),
        params=_params(targets),
        uploaded_by=None if instrument is not None else cast(Person, actor),
        uploaded_by_instrument=instrument,
    )
    if len(data) <= settings.INSTRUMENT_UPLOAD_INLINE_MAX_BYTES:
        outcome = instrument_file_ingest(
            raw_file=raw_file, kind=upload.kind, actor=actor, targets=targets
        )
        return upload_finish(upload=upload, result_ids=[r.pk for r in outcome.results])
    # Robust: a broker outage must not turn the committed upload into an error; beat's
    # qc.requeue_uploads picks up uploads left "received" (uploads_requeue_stale).
    enqueue_on_commit(INGEST_UPLOAD_TASK, upload.pk)
    return upload


def uploads_requeue_stale(*, now: datetime, limit: int = 100) -> list[int]:
    """Enqueue again the uploads still ``received`` well after they came in.

    Their message was lost (broker down at commit) or never consumed. The parse task claims its
    upload with a conditional update, so a duplicate message does nothing.
    """
    stale = list(
        InstrumentUpload.objects.filter(
            status=UploadStatus.RECEIVED, created_at__lt=now - UPLOAD_REQUEUE_AFTER
        )
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )
    for upload_id in stale:
        enqueue(INGEST_UPLOAD_TASK, upload_id)
    return stale


def instrument_upload_process(*, upload_id: int) -> InstrumentUpload | None:
    """Parse a received upload (the Celery task's body). None if another worker has it.

    A domain failure marks the upload and its raw file ``failed`` with the error
    (:meth:`DomainError.as_record`); the file itself stays, as it came.
    """
    upload = upload_claim(upload_id=upload_id)
    if upload is None:
        return None
    actor: Actor | None = upload.uploaded_by_instrument or upload.uploaded_by
    raw_file = upload.raw_file
    if actor is None or raw_file is None:  # an upload is made with both; the schema allows null
        return upload_fail(
            upload=upload,
            error={
                "code": "internal_error",
                "status": 500,
                "detail": "the upload has lost its file or its sender",
                "errors": [],
            },
        )
    targets = _targets(upload.params, lab_id=upload.lab_id)
    try:
        outcome = instrument_file_ingest(
            raw_file=raw_file, kind=upload.kind, actor=actor, targets=targets
        )
    except DomainError as exc:
        with transaction.atomic():
            raw_file_mark(
                raw_file=raw_file,
                status=RawFileStatus.FAILED,
                actor=actor,
                error=exc.message,
            )
            return upload_fail(upload=upload, error=exc.as_record())
    except Exception:
        logger.exception("upload %s: ingestion crashed", upload_id)
        upload_fail(
            upload=upload,
            error={
                "code": "internal_error",
                "status": 500,
                "detail": "parsing failed unexpectedly; the file is kept",
                "errors": [],
            },
        )
        raise
    return upload_finish(upload=upload, result_ids=[r.pk for r in outcome.results])


def upload_claim(*, upload_id: int) -> InstrumentUpload | None:
    """Move a received upload to ``parsing``; None when another worker already took it."""
    claimed = InstrumentUpload.objects.filter(pk=upload_id, status=UploadStatus.RECEIVED).update(
        status=UploadStatus.PARSING
    )
    if not claimed:
        return None
    return InstrumentUpload.objects.select_related(
        "lab", "raw_file", "uploaded_by", "uploaded_by_instrument__lab"
    ).get(pk=upload_id)


def upload_finish(*, upload: InstrumentUpload, result_ids: list[int]) -> InstrumentUpload:
    upload.status = UploadStatus.PARSED
    upload.result_ids = result_ids
    upload.error = None
    upload.finished_at = timezone.now()
    upload.save(update_fields=["status", "result_ids", "error", "finished_at"])
    return upload


def upload_fail(*, upload: InstrumentUpload, error: dict) -> InstrumentUpload:
    upload.status = UploadStatus.FAILED
    upload.error = error
    upload.finished_at = timezone.now()
    upload.save(update_fields=["status", "error", "finished_at"])
    return upload
