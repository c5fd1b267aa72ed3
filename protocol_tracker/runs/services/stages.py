"""Stage runs: start, completion (the part below the QC gate), failure, assignment, re-planning.

``stage_complete`` itself lives in :mod:`protocol_tracker.qc.services`: a stage completes only
when its QC gate is met, which qc judges; it then calls :func:`stage_run_complete` here. Every
transition is checked against ``StageRun.ALLOWED_TRANSITIONS``.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from labs.models import CAN_WORK
from labs.selectors import has_role, require_role
from protocol_tracker.audit.services import Change, audit_record_many
from protocol_tracker.core.actors import Actor, Person
from protocol_tracker.core.errors import InvalidTransition, ValidationFailed
from protocol_tracker.protocols.models import StageTemplate
from protocol_tracker.runs import planning
from protocol_tracker.runs.locks import lock_stage_run
from protocol_tracker.runs.models import Run, RunStatus, StageRun, StageStatus, TaskOccurrence
from protocol_tracker.runs.services.common import (
    DONE_STAGE_STATUSES,
    post_release_ids,
    refuse_unless_workable,
    require_reason,
    run_audit_change,
    run_state,
    stage_run_state,
)
from protocol_tracker.runs.services.expiry import refuse_if_product_expired


def require_stage_transition(sr: StageRun, status: str, refusal: str) -> None:
    """Raise InvalidTransition (``refusal`` completes "stage 'X' is <status>; ...") unless the
    table allows ``sr`` to move to ``status``."""
    if not sr.can_transition_to(status):
        raise InvalidTransition(f"stage '{sr.stage.name}' is {sr.status}; {refusal}")


def _open_predecessors(stage_run: StageRun) -> list[str]:
    return list(
        StageRun.objects.filter(run_id=stage_run.run_id, stage__dependants=stage_run.stage_id)
        .exclude(status__in=DONE_STAGE_STATUSES)
        .order_by("order")
        .values_list("stage__name", flat=True)
    )


@transaction.atomic
def stage_start(*, stage_run: StageRun, actor: Person) -> StageRun:
    """ready → in progress. Refused while a predecessor is open or the run is not active (for a
    post-release stage: not released)."""
    sr = lock_stage_run(stage_run.pk, run_id=stage_run.run_id)
    run = sr.run
    require_role(actor, run.lab_id, CAN_WORK, "start stages")
    name = sr.stage.name
    refuse_unless_workable(run, sr, doing=f"starting stage '{name}'", refused="cannot start")
    if sr.status == StageStatus.PENDING:
        blockers = _open_predecessors(sr)
        if blockers:
            raise InvalidTransition(
                f"stage '{name}' cannot start: "
                + ", ".join(f"'{b}'" for b in blockers)
                + (" is" if len(blockers) == 1 else " are")
                + " not completed"
            )
    require_stage_transition(sr, StageStatus.IN_PROGRESS, "only a ready stage can start")
    refuse_if_product_expired(run, sr)
    before = stage_run_state(sr)
    sr.status = StageStatus.IN_PROGRESS
    sr.started_at = timezone.now()
    sr.started_by = actor
    sr.save(update_fields=["status", "started_at", "started_by"])
    audit_record_many(
        actor=actor,
        changes=[run_audit_change("stage_run.start", sr, run, before, stage_run_state(sr))],
    )
    return sr


def _replan(run: Run, *, just_completed: StageRun | None) -> tuple[list[StageRun], list[Change]]:
    """Make ready the dependants whose dependencies are done; re-plan what has not started.

    Post-release stages become ready only once the run is released, and then start no earlier
    than the release.
    """
    stage_runs = list(StageRun.objects.filter(run=run).select_related("stage").order_by("order"))
    by_stage = {sr.stage_id: sr for sr in stage_runs}
    if just_completed is not None:
        by_stage[just_completed.stage_id] = just_completed
    post_release = post_release_ids(run)
    released = run.status == RunStatus.RELEASED
    stage_runs = [by_stage[sr.stage_id] for sr in stage_runs]
    depends: dict[int, list[int]] = {sr.stage_id: [] for sr in stage_runs}
    through = StageTemplate.depends_on.through.objects.filter(
        from_stagetemplate__protocol_id=run.protocol_id
    ).values_list("from_stagetemplate_id", "to_stagetemplate_id")
    for src, dst in through:
        depends[src].append(dst)
    order = planning.topological_order(list(depends), depends)
    movable = {StageStatus.PENDING, StageStatus.READY}
    fixed = {
        sr.stage_id: planning.StageSpan(sr.planned_start, sr.due_at)
        for sr in stage_runs
        if sr.status not in movable
    }
    finished = {
        sr.stage_id: sr.completed_at
        for sr in stage_runs
        if sr.status == StageStatus.COMPLETED and sr.completed_at is not None
    }
    spans = planning.plan_stages(
        start=run.planned_start,
        order=order,
        durations={sr.stage_id: sr.stage.expected_duration for sr in stage_runs},
        depends_on=depends,
        tz=run.lab.tz,
        fixed=fixed,
        finished=finished,
        not_before=(
            dict.fromkeys(post_release, run.closed_at)
            if released and run.closed_at is not None
            else None
        ),
    )
    changed: list[StageRun] = []
    changes: list[Change] = []
    shifts: dict[int, timedelta] = {}
    for sr in stage_runs:
        if sr.status not in movable:
            continue
        before = stage_run_state(sr)
        actions = []
        if (
            sr.status == StageStatus.PENDING
            and (released or sr.stage_id not in post_release)
            and all(by_stage[d].status in DONE_STAGE_STATUSES for d in depends[sr.stage_id])
        ):
            sr.status = StageStatus.READY
            actions.append("ready")
        span = spans[sr.stage_id]
        if (span.planned_start, span.due_at) != (sr.planned_start, sr.due_at):
            shifts[sr.pk] = planning.wall_delta(span.planned_start, sr.planned_start, run.lab.tz)
            sr.planned_start, sr.due_at = span.planned_start, span.due_at
            actions.append("replan")
        if actions:
            changed.append(sr)
            changes.append(
                run_audit_change(
                    f"stage_run.{'_'.join(actions)}", sr, run, before, stage_run_state(sr)
                )
            )
    if changed:
        StageRun.objects.bulk_update(changed, ["status", "planned_start", "due_at"])
    if shifts:
        _shift_open_tasks(shifts, run.lab.tz)
    return stage_runs, changes


def _shift_open_tasks(shifts: dict[int, timedelta], tz) -> None:
    """Move the open bench tasks of re-planned stages by the stage's shift on the local clock."""
    occurrences = list(
        TaskOccurrence.objects.filter(stage_run_id__in=shifts, done_at__isnull=True, skipped=False)
    )
    if not occurrences:
        return
    # Park them far away first so the unique (stage run, task, due time) never sees a transient
    # clash while each row moves into a slot another row is just leaving.
    TaskOccurrence.objects.filter(pk__in=[o.pk for o in occurrences]).update(
        due_at=F("due_at") + timedelta(days=365 * 200)
    )
    for occurrence in occurrences:
        occurrence.due_at = planning.wall_add(
            occurrence.due_at, shifts[occurrence.stage_run_id], tz
        )
    TaskOccurrence.objects.bulk_update(occurrences, ["due_at"], batch_size=500)


def open_post_release_work(run: Run) -> list[Change]:
    """At the release (``run`` locked and already released): the post-release stages whose
    dependencies are done become ready, and what has not started is re-planned from the
    release time. Returns the audit changes for the caller to write."""
    return _replan(run, just_completed=None)[1]


def stage_run_complete(
    sr: StageRun, run: Run, *, actor: Person, note: str, now: datetime
) -> list[Change]:
    """Complete ``sr`` (locked with its ``run``; its gate checked by the caller) at ``now``.

    Then: dependants whose dependencies are all done become ready, what has not started is
    re-planned from the actual completion, and the run completes (awaits its release) with its
    last manufacturing stage; a released run whose post-release stages are all done gets
    ``post_release_completed_at`` and stays released. Returns the audit changes."""
    require_stage_transition(sr, StageStatus.COMPLETED, "only a stage in progress can complete")
    before = stage_run_state(sr)
    sr.status = StageStatus.COMPLETED
    sr.completed_at = now
    sr.completed_by = actor
    note = note.strip()
    if note:
        sr.notes = f"{sr.notes}\n{note}".strip()
    sr.save(update_fields=["status", "completed_at", "completed_by", "notes"])
    changes = [run_audit_change("stage_run.complete", sr, run, before, stage_run_state(sr), note)]

    stage_runs, replan_changes = _replan(run, just_completed=sr)
    changes += replan_changes
    post_release_ids_ = post_release_ids(run)
    if run.status == RunStatus.ACTIVE and all(
        other.status in DONE_STAGE_STATUSES
        for other in stage_runs
        if other.stage_id not in post_release_ids_
    ):
        run_before = run_state(run)
        run.status = RunStatus.COMPLETED
        run.completed_at = now
        run.save(update_fields=["status", "completed_at"])
        changes.append(run_audit_change("run.complete", run, run, run_before, run_state(run)))
    elif (
        run.status == RunStatus.RELEASED
        and run.post_release_completed_at is None
        and all(other.status in DONE_STAGE_STATUSES for other in stage_runs)
    ):
        run_before = run_state(run)
        run.post_release_completed_at = now
        run.save(update_fields=["post_release_completed_at"])
        changes.append(
            run_audit_change("run.post_release_complete", run, run, run_before, run_state(run))
        )
    return changes


def stage_run_fail(
    sr: StageRun,
    run: Run,
    *,
    actor: Actor | None,
    reason: str,
    now: datetime | None = None,
    save: bool = True,
) -> Change:
    """Fail ``sr`` (in progress; locked with its ``run``): the one shape of a failed stage, for a
    technician's :func:`stage_fail`, a rejecting disposition and a closing run alike. Returns the
    audit change; ``save=False`` leaves the row for the caller's bulk update."""
    require_stage_transition(sr, StageStatus.FAILED, "only a stage in progress can fail")
    before = stage_run_state(sr)
    sr.status = StageStatus.FAILED
    sr.completed_at = now or timezone.now()
    sr.completed_by = actor if isinstance(actor, get_user_model()) else None
    sr.notes = f"{sr.notes}\nFailed: {reason}".strip()
    if save:
        sr.save(update_fields=["status", "completed_at", "completed_by", "notes"])
    return run_audit_change("stage_run.fail", sr, run, before, stage_run_state(sr), reason)


@transaction.atomic
def stage_fail(*, stage_run: StageRun, actor: Person, reason: str) -> StageRun:
    """in progress / awaiting QC → failed (the run stays open for a reviewer to decide)."""
    sr = lock_stage_run(stage_run.pk, run_id=stage_run.run_id)
    run = sr.run
    require_role(actor, run.lab_id, CAN_WORK, "fail stages")
    reason = require_reason(reason)
    change = stage_run_fail(sr, run, actor=actor, reason=reason)
    audit_record_many(actor=actor, changes=[change])
    return sr


@transaction.atomic
def stage_assign(*, stage_run: StageRun, assignee: Person | None, actor: Person) -> StageRun:
    """Give an open stage to someone who works in the lab (``assignee=None`` unassigns)."""
    sr = lock_stage_run(stage_run.pk, run_id=stage_run.run_id)
    run = sr.run
    require_role(actor, run.lab_id, CAN_WORK, "assign stages")
    if assignee is not None and not has_role(assignee, run.lab_id, CAN_WORK):
        message = f"{assignee.get_username()} does not work in this lab"
        raise ValidationFailed(message, fields={"assignee": [message]})
    if sr.status in (StageStatus.COMPLETED, StageStatus.FAILED, StageStatus.SKIPPED):
        raise InvalidTransition(f"stage '{sr.stage.name}' is {sr.status}; it cannot be assigned")
    before = stage_run_state(sr)
    sr.assignee = assignee
    sr.save(update_fields=["assignee"])
    audit_record_many(
        actor=actor,
        changes=[run_audit_change("stage_run.assign", sr, run, before, stage_run_state(sr))],
    )
    return sr
