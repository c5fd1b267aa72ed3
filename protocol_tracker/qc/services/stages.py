"""Completing a stage: the QC gate, then the runs engine's completion, then its window.

A stage completes only when every blocking checkpoint is satisfied (``stage_qc_gaps``: a current
passing or ``no_spec`` result, or an out-of-spec one covered by an accepted disposition; a
pending result on a ``pending_allowed`` checkpoint is left to the release). The bench tasks still
open are resolved with the completion (done late, skipped, not applicable; each with a reason),
and finishing outside the stage's allowed window needs a reason first: the minor ``window``
deviation it opens carries it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from django.db import transaction
from django.utils import timezone

from labs.models import CAN_WORK
from labs.selectors import require_role
from protocol_tracker.audit.services import audit_record_many
from protocol_tracker.core.actors import Person
from protocol_tracker.core.errors import InvalidTransition, ValidationFailed
from protocol_tracker.core.text import clean_text
from protocol_tracker.equipment.models import Equipment
from protocol_tracker.qc.models import DeviationKind, DeviationSeverity
from protocol_tracker.qc.selectors import stage_qc_gaps
from protocol_tracker.qc.services.deviations import deviation_create_system
from protocol_tracker.runs.locks import lock_stage_run
from protocol_tracker.runs.models import StageRun, StageStatus
from protocol_tracker.runs.services import (
    TaskResolutionInput,
    refuse_unless_workable,
    require_stage_transition,
    resolve_open_tasks,
    stage_run_complete,
)
from protocol_tracker.usage.selectors import stage_usage_gaps
from protocol_tracker.usage.services import LotUse, record_usage

WINDOW_REASON_MAX = 2000


@transaction.atomic
def stage_complete(
    *,
    stage_run: StageRun,
    actor: Person,
    note: str = "",
    window_reason: str = "",
    task_resolutions: Iterable[TaskResolutionInput] = (),
    lots: Sequence[LotUse] = (),
    equipment: Sequence[Equipment] = (),
) -> StageRun:
    """in progress / awaiting QC → completed, when every blocking checkpoint is satisfied and
    every required line of the stage's bill of materials and equipment has been recorded.

    ``lots`` and ``equipment`` are recorded first, in the same transaction, through the usage
    gates (``usage.services.record_usage``: a lot that may not be used or equipment out of
    calibration refuses the whole completion). Refused (``InvalidTransition``, nothing changed)
    while a gate is not met. Refused (``ValidationFailed`` with ``window_reason`` and/or
    ``tasks`` errors, nothing changed) when the stage finishes outside its allowed window
    without a ``window_reason``, or when a bench task that fell due is still open without a
    resolution in ``task_resolutions`` (:func:`~protocol_tracker.runs.services.resolve_open_tasks`;
    occurrences not yet due become not applicable). Then the open tasks are resolved, the runs
    engine completes the stage (:func:`~protocol_tracker.runs.services.stage_run_complete`:
    dependants ready, re-planning, the run's own completion) and a completion outside the window
    opens a ``window`` deviation that carries the reason.
    """
    sr = lock_stage_run(stage_run.pk, run_id=stage_run.run_id)
    run = sr.run
    require_role(actor, run.lab_id, CAN_WORK, "complete stages")
    name = sr.stage.name
    refuse_unless_workable(run, sr, doing=f"completing stage '{name}'", refused="cannot complete")
    require_stage_transition(sr, StageStatus.COMPLETED, "only a stage in progress can complete")
    now = timezone.now()
    usage_changes = []
    if lots or equipment:
        usage_changes = record_usage(
            run=run, stage_run=sr, actor=actor, now=now, lots=lots, equipment=equipment
        ).changes
    gaps = stage_qc_gaps(sr)
    if gaps:
        raise InvalidTransition(
            f"stage '{name}' cannot complete: {gaps.describe()}",
            fields={"checkpoints": gaps.keys()},
        )
    missing = stage_usage_gaps(sr, lab_id=run.lab_id)
    if missing:
        raise InvalidTransition(
            f"stage '{name}' cannot complete: {missing.describe()}",
            code="materials_missing",
            fields={"lots": missing.materials, "equipment": missing.equipment},
        )
    early, late = sr.due_at - sr.stage.window_early, sr.due_at + sr.stage.window_late
    outside = not early <= now <= late
    hours = abs(now - sr.due_at).total_seconds() / 3600
    which = "early" if now < early else "late"
    problems: dict[str, list[str]] = {}
    window_reason = clean_text(window_reason, field="window_reason", max_length=WINDOW_REASON_MAX)
    if outside and not window_reason:
        problems["window_reason"] = [
            f"stage '{name}' finishes {hours:.1f} h {which}, outside its allowed window: "
            "give the reason first (it goes into the window deviation)"
        ]
    changes = list(usage_changes)
    try:
        changes += resolve_open_tasks(sr, run, resolutions=task_resolutions, actor=actor, now=now)
    except ValidationFailed as exc:
        problems.update(exc.fields)
    if problems:
        raise ValidationFailed(
            f"stage '{name}' cannot complete yet: "
            + "; ".join(m for messages in problems.values() for m in messages),
            code="completion_needs_reasons",
            fields=problems,
        )
    changes += stage_run_complete(sr, run, actor=actor, note=note, now=now)
    audit_record_many(actor=actor, changes=changes)
    if outside:
        tz = run.lab.tz
        deviation_create_system(
            run=run,
            stage_run=sr,
            kind=DeviationKind.WINDOW,
            severity=DeviationSeverity.MINOR,
            actor=actor,
            title=f"Stage '{name}' finished {hours:.1f} h {which}",
            description=(
                f"Completed {now.astimezone(tz):%Y-%m-%d %H:%M %Z}; due "
                f"{sr.due_at.astimezone(tz):%Y-%m-%d %H:%M %Z}; allowed window "
                f"{early.astimezone(tz):%Y-%m-%d %H:%M} to {late.astimezone(tz):%Y-%m-%d %H:%M}. "
                f"Reason given at completion: {window_reason}"
            ),
        )
    return sr
