"""Runs: creation along the protocol's DAG, start, hold and resume, and the ends of a run.

The ends are shared with the layers above, which decide them: a signed rejection (outcomes) or a
rejecting disposition (qc) closes the run through :func:`run_close_rejected`, a signed release
through :func:`run_close_released`; a result out of specification after the release flags the run
(:func:`run_flag`). Those building blocks take a run the caller has locked and return the audit
changes for the caller to write with the rest of its transaction's events.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from labs.models import CAN_REVIEW, CAN_WORK, Lab
from labs.selectors import has_role, require_role
from protocol_tracker.audit.services import Change, audit_record_many
from protocol_tracker.core.actors import Actor, Person
from protocol_tracker.core.errors import Conflict, InvalidTransition, ValidationFailed
from protocol_tracker.protocols.models import ProtocolStatus, ProtocolTemplate, StageTemplate
from protocol_tracker.runs import planning
from protocol_tracker.runs.locks import lock_run
from protocol_tracker.runs.models import (
    ConsentScope,
    Donor,
    Run,
    RunStatus,
    StageRun,
    StageStatus,
    TaskOccurrence,
)
from protocol_tracker.runs.services.common import (
    require_aware,
    require_reason,
    run_audit_change,
    run_state,
    stage_run_state,
)
from protocol_tracker.runs.services.stages import stage_run_fail

# Protocol stage kinds that need a matching consent scope when the donor's scope is recorded.
_SCOPE_FOR_KIND = {"reprogramming": ConsentScope.REPROGRAMMING, "banking": ConsentScope.BANKING}


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
    actor: Person,
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
    actor: Person,
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
def run_start(*, run: Run, actor: Person) -> Run:
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
def run_hold(*, run: Run, actor: Person, reason: str) -> Run:
    """active → on hold (stages cannot start or complete meanwhile)."""
    run = lock_run(run.pk)
    require_role(actor, run.lab_id, CAN_WORK, "hold runs")
    reason = require_reason(reason)
    before = run_state(run)
    _set_run_status(run, RunStatus.ON_HOLD, doing="be put on hold")
    run.save(update_fields=["status"])
    audit_record_many(
        actor=actor,
        changes=[run_audit_change("run.hold", run, run, before, run_state(run), reason)],
    )
    return run


@transaction.atomic
def run_resume(*, run: Run, actor: Person) -> Run:
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


def close_open_work(run: Run, *, actor: Actor | None, reason: str) -> list[Change]:
    """Skip stages not started, fail stages in progress, skip open bench tasks (run is closing).

    A stage in progress fails as :func:`~protocol_tracker.runs.services.stages.stage_run_fail`
    fails it (one shape of "stage failed" in the audit trail, whoever closes the run)."""
    changes: list[Change] = []
    now = timezone.now()
    stage_runs = list(
        StageRun.objects.filter(run=run).exclude(
            status__in=[StageStatus.COMPLETED, StageStatus.FAILED, StageStatus.SKIPPED]
        )
    )
    for sr in stage_runs:
        if sr.can_transition_to(StageStatus.FAILED):
            changes.append(stage_run_fail(sr, run, actor=actor, reason=reason, now=now, save=False))
        else:
            before = stage_run_state(sr)
            sr.status = StageStatus.SKIPPED
            changes.append(
                run_audit_change("stage_run.skip", sr, run, before, stage_run_state(sr), reason)
            )
    if stage_runs:
        StageRun.objects.bulk_update(
            stage_runs, ["status", "completed_at", "completed_by", "notes"]
        )
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
def run_terminate(*, run: Run, actor: Person, reason: str) -> Run:
    """Stop a run for good (reviewer): its open work is closed."""
    run = lock_run(run.pk)
    require_role(actor, run.lab_id, CAN_REVIEW, "terminate runs")
    reason = require_reason(reason)
    before = run_state(run)
    _set_run_status(run, RunStatus.TERMINATED, doing="be terminated")
    run.closed_at = timezone.now()
    run.save(update_fields=["status", "closed_at"])
    changes = [run_audit_change("run.terminate", run, run, before, run_state(run), reason)]
    changes += close_open_work(run, actor=actor, reason=reason)
    audit_record_many(actor=actor, changes=changes)
    return run


# --- the ends of a run, decided above (qc, outcomes) -----------------------------------------


def run_flag(run: Run, *, flag: str, reason: str = "") -> list[Change]:
    """Flag ``run`` (locked by the caller), appending ``flag`` to its flag reason: a result out of
    specification after its release, a rejection that came after it. ``reason`` is the audit
    entry's (``flag`` when not given)."""
    before = run_state(run)
    run.flagged = True
    run.flag_reason = f"{run.flag_reason}\n{flag}".strip()
    run.save(update_fields=["flagged", "flag_reason"])
    return [run_audit_change("run.flag", run, run, before, run_state(run), reason or flag)]


def run_pending_test_resolve(run: Run, *, key: str, failure: str = "") -> list[Change]:
    """A pending test of ``run``'s conditional release has its result: it is no longer pending;
    a ``failure`` (the reason, when the result is out of specification) flags the run too. One
    audit event, ``run.late_result``."""
    before = run_state(run)
    run.pending_tests = [k for k in run.pending_tests if k != key]
    fields = ["pending_tests"]
    if failure:
        run.flagged = True
        run.flag_reason = f"{run.flag_reason}\n{failure}".strip()
        fields += ["flagged", "flag_reason"]
    run.save(update_fields=fields)
    return [run_audit_change("run.late_result", run, run, before, run_state(run))]


def run_close_rejected(
    run: Run, *, actor: Actor | None, reason: str, stage_run: StageRun | None = None
) -> list[Change]:
    """Reject ``run`` (locked by the caller): ``stage_run``, when given and in progress, fails;
    the run becomes rejected and its open work closes. A run already past rejection (released)
    is flagged instead: a released lot is never un-released."""
    changes: list[Change] = []
    now = timezone.now()
    if stage_run is not None:
        stage_run = StageRun.objects.get(pk=stage_run.pk)
        if stage_run.can_transition_to(StageStatus.FAILED):
            changes.append(stage_run_fail(stage_run, run, actor=actor, reason=reason, now=now))
    if run.can_transition_to(RunStatus.REJECTED):
        before = run_state(run)
        run.status = RunStatus.REJECTED
        run.closed_at = now
        run.save(update_fields=["status", "closed_at"])
        changes.append(run_audit_change("run.reject", run, run, before, run_state(run), reason))
        changes += close_open_work(run, actor=actor, reason=reason)
    elif not run.flagged:
        changes += run_flag(run, flag=f"rejected after {run.status}: {reason}", reason=reason)
    return changes


def run_close_released(run: Run, *, pending_tests: Sequence[str]) -> list[Change]:
    """Mark ``run`` (locked, completed, checked by the caller) released, conditionally when
    ``pending_tests`` (checkpoint keys) are still pending."""
    if not run.can_transition_to(RunStatus.RELEASED):
        raise InvalidTransition(
            f"run {run.code} is {run.status}; only a completed run can be released"
        )
    before = run_state(run)
    run.status = RunStatus.RELEASED
    run.closed_at = timezone.now()
    run.conditional_release = bool(pending_tests)
    run.pending_tests = list(pending_tests)
    run.save(update_fields=["status", "closed_at", "conditional_release", "pending_tests"])
    return [run_audit_change("run.release", run, run, before, run_state(run))]
