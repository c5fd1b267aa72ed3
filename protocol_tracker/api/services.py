"""Writes for the API's own records: personal tokens and instrument upload jobs."""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from labs.models import Instrument
from protocol_tracker.api.exceptions import domain_error_body
from protocol_tracker.api.models import InstrumentUpload, PersonalToken, UploadStatus
from protocol_tracker.audit.services import audit_record
from protocol_tracker.core.errors import DomainError
from protocol_tracker.protocols.models import CheckpointTemplate
from protocol_tracker.qc.ingest import instrument_file_ingest, raw_file_mark
from protocol_tracker.qc.models import RawFileStatus
from protocol_tracker.qc.services import raw_file_store
from protocol_tracker.runs.models import StageRun

logger = logging.getLogger(__name__)

TOKEN_PREFIX = "ptp"  # noqa: S105 - a prefix, not a secret
_LAST_USED_RESOLUTION = timedelta(seconds=60)


def _hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@transaction.atomic
def personal_token_issue(*, user, name: str = "") -> tuple[PersonalToken, str]:
    """Create a token for ``user``; returns it with the secret token text, shown only once."""
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)  # 256 bits
    token = PersonalToken.objects.create(
        user=user, name=name[:100], prefix=prefix, secret_hash=_hash_secret(secret)
    )
    audit_record(
        actor=user,
        action="api.token_issued",
        obj=token,
        after={"prefix": prefix, "name": token.name},
    )
    return token, f"{TOKEN_PREFIX}_{prefix}_{secret}"


@transaction.atomic
def personal_token_revoke(*, token: PersonalToken, actor) -> PersonalToken:
    """Revoke ``token`` (idempotent: revoking a revoked token changes nothing)."""
    token = PersonalToken.objects.select_for_update().get(pk=token.pk)
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        audit_record(
            actor=actor, action="api.token_revoked", obj=token, after={"prefix": token.prefix}
        )
    return token


def personal_token_authenticate(raw: str) -> PersonalToken | None:
    """The active token ``raw`` names, or None. Records when it was last used (once a minute)."""
    try:
        kind, prefix, secret = raw.split("_", 2)
    except ValueError:
        return None
    if kind != TOKEN_PREFIX or not prefix or not secret:
        return None
    token = (
        PersonalToken.objects.select_related("user")
        .filter(prefix=prefix, revoked_at__isnull=True, user__is_active=True)
        .first()
    )
    if token is None or not secrets.compare_digest(token.secret_hash, _hash_secret(secret)):
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > _LAST_USED_RESOLUTION:
        PersonalToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token


# --- instrument uploads -------------------------------------------------------------------


@dataclass(frozen=True)
class UploadTargets:
    """What an upload says about its file: where its results go."""

    stage_run: StageRun | None = None
    checkpoint: CheckpointTemplate | None = None
    instrument: Instrument | None = None
    value: str | None = None
    unit: str = ""
    measured_at: datetime | None = None
    comment: str = ""

    def as_params(self) -> dict:
        return {
            "stage_run": self.stage_run.pk if self.stage_run else None,
            "checkpoint": self.checkpoint.pk if self.checkpoint else None,
            "instrument": self.instrument.pk if self.instrument else None,
            "value": self.value,
            "unit": self.unit,
            "measured_at": self.measured_at.isoformat() if self.measured_at else None,
            "comment": self.comment,
        }

    @classmethod
    def from_params(cls, params: dict, *, lab_id: int) -> UploadTargets:
        def get(model, key, related=()):
            pk = params.get(key)
            if pk is None:
                return None
            return model.objects.for_lab(lab_id).select_related(*related).filter(pk=pk).first()

        measured_at = params.get("measured_at")
        return cls(
            stage_run=get(StageRun, "stage_run", related=("run__lab", "stage")),
            checkpoint=get(CheckpointTemplate, "checkpoint"),
            instrument=get(Instrument, "instrument"),
            value=params.get("value"),
            unit=params.get("unit") or "",
            measured_at=datetime.fromisoformat(measured_at) if measured_at else None,
            comment=params.get("comment") or "",
        )


def _upload_actor(upload: InstrumentUpload):
    return upload.uploaded_by_instrument or upload.uploaded_by


@transaction.atomic
def instrument_upload_create(
    *,
    lab,
    actor,
    data: bytes,
    filename: str,
    content_type: str,
    kind: str,
    targets: UploadTargets,
    inline: bool,
) -> InstrumentUpload:
    """Keep the file (``raw_file_store``) and ingest it now (``inline``) or in the background.

    Inline, a file that does not ingest writes nothing and raises. In the background the file
    is kept and the upload's status tells how parsing went.
    """
    from protocol_tracker.api.tasks import ingest_upload_task

    raw_file = raw_file_store(
        lab=lab, data=data, filename=filename, content_type=content_type, actor=actor
    )
    is_instrument = isinstance(actor, Instrument)
    upload = InstrumentUpload.objects.create(
        lab=lab,
        raw_file=raw_file,
        filename=raw_file.filename,
        kind=kind,
        size_bytes=len(data),
        params=targets.as_params(),
        uploaded_by=None if is_instrument else actor,
        uploaded_by_instrument=actor if is_instrument else None,
    )
    if inline:
        outcome = _ingest(upload, raw_file=raw_file, targets=targets, actor=actor)
        return upload_finish(upload=upload, result_ids=[r.pk for r in outcome.results])
    # robust: a broker outage must not turn the committed upload into an error; the beat task
    # api.requeue_uploads picks up uploads left in "received" (uploads_requeue_stale).
    transaction.on_commit(lambda: ingest_upload_task.delay(upload.pk), robust=True)
    return upload


UPLOAD_REQUEUE_AFTER = timedelta(minutes=2)


def uploads_requeue_stale(*, now: datetime, limit: int = 100) -> list[int]:
    """Enqueue again the uploads still ``received`` well after they came in.

    Their message was lost (broker down at commit) or never consumed. The parse task claims its
    upload with a conditional update, so a duplicate message does nothing.
    """
    from protocol_tracker.api.tasks import ingest_upload_task

    stale = list(
        InstrumentUpload.objects.filter(
            status=UploadStatus.RECEIVED, created_at__lt=now - UPLOAD_REQUEUE_AFTER
        )
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )
    for upload_id in stale:
        ingest_upload_task.delay(upload_id)
    return stale


def _ingest(upload: InstrumentUpload, *, raw_file, targets: UploadTargets, actor):
    return instrument_file_ingest(
        raw_file=raw_file,
        kind=upload.kind,
        actor=actor,
        stage_run=targets.stage_run,
        checkpoint=targets.checkpoint,
        instrument=targets.instrument,
        value=targets.value,
        unit=targets.unit,
        measured_at=targets.measured_at,
        comment=targets.comment,
    )


def instrument_upload_process(*, upload_id: int) -> InstrumentUpload | None:
    """Parse a received upload (the Celery task's body). None if another worker has it.

    A domain failure marks the upload and its raw file ``failed`` with the problem body; the
    file itself stays, as it came.
    """
    upload = upload_claim(upload_id=upload_id)
    if upload is None:
        return None
    actor = _upload_actor(upload)
    targets = UploadTargets.from_params(upload.params, lab_id=upload.lab_id)
    try:
        outcome = _ingest(upload, raw_file=upload.raw_file, targets=targets, actor=actor)
    except DomainError as exc:
        with transaction.atomic():
            raw_file_mark(
                raw_file=upload.raw_file,
                status=RawFileStatus.FAILED,
                actor=actor,
                error=exc.message,
            )
            return upload_fail(upload=upload, error=domain_error_body(exc))
    except Exception:
        logger.exception("upload %s: ingestion crashed", upload_id)
        upload_fail(
            upload=upload,
            error={
                "type": "urn:problem:protocol-tracker:internal_error",
                "title": "Internal error",
                "status": 500,
                "detail": "parsing failed unexpectedly; the file is kept",
                "code": "internal_error",
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
