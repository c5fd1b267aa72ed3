"""Deviations (OOS investigation, dispositions), e-signatures, four eyes, release and rejection,
conditional release and late results."""

from __future__ import annotations

import contextlib
from datetime import timedelta

import pytest
import time_machine

from protocol_tracker.audit.models import AuditEvent
from protocol_tracker.core.errors import (
    DomainError,
    InvalidTransition,
    NotPermitted,
    SignatureRefused,
    ValidationFailed,
)
from protocol_tracker.outcomes.services import run_reject, run_release
from protocol_tracker.qc.models import Deviation, DeviationKind, QCResult
from protocol_tracker.qc.services import (
    deviation_disposition,
    deviation_investigate,
    deviation_open,
    qc_result_record,
    record_hash,
    signature_sign,
    stage_complete,
)
from protocol_tracker.runs.models import RunStatus, StageStatus, TaskOccurrence
from protocol_tracker.runs.services import stage_start
from protocol_tracker.signatures.models import Signature
from tests.builders import T0, work_stage
from tests.builders.release import acknowledge_all
from tests.factories import PASSWORD

H = timedelta(hours=1)
pytestmark = pytest.mark.django_db


def release_run(*, run, actor, password, **kwargs):
    """Acknowledge what may be acknowledged (refusals are the release's to report), then
    release with the audit-trail attestation."""
    with contextlib.suppress(DomainError):
        acknowledge_all(run, actor)
    return run_release(run=run, actor=actor, password=password, audit_trail_reviewed=True, **kwargs)


def _stage(run, key):
    return run.stage_runs.select_related("stage").get(stage__key=key)


@pytest.fixture
def expand(active_run, technician):
    work_stage(_stage(active_run, "collect"), actor=technician, at=T0 + 24 * H)
    with time_machine.travel(T0 + 25 * H, tick=False):
        return stage_start(stage_run=_stage(active_run, "expand"), actor=technician)


@pytest.fixture
def oos(expand, technician):
    """A failing viability result and the deviation it opened."""
    with time_machine.travel(T0 + 30 * H, tick=False):
        qc_result_record(
            stage_run=expand,
            checkpoint=expand.stage.checkpoints.get(key="viability"),
            value=55,
            unit="%",
            measured_at=T0 + 30 * H,
            actor=technician,
        )
    return Deviation.objects.get()


def _complete_run(run, technician, *, sterility=None):
    """Every stage passes; sterility may be left pending (it is pending_allowed)."""
    work_stage(_stage(run, "collect"), actor=technician, at=T0 + 24 * H)
    work_stage(_stage(run, "expand"), actor=technician, at=T0 + 96 * H)
    release = _stage(run, "release")
    with time_machine.travel(T0 + 100 * H, tick=False):
        release = stage_start(stage_run=release, actor=technician)
        if sterility == "pending":
            qc_result_record(
                stage_run=release,
                checkpoint=release.stage.checkpoints.get(key="sterility"),
                value=None,
                unit=None,
                state="pending",
                measured_at=T0 + 100 * H,
                actor=technician,
            )
    work_stage(release, actor=technician, at=T0 + 144 * H)
    run.refresh_from_db()
    return run


# --- deviations -------------------------------------------------------------------------------


def test_an_oos_deviation_needs_phase_one_before_its_disposition(oos, reviewer):
    with pytest.raises(InvalidTransition, match="phase I laboratory investigation"):
        deviation_disposition(
            deviation=oos, decision="accept", justification="ok", password=PASSWORD, actor=reviewer
        )
    assert Signature.objects.count() == 0


def test_investigation_moves_through_the_phases(oos, technician):
    dev = deviation_investigate(
        deviation=oos, phase="phase1", findings="pipette calibrated", actor=technician
    )
    assert (dev.status, dev.phase1_findings) == ("phase1", "pipette calibrated")
    dev = deviation_investigate(
        deviation=dev, phase="phase2", findings="batch record ok", actor=technician
    )
    dev = deviation_investigate(
        deviation=dev, phase="conclusion", findings="thaw damage", actor=technician
    )
    assert (dev.status, dev.root_cause) == ("awaiting_disposition", "thaw damage")
    with pytest.raises(InvalidTransition):
        deviation_investigate(deviation=dev, phase="phase1", findings="again", actor=technician)
    assert list(
        AuditEvent.objects.filter(object_type="qc.deviation").values_list("action", flat=True)
    ) == ["deviation.open", "deviation.phase1", "deviation.phase2", "deviation.conclusion"]


def test_accepted_disposition_lets_the_stage_complete(oos, expand, technician, reviewer):
    deviation_investigate(deviation=oos, phase="phase1", findings="no lab error", actor=technician)
    with time_machine.travel(T0 + 40 * H, tick=False):
        dev = deviation_disposition(
            deviation=oos,
            decision="accept",
            justification="within clinical tolerance",
            password=PASSWORD,
            actor=reviewer,
        )

    assert (dev.status, dev.disposition, dev.closed_by) == ("closed", "accept", reviewer)
    signature = Signature.objects.get()
    assert (signature.meaning, signature.object_type, signature.object_id, signature.run_id) == (
        "approved",
        "qc.deviation",
        str(dev.pk),
        expand.run_id,
    )
    assert signature.record_hash == record_hash(Deviation.objects.get(pk=dev.pk))
    assert signature.signer_name == "reviewer-a"
    done = work_stage(expand, actor=technician, at=T0 + 96 * H)
    assert done.status == StageStatus.COMPLETED


def test_four_eyes_the_recorder_cannot_sign_the_disposition(expand, reviewer, reviewer2):
    with time_machine.travel(T0 + 30 * H, tick=False):
        qc_result_record(
            stage_run=expand,
            checkpoint=expand.stage.checkpoints.get(key="viability"),
            value=55,
            unit="%",
            measured_at=T0 + 30 * H,
            actor=reviewer,
        )
    dev = deviation_investigate(
        deviation=Deviation.objects.get(), phase="phase1", findings="checked", actor=reviewer
    )

    with pytest.raises(SignatureRefused, match="four eyes"):
        deviation_disposition(
            deviation=dev,
            decision="accept",
            justification="fine",
            password=PASSWORD,
            actor=reviewer,
        )
    assert (
        deviation_disposition(
            deviation=dev,
            decision="accept",
            justification="fine",
            password=PASSWORD,
            actor=reviewer2,
        ).status
        == "closed"
    )


def test_a_wrong_password_signs_nothing(oos, technician, reviewer):
    deviation_investigate(deviation=oos, phase="phase1", findings="x", actor=technician)
    events = AuditEvent.objects.count()

    with pytest.raises(SignatureRefused) as exc:
        deviation_disposition(
            deviation=oos, decision="accept", justification="fine", password="wrong", actor=reviewer
        )

    assert exc.value.message == "password did not match; nothing was signed"
    oos.refresh_from_db()
    assert (oos.status, Signature.objects.count(), AuditEvent.objects.count()) == (
        "phase1",
        0,
        events,
    )


def test_technicians_cannot_dispose(oos, technician, technician2):
    deviation_investigate(deviation=oos, phase="phase1", findings="x", actor=technician)
    with pytest.raises(NotPermitted):
        deviation_disposition(
            deviation=oos,
            decision="accept",
            justification="fine",
            password=PASSWORD,
            actor=technician2,
        )


def test_retest_disposition_closes_and_still_needs_a_passing_result(
    oos, expand, technician, reviewer
):
    deviation_investigate(deviation=oos, phase="phase1", findings="x", actor=technician)
    deviation_disposition(
        deviation=oos,
        decision="retest",
        justification="repeat the count",
        password=PASSWORD,
        actor=reviewer,
    )

    with pytest.raises(InvalidTransition, match="out of specification"):
        stage_complete(stage_run=expand, actor=technician)
    done = work_stage(expand, actor=technician, at=T0 + 96 * H, values={"viability": 81})
    assert done.status == StageStatus.COMPLETED
    assert (
        QCResult.objects.get(checkpoint__key="viability", superseded_by__isnull=True).reason
        == "retest"
    )


def test_reject_disposition_fails_the_stage_and_rejects_the_run(oos, expand, technician, reviewer):
    deviation_investigate(deviation=oos, phase="phase1", findings="x", actor=technician)
    deviation_disposition(
        deviation=oos,
        decision="reject",
        justification="not viable",
        password=PASSWORD,
        actor=reviewer,
    )

    expand.refresh_from_db()
    expand.run.refresh_from_db()
    assert (expand.status, expand.run.status) == (StageStatus.FAILED, RunStatus.REJECTED)
    assert Signature.objects.get().meaning == "rejected"
    assert not TaskOccurrence.objects.filter(
        stage_run__run=expand.run, done_at__isnull=True, skipped=False
    ).exists()


def test_manual_deviation_is_validated(active_run, technician, protocol):
    with pytest.raises(ValidationFailed) as exc:
        deviation_open(run=active_run, kind="nonsense", title="", actor=technician)
    assert set(exc.value.fields) == {"kind", "title"}

    dev = deviation_open(
        run=active_run, kind="manual", title="Freezer door open", actor=technician, severity="minor"
    )
    assert (dev.opened_by, dev.lab_id) == (technician, active_run.lab_id)


def test_window_deviation_may_be_disposed_of_directly(active_run, technician, reviewer):
    work_stage(_stage(active_run, "collect"), actor=technician, at=T0 + 30 * H)

    dev = deviation_disposition(
        deviation=Deviation.objects.get(),
        decision="accept",
        justification="courier delay",
        password=PASSWORD,
        actor=reviewer,
    )
    assert dev.status == "closed"


# --- signatures -------------------------------------------------------------------------------


def test_signature_binds_to_the_record_version(active_run, reviewer, technician):
    signature = signature_sign(
        signer=reviewer,
        password=PASSWORD,
        meaning="reviewed",
        obj=active_run,
        statement="reviewed the plan",
        run=active_run,
    )
    assert signature.record_hash == record_hash(active_run)

    from protocol_tracker.runs.services import run_passage

    run_passage(run=active_run, actor=technician)
    active_run.refresh_from_db()
    assert record_hash(active_run) != signature.record_hash


def test_only_reviewers_of_the_lab_sign(active_run, technician, other_reviewer):
    for signer in (technician, other_reviewer):
        with pytest.raises(NotPermitted):
            signature_sign(
                signer=signer, password=PASSWORD, meaning="reviewed", obj=active_run, statement="x"
            )


# --- release ----------------------------------------------------------------------------------


def test_release_end_to_end(active_run, technician, reviewer):
    run = _complete_run(active_run, technician)

    released = release_run(run=run, actor=reviewer, password=PASSWORD)

    assert (released.status, released.conditional_release, released.pending_tests) == (
        RunStatus.RELEASED,
        False,
        [],
    )
    signature = Signature.objects.get(meaning="released")
    assert (signature.object_type, signature.run_id) == ("runs.run", run.pk)
    assert signature.statement == (
        f"released run {run.code}; I reviewed this batch's audit trail and every exception of "
        "its review by exception, each acknowledged (1 listed)"
    )
    with pytest.raises(InvalidTransition, match="is released; results can no longer"):
        qc_result_record(
            stage_run=_stage(run, "release"),
            checkpoint=_stage(run, "release").stage.checkpoints.get(key="endotoxin"),
            value=1,
            unit=None,
            measured_at=T0 + 150 * H,
            actor=technician,
        )


def test_release_refuses_an_active_run_and_open_deviations(active_run, technician, reviewer):
    with pytest.raises(InvalidTransition, match="only a completed run"):
        release_run(run=active_run, actor=reviewer, password=PASSWORD)

    deviation_open(run=active_run, kind="manual", title="Label misprint", actor=technician)
    run = _complete_run(active_run, technician)
    with pytest.raises(InvalidTransition, match="open deviations DEV-"):
        release_run(run=run, actor=reviewer, password=PASSWORD)
    run.refresh_from_db()
    assert run.status == RunStatus.COMPLETED


def test_four_eyes_whoever_worked_the_run_cannot_release_it(active_run, reviewer, reviewer2):
    run = _complete_run(active_run, reviewer)

    with pytest.raises(SignatureRefused, match="four eyes"):
        release_run(run=run, actor=reviewer, password=PASSWORD)
    assert release_run(run=run, actor=reviewer2, password=PASSWORD).status == RunStatus.RELEASED


def test_conditional_release_then_a_failing_late_result_flags_the_run(
    active_run, technician, reviewer
):
    run = _complete_run(active_run, technician, sterility="pending")
    with pytest.raises(InvalidTransition, match="still pending: 'Sterility'"):
        release_run(run=run, actor=reviewer, password=PASSWORD)
    with pytest.raises(ValidationFailed, match="'endotoxin' is not a pending test"):
        release_run(
            run=run, actor=reviewer, password=PASSWORD, pending_tests=["sterility", "endotoxin"]
        )

    released = release_run(run=run, actor=reviewer, password=PASSWORD, pending_tests=["sterility"])
    assert (released.conditional_release, released.pending_tests) == (True, ["sterility"])

    release = _stage(run, "release")
    with time_machine.travel(T0 + 14 * 24 * H, tick=False):
        late = qc_result_record(
            stage_run=release,
            checkpoint=release.stage.checkpoints.get(key="sterility"),
            value=True,
            unit=None,
            measured_at=T0 + 14 * 24 * H,
            actor=technician,
        )

    run.refresh_from_db()
    assert (late.verdict, late.reason) == ("fail", "result of the pending test")
    assert (run.status, run.flagged, run.pending_tests) == (RunStatus.RELEASED, True, [])
    assert "Sterility" in run.flag_reason
    deviation = Deviation.objects.get()
    assert (deviation.kind, deviation.severity, deviation.qc_result_id) == (
        DeviationKind.LATE_RESULT,
        "critical",
        late.pk,
    )


def test_a_passing_late_result_clears_the_pending_test(active_run, technician, reviewer):
    run = _complete_run(active_run, technician, sterility="pending")
    release_run(run=run, actor=reviewer, password=PASSWORD, pending_tests=["sterility"])
    release = _stage(run, "release")

    with time_machine.travel(T0 + 14 * 24 * H, tick=False):
        qc_result_record(
            stage_run=release,
            checkpoint=release.stage.checkpoints.get(key="sterility"),
            value=False,
            unit=None,
            measured_at=T0 + 14 * 24 * H,
            actor=technician,
        )

    run.refresh_from_db()
    assert (run.flagged, run.pending_tests, Deviation.objects.count()) == (False, [], 0)


def test_reject_a_completed_run_with_a_signature(active_run, technician, reviewer):
    run = _complete_run(active_run, technician)

    with pytest.raises(ValidationFailed):
        run_reject(run=run, actor=reviewer, password=PASSWORD, reason=" ")
    rejected = run_reject(run=run, actor=reviewer, password=PASSWORD, reason="donor recall")

    assert rejected.status == RunStatus.REJECTED
    assert Signature.objects.get().meaning == "rejected"
