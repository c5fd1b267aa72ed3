"""Results whose verdict a layer above decided: an identity scan (custody judges the scanned
label against the expected COI and item), a value computed from the run's records (a
draw-to-processing time from the shipment). The result is placed, snapshotted, audited and has
the usual consequences (a failing blocking result opens a deviation and alerts the reviewers at
once; an identity failure is a critical one)."""

from __future__ import annotations

from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from protocol_tracker.audit.services import audit_record_many
from protocol_tracker.core.actors import Person
from protocol_tracker.core.errors import ValidationFailed
from protocol_tracker.protocols.models import CheckpointTemplate, RecordedBy, ValueType
from protocol_tracker.qc.models import QCResult, Verdict
from protocol_tracker.qc.services.consequences import result_consequences
from protocol_tracker.qc.services.preparing import (
    MEASURED_AT_SKEW,
    Prepared,
    idempotency_mismatch,
    result_placement,
    result_prepare,
    result_state,
    spec_snapshot,
    worked_after_release,
)
from protocol_tracker.runs.locks import lock_stage_run
from protocol_tracker.runs.models import StageRun
from protocol_tracker.runs.services import run_audit_change

DECIDED_VERDICTS = (Verdict.PASS, Verdict.FAIL)


@transaction.atomic
def qc_result_record_decided(
    *,
    stage_run: StageRun,
    checkpoint: CheckpointTemplate,
    actor: Person,
    measured_at: datetime,
    verdict: str | None = None,
    value=None,
    value_text: str = "",
    comment: str = "",
    idempotency_key: str = "",
) -> QCResult:
    """Record a result decided by the caller (who checked the actor's role).

    - An ``identity`` checkpoint: ``verdict`` pass or fail, ``value_text`` what the scan was
      judged as (e.g. "match", "mismatch: another donor").
    - A checkpoint ``recorded_by`` the system: ``value`` computed from records, judged here
      against the spec like any value.
    A repeated ``idempotency_key`` returns the first result."""
    if checkpoint.stage_id != stage_run.stage_id:
        message = f"checkpoint '{checkpoint.name}' does not belong to this stage"
        raise ValidationFailed(message, fields={"checkpoint": [message]})
    key = (idempotency_key or "").strip()[:128]
    sr = lock_stage_run(stage_run.pk, run_id=stage_run.run_id)
    run = sr.run
    now = timezone.now()
    if checkpoint.value_type == ValueType.IDENTITY:
        if verdict not in DECIDED_VERDICTS:
            raise ValidationFailed(f"verdict must be one of {list(DECIDED_VERDICTS)}")
        if timezone.is_naive(measured_at) or measured_at > now + MEASURED_AT_SKEW:
            raise ValidationFailed("measured_at must be aware and not in the future")
        prepared = Prepared(
            value_number=None,
            value_bool=None,
            value_text=value_text[:300],
            unit="",
            value_in_spec_unit=None,
            verdict=verdict,
            measured_at=measured_at,
            state=None,
        )
    elif checkpoint.recorded_by == RecordedBy.SYSTEM:
        prepared = result_prepare(
            checkpoint=checkpoint,
            value=value,
            unit=None,
            measured_at=measured_at,
            state=None,
            now=now,
        )
    else:
        raise ValidationFailed(
            f"checkpoint '{checkpoint.name}' is recorded by people or instruments, not decided"
        )
    if key:
        existing = QCResult.objects.filter(recorded_by=actor, idempotency_key=key).first()
        if existing is not None:
            if existing.stage_run_id == sr.pk and existing.checkpoint_id == checkpoint.pk:
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
        idempotency_key=key,
        supersedes=superseded,
        reason=reason,
        comment=comment[:2000],
        passage=run.passage,
        recorded_by=actor,
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
