"""Run outcomes: the signed release of a completed run, and its signed rejection.

They sit above qc: a release is judged from the run's QC record (``run_release_check``, open
deviations) and signed with qc's e-signature; the run's rows change through the runs engine
(``run_close_released``, ``run_close_rejected``, ``open_post_release_work``). Rules: only a
completed run is released, by a reviewer who recorded none of its results and completed none of
its stages (four eyes); every blocking checkpoint passed or is covered, except the named pending
tests of a conditional release (EU GMP Part IV); no deviation is open.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import transaction

from labs.models import CAN_REVIEW
from labs.selectors import require_role
from protocol_tracker.audit.services import audit_record_many
from protocol_tracker.core.actors import Person
from protocol_tracker.core.errors import InvalidTransition, SignatureRefused, ValidationFailed
from protocol_tracker.core.tasks import enqueue_on_commit
from protocol_tracker.qc.models import Deviation, DeviationStatus, QCResult
from protocol_tracker.qc.selectors import run_release_check
from protocol_tracker.qc.services import signature_sign
from protocol_tracker.runs.locks import lock_run
from protocol_tracker.runs.models import Run, RunStatus, StageRun
from protocol_tracker.runs.services import (
    open_post_release_work,
    run_close_rejected,
    run_close_released,
)
from protocol_tracker.signatures.models import SignatureMeaning

RUN_RELEASED_TASK = "reminders.run_released"


@transaction.atomic
def run_release(
    *, run: Run, actor: Person, password: str, pending_tests: Sequence[str] = ()
) -> Run:
    """Release a completed run with a signature (reviewer; four eyes).

    Only the manufacturing stages count (the run is ``completed`` when they are done); the
    post-release stages (transplant, follow-up) whose dependencies are done become ready and are
    re-planned from the release time. Every blocking checkpoint must have passed or be covered
    by an accepted disposition, except the ``pending_tests`` (checkpoint keys), which must be
    ``pending_allowed`` and pending now: that is a conditional release (EU GMP Part IV). No
    deviation may be open.
    """
    run = lock_run(run.pk)
    require_role(actor, run.lab_id, CAN_REVIEW, "release runs")
    if run.status != RunStatus.COMPLETED:
        raise InvalidTransition(
            f"run {run.code} is {run.status}; only a completed run can be released"
        )
    pending_tests = list(dict.fromkeys(k.strip() for k in pending_tests))
    check = run_release_check(run)
    problems = []
    for key in pending_tests:
        checkpoint = check.pending.get(key)
        if checkpoint is None:
            problems.append(f"'{key}' is not a pending test of this run")
        elif not checkpoint.pending_allowed:
            problems.append(f"'{checkpoint.name}' may not be pending at release")
    if problems:
        raise ValidationFailed("; ".join(problems), fields={"pending_tests": problems})
    by_id = {sr.pk: sr for sr in check.stage_runs}
    for sr_id, gaps in check.gaps.items():
        gaps.pending = [c for c in gaps.pending if c.key not in pending_tests]
        if gaps:
            problems.append(f"stage '{by_id[sr_id].stage.name}': {gaps.describe()}")
    if problems:
        raise InvalidTransition(f"run {run.code} cannot be released: " + "; ".join(problems))
    open_deviations = list(
        Deviation.objects.filter(run=run)
        .exclude(status=DeviationStatus.CLOSED)
        .values_list("pk", flat=True)
    )
    if open_deviations:
        raise InvalidTransition(
            f"run {run.code} cannot be released: open deviations "
            + ", ".join(f"DEV-{pk}" for pk in open_deviations)
        )
    if (
        QCResult.objects.filter(stage_run__run=run, recorded_by=actor).exists()
        or StageRun.objects.filter(run=run, completed_by=actor).exists()
    ):
        raise SignatureRefused(
            "four eyes: you recorded results or completed stages of this "
            "run; another reviewer must release it"
        )
    audit_record_many(actor=actor, changes=run_close_released(run, pending_tests=pending_tests))
    statement = f"released run {run.code}"
    if pending_tests:
        statement += " conditionally, pending " + ", ".join(pending_tests)
    signature_sign(
        signer=actor,
        password=password,
        meaning=SignatureMeaning.RELEASED,
        obj=run,
        run=run,
        statement=statement,
    )
    # The signature binds the lot as released; only then may its post-release work begin.
    audit_record_many(actor=actor, changes=open_post_release_work(run))
    enqueue_on_commit(RUN_RELEASED_TASK, run.pk)
    return run


@transaction.atomic
def run_reject(*, run: Run, actor: Person, password: str, reason: str) -> Run:
    """Reject a run with a signature (reviewer): its open work is closed."""
    run = lock_run(run.pk)
    require_role(actor, run.lab_id, CAN_REVIEW, "reject runs")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed("a rejection needs a reason", fields={"reason": ["required"]})
    if not run.can_transition_to(RunStatus.REJECTED):
        raise InvalidTransition(f"run {run.code} is {run.status}; it cannot be rejected")
    changes = run_close_rejected(run, actor=actor, reason=reason)
    audit_record_many(actor=actor, changes=changes)
    signature_sign(
        signer=actor,
        password=password,
        meaning=SignatureMeaning.REJECTED,
        obj=run,
        run=run,
        statement=f"rejected run {run.code}: {reason}",
    )
    return run
