"""Deviations: opened by the engine or by hand, investigated (FDA OOS phases), closed only by a
reviewer's signed disposition (four eyes)."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from labs.models import CAN_REVIEW, CAN_WORK, Instrument
from labs.selectors import require_role
from protocol_tracker.audit.services import audit_record, audit_record_many
from protocol_tracker.core.actors import Actor, Person
from protocol_tracker.core.errors import InvalidTransition, SignatureRefused, ValidationFailed
from protocol_tracker.core.tasks import enqueue_on_commit
from protocol_tracker.qc.locks import lock_deviation
from protocol_tracker.qc.models import (
    Deviation,
    DeviationKind,
    DeviationSeverity,
    DeviationStatus,
    Disposition,
    QCResult,
)
from protocol_tracker.qc.services.signatures import signature_sign
from protocol_tracker.runs.locks import lock_run
from protocol_tracker.runs.models import Run, StageRun
from protocol_tracker.runs.services import run_audit_change, run_close_rejected
from protocol_tracker.signatures.models import SignatureMeaning

DEVIATION_OPENED_TASK = "reminders.deviation_opened"


def deviation_state(deviation: Deviation) -> dict:
    return {
        "kind": deviation.kind,
        "severity": deviation.severity,
        "status": deviation.status,
        "title": deviation.title,
        "stage_run": deviation.stage_run_id,
        "qc_result": deviation.qc_result_id,
        "phase1_findings": deviation.phase1_findings,
        "phase2_findings": deviation.phase2_findings,
        "root_cause": deviation.root_cause,
        "disposition": deviation.disposition,
        "justification": deviation.justification,
        "closed_by": deviation.closed_by_id,
        "closed_at": deviation.closed_at,
    }


def deviation_create_system(
    *,
    run: Run,
    kind: str,
    title: str,
    actor: Actor | None,
    stage_run: StageRun | None = None,
    qc_result: QCResult | None = None,
    severity: str = DeviationSeverity.MAJOR,
    description: str = "",
) -> Deviation:
    """Open a deviation the engine raised itself (no role check; the caller was checked)."""
    deviation = Deviation.objects.create(
        lab_id=run.lab_id,
        run=run,
        stage_run=stage_run,
        qc_result=qc_result,
        kind=kind,
        severity=severity,
        title=title[:300],
        description=description,
        opened_by=None if isinstance(actor, Instrument) or actor is None else actor,
    )
    audit_record(
        actor=actor,
        action="deviation.open",
        obj=deviation,
        after=deviation_state(deviation),
        run_id=run.pk,
        lab_id=run.lab_id,
    )
    enqueue_on_commit(DEVIATION_OPENED_TASK, deviation.pk)
    return deviation


@transaction.atomic
def deviation_open(
    *,
    run: Run,
    kind: str,
    title: str,
    actor: Person,
    stage_run: StageRun | None = None,
    qc_result: QCResult | None = None,
    severity: str = DeviationSeverity.MAJOR,
    description: str = "",
) -> Deviation:
    """Report a deviation by hand (anyone who works in the lab)."""
    run = lock_run(run.pk)
    require_role(actor, run.lab_id, CAN_WORK, "report deviations")
    errors: dict[str, list[str]] = {}
    if kind not in DeviationKind.values:
        errors["kind"] = [f"one of {DeviationKind.values}"]
    if severity not in DeviationSeverity.values:
        errors["severity"] = [f"one of {DeviationSeverity.values}"]
    if not (title or "").strip():
        errors["title"] = ["this field is required"]
    if stage_run is not None and stage_run.run_id != run.pk:
        errors["stage_run"] = ["not a stage of this run"]
    if qc_result is not None:
        result_run = (
            StageRun.objects.filter(pk=qc_result.stage_run_id)
            .values_list("run_id", flat=True)
            .first()
        )
        if result_run != run.pk:
            errors["qc_result"] = ["not a result of this run"]
    if errors:
        raise ValidationFailed("the deviation report is incomplete", fields=errors)
    return deviation_create_system(
        run=run,
        kind=kind,
        title=title.strip(),
        actor=actor,
        stage_run=stage_run,
        qc_result=qc_result,
        severity=severity,
        description=(description or "").strip(),
    )


_PHASES = {
    "phase1": (DeviationStatus.PHASE1, "phase1_findings"),
    "phase2": (DeviationStatus.PHASE2, "phase2_findings"),
    "conclusion": (DeviationStatus.AWAITING_DISPOSITION, "root_cause"),
}


@transaction.atomic
def deviation_investigate(
    *, deviation: Deviation, phase: str, findings: str, actor: Person
) -> Deviation:
    """Record an investigation step: "phase1" (laboratory), "phase2" (full-scale, optional),
    or "conclusion" (root cause; the deviation then awaits its disposition)."""
    if phase not in _PHASES:
        raise ValidationFailed(
            f"phase must be one of {list(_PHASES)}", fields={"phase": [f"one of {list(_PHASES)}"]}
        )
    findings = (findings or "").strip()
    if not findings:
        raise ValidationFailed("findings are required", fields={"findings": ["required"]})
    dev = lock_deviation(deviation.pk, run_id=deviation.run_id)
    require_role(actor, dev.lab_id, CAN_WORK, "investigate deviations")
    status, field = _PHASES[phase]
    if not dev.can_transition_to(status):
        raise InvalidTransition(
            f"deviation DEV-{dev.pk} is {dev.status}; it cannot move to {status}"
        )
    before = deviation_state(dev)
    dev.status = status
    setattr(dev, field, findings)
    dev.save(update_fields=["status", field])
    audit_record(
        actor=actor,
        action=f"deviation.{phase}",
        obj=dev,
        before=before,
        after=deviation_state(dev),
        run_id=dev.run_id,
        lab_id=dev.lab_id,
    )
    return dev


_DISPOSITION_MEANING: dict[str, str] = {
    Disposition.ACCEPT: SignatureMeaning.APPROVED,
    Disposition.RETEST: SignatureMeaning.REVIEWED,
    Disposition.REJECT: SignatureMeaning.REJECTED,
}
DISPOSITION_MEANING = _DISPOSITION_MEANING  # the meaning each decision is signed with


@transaction.atomic
def deviation_disposition(
    *, deviation: Deviation, decision: str, justification: str, password: str, actor: Person
) -> Deviation:
    """A reviewer's signed decision that closes a deviation.

    accept: the result it is about counts as covered, so the stage may complete; retest: a new
    (superseding) result is required; reject: the stage fails and the run is rejected.
    """
    if decision not in _DISPOSITION_MEANING:
        raise ValidationFailed(
            f"decision must be one of {Disposition.values}",
            fields={"decision": [f"one of {Disposition.values}"]},
        )
    justification = (justification or "").strip()
    if not justification:
        raise ValidationFailed(
            "a disposition needs a justification",
            fields={"justification": ["this field is required"]},
        )
    dev = lock_deviation(deviation.pk, run_id=deviation.run_id)
    run = dev.run
    require_role(actor, dev.lab_id, CAN_REVIEW, "dispose of deviations")
    if not dev.is_open:
        raise InvalidTransition(f"deviation DEV-{dev.pk} is closed")
    if (
        dev.kind in (DeviationKind.OUT_OF_SPEC, DeviationKind.LATE_RESULT, DeviationKind.IDENTITY)
        and dev.status == DeviationStatus.OPEN
    ):
        raise InvalidTransition(
            f"deviation DEV-{dev.pk} needs a phase I laboratory investigation before its "
            f"disposition (FDA OOS guidance)"
        )
    if dev.qc_result is not None and dev.qc_result.recorded_by_id == actor.pk:
        raise SignatureRefused(
            "four eyes: you recorded the result this deviation is about; another reviewer must sign"
        )
    if dev.stage_run is not None and dev.stage_run.completed_by_id == actor.pk:
        raise SignatureRefused(
            "four eyes: you completed the stage this deviation is about; another reviewer must sign"
        )
    before = deviation_state(dev)
    dev.status = DeviationStatus.CLOSED
    dev.disposition = decision
    dev.justification = justification
    dev.closed_by = actor
    dev.closed_at = timezone.now()
    dev.save(update_fields=["status", "disposition", "justification", "closed_by", "closed_at"])
    changes = [
        run_audit_change(
            "deviation.disposition", dev, run, before, deviation_state(dev), justification
        )
    ]
    if decision == Disposition.REJECT:
        changes += run_close_rejected(
            run, actor=actor, reason=justification, stage_run=dev.stage_run
        )
    audit_record_many(actor=actor, changes=changes)
    signature_sign(
        signer=actor,
        password=password,
        meaning=_DISPOSITION_MEANING[decision],
        obj=dev,
        run=run,
        statement=f"{decision} deviation DEV-{dev.pk} ({dev.title}): {justification}",
    )
    return dev
