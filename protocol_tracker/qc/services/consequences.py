"""What follows from a new result: deviations, flags on the run, the reviewers' alert.

qc decides; the run's rows change through the runs services (``run_flag``,
``run_pending_test_resolve``), and the alert is the reminders app's task, enqueued by name after
commit (robust: a broker outage at that moment must not turn a committed result into an error;
the reminders sweep catches the alert up from the open deviation).
"""

from __future__ import annotations

from protocol_tracker import specs
from protocol_tracker.audit.services import Change
from protocol_tracker.core.actors import Actor
from protocol_tracker.core.tasks import enqueue_on_commit
from protocol_tracker.protocols.models import CheckpointTemplate, ValueType
from protocol_tracker.qc.models import DeviationKind, DeviationSeverity, QCResult, Verdict
from protocol_tracker.qc.services.deviations import deviation_create_system
from protocol_tracker.runs.models import Run, RunStatus, StageRun
from protocol_tracker.runs.services import run_flag, run_pending_test_resolve

QC_FAILED_TASK = "reminders.qc_failed"


def qc_failed_notify_on_commit(result_id: int) -> None:
    """Tell the reviewers at once, after commit (the reminders app sends and de-duplicates)."""
    enqueue_on_commit(QC_FAILED_TASK, result_id)


def result_consequences(
    *,
    actor: Actor,
    run: Run,
    stage_run: StageRun,
    checkpoint: CheckpointTemplate,
    result: QCResult,
) -> list[Change]:
    """Deviations, flags and notifications that follow from ``result`` (its run locked).

    - A judged result of a pending test of a conditional release resolves it; out of
      specification, it flags the run and opens a critical ``late_result`` deviation.
    - Otherwise a failing blocking result opens an out-of-specification deviation (critical, and
      the run flagged, on a released run's post-release stage: the lot is out, it is never
      un-released).
    Returns the run's audit changes; the deviations write their own."""
    changes: list[Change] = []
    judged = result.verdict in (Verdict.PASS, Verdict.FAIL, Verdict.NO_SPEC)
    late = run.status == RunStatus.RELEASED and checkpoint.key in (run.pending_tests or [])
    if late and judged:
        failed = result.verdict == Verdict.FAIL
        failure = (
            f"late result after conditional release: '{checkpoint.name}' "
            f"{result.display_value} is out of specification"
            if failed
            else ""
        )
        changes += run_pending_test_resolve(run, key=checkpoint.key, failure=failure)
        if failed:
            deviation_create_system(
                run=run,
                stage_run=stage_run,
                qc_result=result,
                actor=actor,
                kind=DeviationKind.LATE_RESULT,
                severity=DeviationSeverity.CRITICAL,
                title=f"Late result out of specification after release: {checkpoint.name}",
                description=run.flag_reason,
            )
            qc_failed_notify_on_commit(result.pk)
    elif result.verdict == Verdict.FAIL and checkpoint.blocking:
        released = run.status == RunStatus.RELEASED
        # A wrong or unreadable label at an identity checkpoint is the dominant patient-safety
        # risk of an autologous product: critical at once, wherever it happens.
        identity = checkpoint.value_type == ValueType.IDENTITY
        if released:
            changes += run_flag(
                run,
                flag=(
                    f"out of specification after release: '{checkpoint.name}' "
                    f"{result.display_value} (stage '{stage_run.stage.name}')"
                ),
            )
        deviation_create_system(
            run=run,
            stage_run=stage_run,
            qc_result=result,
            actor=actor,
            kind=DeviationKind.IDENTITY if identity else DeviationKind.OUT_OF_SPEC,
            severity=(
                DeviationSeverity.CRITICAL if released or identity else DeviationSeverity.MAJOR
            ),
            title=(
                f"Identity check failed: {checkpoint.name}: {result.display_value}"
                if identity
                else f"Out of specification: {checkpoint.name} = {result.display_value}"
            ),
            description=(
                f"{result.comment} Stage '{stage_run.stage.name}' of run {run.code}."
                if identity
                else f"Spec: {specs.describe_spec(checkpoint.spec, checkpoint.unit)}; "
                f"stage '{stage_run.stage.name}' of run {run.code}."
            ),
        )
        qc_failed_notify_on_commit(result.pk)
    return changes
