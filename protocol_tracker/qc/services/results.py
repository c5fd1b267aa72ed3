"""Recording one QC result, and correcting one (a new row supersedes it; nothing is overwritten)."""

from __future__ import annotations

from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from labs.models import CAN_WORK, Instrument
from labs.selectors import require_role
from protocol_tracker.audit.services import audit_record_many
from protocol_tracker.core.actors import Actor, Person
from protocol_tracker.core.errors import (
    Conflict,
    InvalidTransition,
    NotPermitted,
    ValidationFailed,
)
from protocol_tracker.protocols.models import CheckpointTemplate
from protocol_tracker.qc.models import QCResult, RawFile
from protocol_tracker.qc.services.consequences import result_consequences
from protocol_tracker.qc.services.preparing import (
    check_recorder,
    idempotency_mismatch,
    idempotent_lookup,
    recorder_fields,
    result_placement,
    result_prepare,
    result_state,
    same_payload,
    spec_snapshot,
    worked_after_release,
)
from protocol_tracker.runs.locks import lock_stage_run
from protocol_tracker.runs.models import StageRun, StageStatus
from protocol_tracker.runs.services import WORKING_STAGE_STATUSES, run_audit_change


@transaction.atomic
def qc_result_record(
    *,
    stage_run: StageRun,
    checkpoint: CheckpointTemplate,
    value,
    unit: str | None,
    measured_at: datetime,
    actor: Actor,
    comment: str = "",
    idempotency_key: str = "",
    raw_file: RawFile | None = None,
    state: str | None = None,
) -> QCResult:
    """Record one QC result (a user, or an instrument allowed to post this assay).

    ``state``: None for a measured value, "pending" (sample taken, result awaited; no value) or
    "invalid" (assay controls failed; a retest is needed). ``unit`` None means the checkpoint's
    unit. A repeated ``idempotency_key`` returns the first result when the payload is the same
    and raises Conflict (``idempotency_mismatch``) when it is not.
    """
    if checkpoint.stage_id != stage_run.stage_id:
        message = f"checkpoint '{checkpoint.name}' does not belong to this stage"
        raise ValidationFailed(message, fields={"checkpoint": [message]})
    key = (idempotency_key or "").strip()
    if len(key) > 128:
        raise ValidationFailed(
            "idempotency key is longer than 128 characters",
            fields={"idempotency_key": ["at most 128 characters"]},
        )
    comment = (comment or "").strip()
    sr = lock_stage_run(stage_run.pk, run_id=stage_run.run_id)
    run = sr.run
    check_recorder(actor, run.lab_id, checkpoint)
    prepared = result_prepare(
        checkpoint=checkpoint,
        value=value,
        unit=unit,
        measured_at=measured_at,
        state=state,
        now=timezone.now(),
    )
    if raw_file is not None and raw_file.lab_id != run.lab_id:
        raise ValidationFailed("raw file not found in this lab", fields={"raw_file": ["not found"]})
    raw_file_id = raw_file.pk if raw_file is not None else None
    if key:
        existing = idempotent_lookup(actor, key)
        if existing is not None:
            if same_payload(
                existing,
                stage_run_id=sr.pk,
                checkpoint_id=checkpoint.pk,
                prepared=prepared,
                comment=comment,
                raw_file_id=raw_file_id,
            ):
                return existing
            raise idempotency_mismatch(key)
    current = QCResult.objects.filter(
        stage_run=sr, checkpoint=checkpoint, superseded_by__isnull=True
    ).first()
    superseded, reason = result_placement(
        run=run,
        stage_run=sr,
        checkpoint=checkpoint,
        current=current,
        prepared=prepared,
        after_release=worked_after_release(run, sr),
    )
    result = QCResult(
        stage_run=sr,
        checkpoint=checkpoint,
        **prepared.fields(),
        spec_snapshot=spec_snapshot(checkpoint, run),
        raw_file=raw_file,
        idempotency_key=key,
        supersedes=superseded,
        reason=reason,
        comment=comment,
        passage=run.passage,
        **recorder_fields(actor),
    )
    try:
        with transaction.atomic():
            result.save()
    except IntegrityError:
        raise idempotency_mismatch(key) from None
    changes = [
        run_audit_change(
            "qc_result.record",
            result,
            run,
            result_state(superseded) if superseded else None,
            result_state(result),
            reason,
        )
    ]
    changes += result_consequences(
        actor=actor, run=run, stage_run=sr, checkpoint=checkpoint, result=result
    )
    audit_record_many(actor=actor, changes=changes)
    return result


@transaction.atomic
def qc_result_correct(
    *,
    result: QCResult,
    value,
    unit: str | None,
    measured_at: datetime,
    reason: str,
    actor: Person,
    state: str | None = None,
) -> QCResult:
    """Correct the current result: a new result supersedes it, with a reason (people only)."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed(
            "a correction needs a reason", fields={"reason": ["this field is required"]}
        )
    if isinstance(actor, Instrument):
        raise NotPermitted("instruments cannot correct results; a person must")
    old = QCResult.objects.select_related("checkpoint").get(pk=result.pk)
    sr = lock_stage_run(old.stage_run_id)
    run = sr.run
    checkpoint = old.checkpoint
    require_role(actor, run.lab_id, CAN_WORK, "correct QC results")
    if QCResult.objects.filter(supersedes_id=old.pk).exists():
        raise Conflict(
            f"this result of '{checkpoint.name}' was already superseded; correct the current one",
            code="not_current",
        )
    if run.is_closed and not worked_after_release(run, sr):
        raise InvalidTransition(
            f"run {run.code} is {run.status}; results can no longer be corrected"
        )
    if sr.status not in (*WORKING_STAGE_STATUSES, StageStatus.COMPLETED):
        raise InvalidTransition(
            f"stage '{sr.stage.name}' is {sr.status}; its results cannot be corrected"
        )
    prepared = result_prepare(
        checkpoint=checkpoint,
        value=value,
        unit=unit,
        measured_at=measured_at,
        state=state,
        now=timezone.now(),
    )
    new = QCResult(
        stage_run=sr,
        checkpoint=checkpoint,
        **prepared.fields(),
        spec_snapshot=spec_snapshot(checkpoint, run),
        raw_file=old.raw_file,
        supersedes=old,
        reason=reason,
        comment=old.comment,
        passage=run.passage,
        **recorder_fields(actor),
    )
    new.save()
    changes = [
        run_audit_change(
            "qc_result.correct", new, run, result_state(old), result_state(new), reason
        )
    ]
    changes += result_consequences(
        actor=actor, run=run, stage_run=sr, checkpoint=checkpoint, result=new
    )
    audit_record_many(actor=actor, changes=changes)
    return new
