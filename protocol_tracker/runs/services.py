"""The workflow engine: every state change of donors, runs, stage runs and bench tasks.

Each service is keyword-only, runs in one transaction, checks the actor's role in the run's lab,
locks what it changes through :mod:`protocol_tracker.runs.locks` (run first, then stage runs),
writes its audit events and raises :mod:`protocol_tracker.core.errors` exceptions whose message
names the broken rule. A refused call writes nothing.

Decisions worth knowing:

- ``stage_complete`` refuses (``InvalidTransition``, nothing changed) while a blocking checkpoint
  has no current result, a pending one, an invalid assay, or an out-of-spec result that no accepted
  deviation disposition covers. A pending result on a ``pending_allowed`` checkpoint does not block
  the stage: the release decides about it (conditional release). ``no_spec`` satisfies a blocking
  checkpoint (the result exists; there is nothing to judge it by).
- Plans use wall-clock durations in the lab's time zone (see :mod:`runs.planning`). A stage is
  re-planned only when an upstream stage completes: its dependants (and theirs, transitively) that
  have not started move to follow the actual completion, and their open bench tasks move with them.
- Creating a run writes one audit event for the run and one per stage run; the bench task
  occurrences are part of that plan (their number is in the run's event), and each one gets an
  event of its own when it is done.
- Stopping a run (terminate, reject) closes its open work: stages not started are skipped, stages
  in progress fail, open bench tasks are skipped; so reminders never chase a closed run.
- Release gates manufacturing, not the clinic. The stages downstream of a stage of kind
  ``release`` (transplant, follow-up: :func:`runs.selectors.post_release_stage_ids`) are
  *post-release*. The run becomes ``completed`` (ready for its release review) when every other
  stage is done; the post-release stages stay pending until the signed release, which makes them
  ready and re-plans them from the release time (:func:`open_post_release_work`, the same
  re-planning as a stage completion). They are then started, completed and given results while
  the run is ``released``; the manufacturing stages stay frozen. When the last of them is done
  the run stays released and gets ``post_release_completed_at``. A protocol without a release
  stage has no post-release stages: every stage must be done before the release.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from labs.models import CAN_REVIEW, CAN_WORK, Lab
from labs.selectors import has_role
from protocol_tracker.audit.services import Change, audit_record, audit_record_many
from protocol_tracker.core.errors import (
    Conflict,
    InvalidTransition,
    NotPermitted,
    ValidationFailed,
)
from protocol_tracker.protocols.models import ProtocolStatus, ProtocolTemplate, StageTemplate
from protocol_tracker.runs import planning
from protocol_tracker.runs.locks import lock_run, lock_stage_run
from protocol_tracker.runs.models import (
    DONOR_CODE_VALIDATOR,
    ConsentScope,
    Donor,
    PassageEvent,
    PassageKind,
    Run,
    RunStatus,
    StageRun,
    StageStatus,
    TaskOccurrence,
)
from protocol_tracker.runs.selectors import post_release_stage_ids

DONE_STAGE_STATUSES = frozenset({StageStatus.COMPLETED, StageStatus.SKIPPED})
WORKING_STAGE_STATUSES = frozenset({StageStatus.IN_PROGRESS, StageStatus.AWAITING_QC})
# Protocol stage kinds that need a matching consent scope when the donor's scope is recorded.
_SCOPE_FOR_KIND = {"reprogramming": ConsentScope.REPROGRAMMING, "banking": ConsentScope.BANKING}
_PASSAGE_INCREMENT = {
    PassageKind.PASSAGE: 1,
    PassageKind.SPLIT: 1,
    PassageKind.THAW: 0,
    PassageKind.FREEZE: 0,
}


# --- shared checks --------------------------------------------------------------------------


def require_role(actor, lab: Lab | int, roles, doing: str) -> None:
    """Raise NotPermitted unless ``actor`` (a user) has one of ``roles`` in ``lab``."""
    if actor is None or not has_role(actor, lab, roles):
        who = actor.get_username() if actor is not None else "nobody"
        raise NotPermitted(f"{who} may not {doing} in this lab")


def require_aware(moment: datetime | None, field: str) -> None:
    if moment is not None and timezone.is_naive(moment):
        raise ValidationFailed(
            f"{field} must carry a time zone", fields={field: ["give a time zone offset"]}
        )


def _require_reason(reason: str, field: str = "reason") -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed(f"a {field} is required", fields={field: ["this field is required"]})
    return reason


def _refuse_unless_active(run: Run, doing: str) -> None:
    if run.status != RunStatus.ACTIVE:
        raise InvalidTransition(f"run {run.code} is {run.status}; {doing} needs an active run")


def _post_release(run: Run) -> frozenset[int]:
    """Stage template ids of ``run``'s post-release stages (cached on its protocol instance)."""
    return post_release_stage_ids(run.protocol)


def _refuse_unless_workable(run: Run, sr: StageRun, *, doing: str, refused: str) -> None:
    """Manufacturing stages are worked while the run is active, post-release stages (transplant,
    follow-up) once it is released; ``refused`` completes "stage 'X' ..." before the release."""
    if sr.stage_id in _post_release(run):
        if run.status == RunStatus.RELEASED:
            return
        if not run.is_closed:
            raise InvalidTransition(
                f"stage '{sr.stage.name}' {refused} before run {run.code} is released"
            )
    _refuse_unless_active(run, doing)


def run_state(run: Run) -> dict:
    return {
        "status": run.status,
        "passage": run.passage,
        "assignee": run.assignee_id,
        "planned_start": run.planned_start,
        "started_at": run.started_at,
        "completed_at": run.completed_at,
        "closed_at": run.closed_at,
        "post_release_completed_at": run.post_release_completed_at,
        "conditional_release": run.conditional_release,
        "pending_tests": list(run.pending_tests or []),
        "flagged": run.flagged,
        "flag_reason": run.flag_reason,
    }


def stage_run_state(stage_run: StageRun) -> dict:
    return {
        "status": stage_run.status,
        "planned_start": stage_run.planned_start,
        "due_at": stage_run.due_at,
        "started_at": stage_run.started_at,
        "started_by": stage_run.started_by_id,
        "completed_at": stage_run.completed_at,
        "completed_by": stage_run.completed_by_id,
        "assignee": stage_run.assignee_id,
    }


def run_audit_change(
    action: str, obj, run: Run, before=None, after=None, reason: str = ""
) -> Change:
    """The audit entry for a change to ``obj`` within ``run`` (filed under the run and its lab)."""
    return Change(
        action=action,
        obj=obj,
        before=before,
        after=after,
        reason=reason,
        run_id=run.pk,
        lab_id=run.lab_id,
    )


# --- donors ---------------------------------------------------------------------------------


@transaction.atomic
def donor_create(
    *,
    lab: Lab,
    code: str,
    consent_given: bool,
    consent_scope: Sequence[str] = (),
    consent_version: str = "",
    actor,
) -> Donor:
    """Register a pseudonymous donor (a code, never a name) with their consent."""
    require_role(actor, lab, CAN_WORK, "register donors")
    code = (code or "").strip()
    try:
        DONOR_CODE_VALIDATOR(code)
    except ValidationError as exc:
        raise ValidationFailed(str(exc.message), fields={"code": [str(exc.message)]}) from None
    scope = list(dict.fromkeys(consent_scope))
    unknown = [s for s in scope if s not in ConsentScope.values]
    if unknown:
        message = f"unknown consent scope {unknown} (one of {ConsentScope.values})"
        raise ValidationFailed(message, fields={"consent_scope": [message]})
    if Donor.objects.filter(lab=lab, code=code).exists():
        raise Conflict(f"donor {code} already exists in this lab", code="duplicate")
    donor = Donor(
        lab=lab,
        code=code,
        consent_given=bool(consent_given),
        consent_scope=scope,
        consent_version=consent_version.strip(),
        created_by=actor,
    )
    try:
        with transaction.atomic():
            donor.save()
    except IntegrityError:
        raise Conflict(f"donor {code} already exists in this lab", code="duplicate") from None
    audit_record(
        actor=actor,
        action="donor.create",
        obj=donor,
        lab_id=lab.pk,
        after={
            "code": code,
            "consent_given": donor.consent_given,
            "consent_scope": scope,
            "consent_version": donor.consent_version,
        },
    )
    return donor


# --- runs -----------------------------------------------------------------------------------


def _next_run_code(lab: Lab, donor: Donor, protocol: ProtocolTemplate) -> str:
    prefix = f"{donor.code}-{protocol.code[:6].upper()}-"
    # Through the donor's index: the cost follows this donor's runs, not the table.
    taken = (
        Run.objects.filter(donor=donor, code__startswith=prefix)
        .order_by()
        .values_list("code", flat=True)
    )
    numbers = [int(c[len(prefix) :]) for c in taken if c[len(prefix) :].isdigit()]
    return f"{prefix}{max(numbers, default=0) + 1:03d}"


def _stage_graph(stages: Sequence[StageTemplate]) -> tuple[list[int], dict[int, list[int]]]:
    depends = {s.pk: [d.pk for d in s.depends_on.all()] for s in stages}
    try:
        order = planning.topological_order([s.pk for s in stages], depends)
    except planning.PlanningError as exc:
        raise ValidationFailed(f"the protocol's stages cannot be planned: {exc}") from None
    return order, depends


@transaction.atomic
def run_create(
    *,
    lab: Lab,
    protocol: ProtocolTemplate,
    donor: Donor,
    actor,
    code: str | None = None,
    parent: Run | None = None,
    planned_start: datetime | None = None,
    assignee=None,
) -> Run:
    """Create a planned run with all its stage runs and bench tasks, planned along the DAG.

    The protocol must be published and the donor consented, both in ``lab``; a child run belongs
    to its parent's donor (chain of identity) and inherits its passage number and lineage root.
    The number of queries does not depend on how many runs exist.
    """
    require_role(actor, lab, CAN_WORK, "create runs")
    if protocol.lab_id != lab.pk or protocol.status != ProtocolStatus.PUBLISHED:
        message = f"protocol {protocol} is not a published protocol of this lab"
        raise ValidationFailed(message, fields={"protocol": [message]})
    if donor.lab_id != lab.pk:
        raise ValidationFailed("donor not found in this lab", fields={"donor": ["not found"]})
    if not donor.consent_given:
        message = f"donor {donor.code} has no recorded consent; a run cannot start without consent"
        raise ValidationFailed(message, fields={"donor": [message]})
    if parent is not None:
        if parent.lab_id != lab.pk:
            raise ValidationFailed(
                "parent run not found in this lab", fields={"parent": ["not found"]}
            )
        if parent.donor_id != donor.pk:
            message = (
                f"chain of identity: parent run {parent.code} belongs to another donor; "
                f"a child run carries its parent's donor"
            )
            raise ValidationFailed(message, fields={"donor": [message]})
    require_aware(planned_start, "planned_start")
    if assignee is not None and not has_role(assignee, lab, CAN_WORK):
        message = f"{assignee.get_username()} does not work in this lab"
        raise ValidationFailed(message, fields={"assignee": [message]})

    stages = list(
        StageTemplate.objects.filter(protocol=protocol)
        .prefetch_related("depends_on", "tasks")
        .order_by("order")
    )
    if not stages:
        raise ValidationFailed(f"protocol {protocol} has no stages")
    if donor.consent_scope:
        missing = sorted(
            {_SCOPE_FOR_KIND[s.kind] for s in stages if s.kind in _SCOPE_FOR_KIND}
            - set(donor.consent_scope)
        )
        if missing:
            message = f"donor {donor.code}'s consent does not cover {', '.join(missing)}"
            raise ValidationFailed(message, fields={"donor": [message]})
    order, depends = _stage_graph(stages)

    if code is None:
        code = _next_run_code(lab, donor, protocol)
    else:
        code = code.strip()
        if not code or len(code) > 64:
            raise ValidationFailed(
                "a run code is 1-64 characters", fields={"code": ["1-64 characters"]}
            )
    start = planned_start or timezone.now()
    run = Run(
        lab=lab,
        protocol=protocol,
        donor=donor,
        code=code,
        parent=parent,
        root_id=(parent.root_id or parent.pk) if parent is not None else None,
        passage=parent.passage if parent is not None else 0,
        assignee=assignee,
        planned_start=start,
        created_by=actor,
    )
    try:
        with transaction.atomic():
            run.save()
    except IntegrityError:
        raise Conflict(f"run code {code} is already taken in this lab", code="duplicate") from None

    tz = lab.tz
    by_pk = {s.pk: s for s in stages}
    spans = planning.plan_stages(
        start=start,
        order=order,
        durations={s.pk: s.expected_duration for s in stages},
        depends_on=depends,
        tz=tz,
    )
    stage_runs = StageRun.objects.bulk_create(
        [
            StageRun(
                run=run,
                stage=by_pk[pk],
                order=by_pk[pk].order,
                planned_start=spans[pk].planned_start,
                due_at=spans[pk].due_at,
            )
            for pk in sorted(spans, key=lambda pk: by_pk[pk].order)
        ]
    )
    occurrences = [
        TaskOccurrence(stage_run=sr, task=task, due_at=moment)
        for sr in stage_runs
        for task in sr.stage.tasks.all()
        for moment in planning.task_times(
            planned_start=sr.planned_start,
            due_at=sr.due_at,
            tz=tz,
            every=task.every,
            on_days=task.on_days,
        )
    ]
    TaskOccurrence.objects.bulk_create(occurrences, batch_size=1000)
    audit_record_many(
        actor=actor,
        changes=[
            run_audit_change(
                "run.create",
                run,
                run,
                after={
                    **run_state(run),
                    "code": code,
                    "protocol": protocol.pk,
                    "protocol_version": protocol.version,
                    "donor": donor.code,
                    "parent": parent.pk if parent else None,
                    "stage_runs": len(stage_runs),
                    "task_occurrences": len(occurrences),
                },
            ),
            *(
                run_audit_change("stage_run.plan", sr, run, after=stage_run_state(sr))
                for sr in stage_runs
            ),
        ],
    )
    return run


@transaction.atomic
def run_spawn_child(
    *,
    parent: Run,
    protocol: ProtocolTemplate,
    actor,
    code: str | None = None,
    planned_start: datetime | None = None,
) -> Run:
    """Seed a new run from ``parent`` (lineage): same donor, same passage number."""
    parent = lock_run(parent.pk)  # fresh passage number, held while the child is created
    if parent.status in (RunStatus.REJECTED, RunStatus.TERMINATED):
        raise InvalidTransition(f"run {parent.code} is {parent.status}; it cannot seed another run")
    return run_create(
        lab=parent.lab,
        protocol=protocol,
        donor=parent.donor,
        actor=actor,
        code=code,
        parent=parent,
        planned_start=planned_start,
    )


def _set_run_status(run: Run, status: str, *, doing: str) -> None:
    if not run.can_transition_to(status):
        raise InvalidTransition(f"run {run.code} is {run.status}; it cannot {doing}")
    run.status = status


@transaction.atomic
def run_start(*, run: Run, actor) -> Run:
    """planned → active; the stages with no dependencies become ready."""
    run = lock_run(run.pk)
    require_role(actor, run.lab_id, CAN_WORK, "start runs")
    before = run_state(run)
    _set_run_status(run, RunStatus.ACTIVE, doing="start")
    run.started_at = timezone.now()
    run.save(update_fields=["status", "started_at"])
    roots = list(
        StageRun.objects.filter(run=run, status=StageStatus.PENDING, stage__depends_on__isnull=True)
    )
    changes = [run_audit_change("run.start", run, run, before, run_state(run))]
    for sr in roots:
        changes.append(
            run_audit_change(
                "stage_run.ready", sr, run, {"status": sr.status}, {"status": StageStatus.READY}
            )
        )
        sr.status = StageStatus.READY
    StageRun.objects.filter(pk__in=[sr.pk for sr in roots]).update(status=StageStatus.READY)
    audit_record_many(actor=actor, changes=changes)
    return run


@transaction.atomic
def run_hold(*, run: Run, actor, reason: str) -> Run:
    """active → on hold (stages cannot start or complete meanwhile)."""
    run = lock_run(run.pk)
    require_role(actor, run.lab_id, CAN_WORK, "hold runs")
    reason = _require_reason(reason)
    before = run_state(run)
    _set_run_status(run, RunStatus.ON_HOLD, doing="be put on hold")
    run.save(update_fields=["status"])
    audit_record_many(
        actor=actor,
        changes=[run_audit_change("run.hold", run, run, before, run_state(run), reason)],
    )
    return run


@transaction.atomic
def run_resume(*, run: Run, actor) -> Run:
    """on hold → active."""
    run = lock_run(run.pk)
    require_role(actor, run.lab_id, CAN_WORK, "resume runs")
    if run.status != RunStatus.ON_HOLD:
        raise InvalidTransition(f"run {run.code} is {run.status}; only a run on hold can resume")
    before = run_state(run)
    run.status = RunStatus.ACTIVE
    run.save(update_fields=["status"])
    audit_record_many(
        actor=actor, changes=[run_audit_change("run.resume", run, run, before, run_state(run))]
    )
    return run


def close_open_work(run: Run, *, reason: str) -> list[Change]:
    """Skip stages not started, fail stages in progress, skip open bench tasks (run is closing)."""
    changes: list[Change] = []
    stage_runs = list(
        StageRun.objects.filter(run=run).exclude(
            status__in=[StageStatus.COMPLETED, StageStatus.FAILED, StageStatus.SKIPPED]
        )
    )
    for sr in stage_runs:
        before = {"status": sr.status}
        sr.status = (
            StageStatus.FAILED if sr.status in WORKING_STAGE_STATUSES else StageStatus.SKIPPED
        )
        changes.append(
            run_audit_change(
                f"stage_run.{sr.status}", sr, run, before, {"status": sr.status}, reason
            )
        )
    if stage_runs:
        StageRun.objects.bulk_update(stage_runs, ["status"])
    skipped = TaskOccurrence.objects.filter(
        stage_run__run=run, done_at__isnull=True, skipped=False
    ).update(skipped=True)
    if skipped:
        changes.append(
            run_audit_change(
                "run.tasks_skipped", run, run, None, {"task_occurrences": skipped}, reason
            )
        )
    return changes


@transaction.atomic
def run_terminate(*, run: Run, actor, reason: str) -> Run:
    """Stop a run for good (reviewer): its open work is closed."""
    run = lock_run(run.pk)
    require_role(actor, run.lab_id, CAN_REVIEW, "terminate runs")
    reason = _require_reason(reason)
    before = run_state(run)
    _set_run_status(run, RunStatus.TERMINATED, doing="be terminated")
    run.closed_at = timezone.now()
    run.save(update_fields=["status", "closed_at"])
    changes = [run_audit_change("run.terminate", run, run, before, run_state(run), reason)]
    changes += close_open_work(run, reason=reason)
    audit_record_many(actor=actor, changes=changes)
    return run


# --- passages -------------------------------------------------------------------------------


@transaction.atomic
def run_passage(*, run: Run, actor, kind: str = PassageKind.PASSAGE, note: str = "") -> Run:
    """Log a passage, split, thaw or freeze; passage and split move the counter by one."""
    if kind not in _PASSAGE_INCREMENT:
        message = f"unknown passage kind {kind!r} (one of {PassageKind.values})"
        raise ValidationFailed(message, fields={"kind": [message]})
    run = lock_run(run.pk)
    require_role(actor, run.lab_id, CAN_WORK, "log passages")
    _refuse_unless_active(run, "a passage")
    before = run.passage
    Run.objects.filter(pk=run.pk).update(passage=F("passage") + _PASSAGE_INCREMENT[kind])
    run.refresh_from_db(fields=["passage"])
    event = PassageEvent.objects.create(
        run=run,
        kind=kind,
        passage_before=before,
        passage_after=run.passage,
        at=timezone.now(),
        by=actor,
        note=note.strip(),
    )
    audit_record_many(
        actor=actor,
        changes=[
            run_audit_change(
                "run.passage", run, run, {"passage": before}, {"passage": run.passage, "kind": kind}
            ),
            run_audit_change(
                "passage_event.create",
                event,
                run,
                None,
                {
                    "kind": kind,
                    "passage_before": before,
                    "passage_after": run.passage,
                    "note": event.note,
                },
            ),
        ],
    )
    return run


# --- stages ---------------------------------------------------------------------------------


def _open_predecessors(stage_run: StageRun) -> list[str]:
    return list(
        StageRun.objects.filter(run_id=stage_run.run_id, stage__dependants=stage_run.stage_id)
        .exclude(status__in=DONE_STAGE_STATUSES)
        .order_by("order")
        .values_list("stage__name", flat=True)
    )


@transaction.atomic
def stage_start(*, stage_run: StageRun, actor) -> StageRun:
    """ready → in progress. Refused while a predecessor is open or the run is not active (for a
    post-release stage: not released)."""
    sr = lock_stage_run(stage_run.pk, run_id=stage_run.run_id)
    run = sr.run
    require_role(actor, run.lab_id, CAN_WORK, "start stages")
    name = sr.stage.name
    _refuse_unless_workable(run, sr, doing=f"starting stage '{name}'", refused="cannot start")
    if sr.status == StageStatus.PENDING:
        blockers = _open_predecessors(sr)
        if blockers:
            raise InvalidTransition(
                f"stage '{name}' cannot start: "
                + ", ".join(f"'{b}'" for b in blockers)
                + (" is" if len(blockers) == 1 else " are")
                + " not completed"
            )
    if sr.status != StageStatus.READY:
        raise InvalidTransition(f"stage '{name}' is {sr.status}; only a ready stage can start")
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
    post_release = _post_release(run)
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
        not_before=dict.fromkeys(post_release, run.closed_at) if released else None,
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


@transaction.atomic
def stage_complete(*, stage_run: StageRun, actor, note: str = "") -> StageRun:
    """in progress / awaiting QC → completed, when every blocking checkpoint is satisfied.

    Then: dependants whose dependencies are all done become ready, what has not started is
    re-planned from the actual completion, finishing outside the allowed window opens a
    ``window`` deviation, and the run completes (awaits its release) with its last manufacturing
    stage. A released run whose post-release stages are all done gets
    ``post_release_completed_at`` and stays released.
    """
    from protocol_tracker.qc.selectors import stage_qc_gaps

    sr = lock_stage_run(stage_run.pk, run_id=stage_run.run_id)
    run = sr.run
    require_role(actor, run.lab_id, CAN_WORK, "complete stages")
    name = sr.stage.name
    _refuse_unless_workable(run, sr, doing=f"completing stage '{name}'", refused="cannot complete")
    if sr.status not in WORKING_STAGE_STATUSES:
        raise InvalidTransition(
            f"stage '{name}' is {sr.status}; only a stage in progress can complete"
        )
    gaps = stage_qc_gaps(sr)
    if gaps:
        raise InvalidTransition(
            f"stage '{name}' cannot complete: {gaps.describe()}",
            fields={"checkpoints": gaps.keys()},
        )
    before = stage_run_state(sr)
    now = timezone.now()
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
    post_release = _post_release(run)
    if run.status == RunStatus.ACTIVE and all(
        other.status in DONE_STAGE_STATUSES
        for other in stage_runs
        if other.stage_id not in post_release
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
    audit_record_many(actor=actor, changes=changes)

    early, late = sr.due_at - sr.stage.window_early, sr.due_at + sr.stage.window_late
    if not early <= now <= late:
        from protocol_tracker.qc.services import deviation_create_system

        tz = run.lab.tz
        hours = abs(now - sr.due_at).total_seconds() / 3600
        which = "early" if now < early else "late"
        deviation_create_system(
            run=run,
            stage_run=sr,
            kind="window",
            severity="minor",
            actor=actor,
            title=f"Stage '{name}' finished {hours:.1f} h {which}",
            description=(
                f"Completed {now.astimezone(tz):%Y-%m-%d %H:%M %Z}; due "
                f"{sr.due_at.astimezone(tz):%Y-%m-%d %H:%M %Z}; allowed window "
                f"{early.astimezone(tz):%Y-%m-%d %H:%M} to {late.astimezone(tz):%Y-%m-%d %H:%M}."
            ),
        )
    return sr


@transaction.atomic
def stage_fail(*, stage_run: StageRun, actor, reason: str) -> StageRun:
    """in progress / awaiting QC → failed (the run stays open for a reviewer to decide)."""
    sr = lock_stage_run(stage_run.pk, run_id=stage_run.run_id)
    run = sr.run
    require_role(actor, run.lab_id, CAN_WORK, "fail stages")
    reason = _require_reason(reason)
    if sr.status not in WORKING_STAGE_STATUSES:
        raise InvalidTransition(
            f"stage '{sr.stage.name}' is {sr.status}; only a stage in progress can fail"
        )
    before = stage_run_state(sr)
    sr.status = StageStatus.FAILED
    sr.completed_at = timezone.now()
    sr.completed_by = actor
    sr.notes = f"{sr.notes}\nFailed: {reason}".strip()
    sr.save(update_fields=["status", "completed_at", "completed_by", "notes"])
    audit_record_many(
        actor=actor,
        changes=[run_audit_change("stage_run.fail", sr, run, before, stage_run_state(sr), reason)],
    )
    return sr


@transaction.atomic
def stage_assign(*, stage_run: StageRun, assignee, actor) -> StageRun:
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


@transaction.atomic
def task_done(*, occurrence: TaskOccurrence, actor, note: str = "") -> TaskOccurrence:
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
    _refuse_unless_workable(
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


def __getattr__(name: str):
    # Release and rejection are signed decisions and live with the signatures in qc.services;
    # importing them from here works too (lazily, the two modules import each other).
    if name in ("run_release", "run_reject"):
        from protocol_tracker.qc import services

        return getattr(services, name)
    raise AttributeError(name)
