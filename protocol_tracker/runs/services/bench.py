"""Bench tasks: the recurring work inside a stage, logged as done once, and the resolution of
the occurrences still open when their stage completes."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from labs.models import CAN_WORK
from labs.selectors import require_role
from protocol_tracker.audit.services import Change, audit_record_many
from protocol_tracker.core.actors import Person
from protocol_tracker.core.errors import Conflict, InvalidTransition, ValidationFailed
from protocol_tracker.core.text import clean_text
from protocol_tracker.runs.locks import lock_stage_run
from protocol_tracker.runs.models import Run, StageRun, TaskOccurrence, TaskResolution
from protocol_tracker.runs.services.common import (
    WORKING_STAGE_STATUSES,
    refuse_unless_workable,
    run_audit_change,
)


@transaction.atomic
def task_done(*, occurrence: TaskOccurrence, actor: Person, note: str = "") -> TaskOccurrence:
    """Log a bench task as done (once: a second time is a Conflict)."""
    sr = lock_stage_run(occurrence.stage_run_id)
    run = sr.run
    require_role(actor, run.lab_id, CAN_WORK, "log bench tasks")
    occ = TaskOccurrence.objects.select_related("task").get(pk=occurrence.pk)
    if occ.done_at is not None:
        raise Conflict(
            f"'{occ.task.name}' due {occ.due_at:%Y-%m-%d %H:%M} UTC is already done",
            code="already_done",
        )
    if occ.skipped:
        raise Conflict(f"'{occ.task.name}' was skipped", code="skipped")
    refuse_unless_workable(
        run, sr, doing="logging bench tasks", refused="cannot have bench tasks logged"
    )
    if sr.status not in WORKING_STAGE_STATUSES:
        raise InvalidTransition(
            f"stage '{sr.stage.name}' is {sr.status}; bench tasks are logged while it is in "
            f"progress"
        )
    occ.done_at = timezone.now()
    occ.done_by = actor
    occ.note = note.strip()
    occ.save(update_fields=["done_at", "done_by", "note"])
    audit_record_many(
        actor=actor,
        changes=[
            run_audit_change(
                "task.done",
                occ,
                run,
                {"done_at": None},
                {"done_at": occ.done_at, "done_by": actor.pk, "note": occ.note},
            )
        ],
    )
    return occ


# What an occurrence that was not yet due when its stage completed becomes, and why.
NOT_DUE_REASON = "not due before the stage completed"
TASK_REASON_MAX = 2000


@dataclass(frozen=True)
class TaskResolutionInput:
    """How one open occurrence is closed at its stage's completion, and why."""

    occurrence_id: int
    resolution: str
    reason: str


def open_tasks_of_stage(stage_run: StageRun) -> list[TaskOccurrence]:
    """The stage run's occurrences neither done nor closed, by due time."""
    return list(
        TaskOccurrence.objects.filter(stage_run=stage_run, done_at__isnull=True, skipped=False)
        .select_related("task")
        .order_by("due_at", "pk")
    )


def resolve_open_tasks(
    sr: StageRun,
    run: Run,
    *,
    resolutions: Iterable[TaskResolutionInput],
    actor: Person,
    now: datetime,
) -> list[Change]:
    """Close every open occurrence of ``sr`` (locked with its ``run``) as its stage completes.

    Each occurrence that fell due by ``now`` needs a resolution with a reason (done late,
    skipped, not applicable); one not yet due becomes *not applicable* ("not due before the
    stage completed") unless a resolution names it. Refused (``ValidationFailed``, nothing
    written) when a due occurrence has none, a resolution names an occurrence that is not open
    on this stage, or its kind or reason is bad. Returns the audit changes.
    """
    open_tasks = {occ.pk: occ for occ in open_tasks_of_stage(sr)}
    given: dict[int, TaskResolutionInput] = {}
    problems: list[str] = []
    for item in resolutions:
        occ = open_tasks.get(item.occurrence_id)
        if occ is None:
            problems.append(f"task occurrence {item.occurrence_id} is not open on this stage")
            continue
        label = f"'{occ.task.name}' due {occ.due_at:%Y-%m-%d %H:%M} UTC"
        if item.resolution not in TaskResolution.values:
            problems.append(f"{label}: resolution must be one of {TaskResolution.values}")
            continue
        try:
            reason = clean_text(
                item.reason, field="reason", max_length=TASK_REASON_MAX, required=True
            )
        except ValidationFailed as exc:
            problems.append(f"{label}: {exc.message}")
            continue
        given[occ.pk] = TaskResolutionInput(occ.pk, item.resolution, reason)
    missing = [occ for pk, occ in open_tasks.items() if occ.due_at <= now and pk not in given]
    problems += [
        f"'{occ.task.name}' due {occ.due_at:%Y-%m-%d %H:%M} UTC is open: say whether it was "
        "done late, skipped or not applicable, and why"
        for occ in missing
    ]
    if problems:
        raise ValidationFailed(
            f"stage '{sr.stage.name}' has open bench tasks to resolve: " + "; ".join(problems),
            code="task_resolution_required",
            fields={"tasks": problems},
        )
    changes: list[Change] = []
    for occ in open_tasks.values():
        item = given.get(occ.pk) or TaskResolutionInput(
            occ.pk, TaskResolution.NOT_APPLICABLE, NOT_DUE_REASON
        )
        occ.resolution = item.resolution
        occ.resolution_reason = item.reason
        occ.resolved_by = actor
        occ.resolved_at = now
        if item.resolution == TaskResolution.DONE_LATE:
            occ.done_at, occ.done_by = now, actor
        else:
            occ.skipped = True
        changes.append(
            run_audit_change(
                "task.resolve",
                occ,
                run,
                {"done_at": None, "skipped": False},
                {
                    "resolution": occ.resolution,
                    "done_at": occ.done_at,
                    "skipped": occ.skipped,
                    "resolved_by": actor.pk,
                },
                item.reason,
            )
        )
    TaskOccurrence.objects.bulk_update(
        list(open_tasks.values()),
        ["resolution", "resolution_reason", "resolved_by", "resolved_at", "done_at", "done_by",
         "skipped"],
    )  # fmt: skip
    return changes
