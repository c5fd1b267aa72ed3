"""Release gates manufacturing, not the clinic: the stages after the release stage (transplant,
follow-up) wait for the signed release, are planned from it and are worked while the run is
released; the manufacturing stages are frozen by then."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine

from protocol_tracker.audit.models import AuditEvent
from protocol_tracker.core.errors import InvalidTransition, RowErrors
from protocol_tracker.outcomes.services import run_reject
from protocol_tracker.protocols.services import protocol_import_defaults
from protocol_tracker.qc.models import Deviation, QCResult
from protocol_tracker.qc.selectors import run_release_check
from protocol_tracker.qc.services import (
    deviation_disposition,
    deviation_investigate,
    qc_result_correct,
    qc_result_record,
    qc_results_record_bulk,
    stage_complete,
)
from protocol_tracker.runs import planning
from protocol_tracker.runs.models import Run, RunStatus, StageStatus, TaskOccurrence
from protocol_tracker.runs.selectors import bench_board, post_release_stage_ids
from protocol_tracker.runs.services import run_create, run_start, stage_start, task_done
from tests.builders import T0, clinical_protocol_data, complete, work_stage
from tests.builders.release import release
from tests.factories import PASSWORD, protocol_from_dict

H = timedelta(hours=1)
D = 24 * H
RELEASED_AT = T0 + 80 * H
pytestmark = pytest.mark.django_db


@pytest.fixture
def run(lab, donor, technician):
    protocol = protocol_from_dict(lab, clinical_protocol_data())
    run = run_create(lab=lab, protocol=protocol, donor=donor, actor=technician, planned_start=T0)
    with time_machine.travel(T0, tick=False):
        return run_start(run=run, actor=technician)


def _stage(run, key):
    return run.stage_runs.select_related("stage").get(stage__key=key)


def _manufacture(run, technician, *, sterility_pending: bool = False) -> Run:
    work_stage(_stage(run, "collect"), actor=technician, at=T0 + 24 * H)
    release = _stage(run, "release")
    if sterility_pending:
        with time_machine.travel(T0 + 30 * H, tick=False):
            release = stage_start(stage_run=release, actor=technician)
            qc_result_record(
                stage_run=release,
                checkpoint=release.stage.checkpoints.get(key="sterility"),
                value=None,
                unit=None,
                state="pending",
                measured_at=T0 + 30 * H,
                actor=technician,
            )
    work_stage(release, actor=technician, at=T0 + 72 * H)
    run.refresh_from_db()
    return run


@pytest.fixture
def completed(run, technician):
    return _manufacture(run, technician)


@pytest.fixture
def released(completed, reviewer):
    with time_machine.travel(RELEASED_AT, tick=False):
        return release(completed, reviewer)


def _plan(run):
    return {
        sr.stage.key: (sr.status, sr.planned_start - T0, sr.due_at - T0)
        for sr in run.stage_runs.select_related("stage").order_by("order")
    }


def _record(stage_run, key, value, *, actor, at):
    with time_machine.travel(at, tick=False):
        return qc_result_record(
            stage_run=stage_run,
            checkpoint=stage_run.stage.checkpoints.get(key=key),
            value=value,
            unit=None,
            measured_at=at,
            actor=actor,
        )


# --- which stages are post-release ------------------------------------------------------------


def test_post_release_nodes_are_what_follows_the_release():
    kinds = {"a": "collection", "rel": "release", "tx": "transplant", "fu": "follow_up"}
    chain = {"a": [], "rel": ["a"], "tx": ["rel"], "fu": ["tx"]}
    assert planning.post_release_nodes(kinds, chain) == {"tx", "fu"}

    # Chained releases (a bank released mid-run, then the lot): only what follows the last one.
    kinds = {"bank": "release", "diff": "differentiation", "lot": "release", "tx": "transplant"}
    chain = {"bank": [], "diff": ["bank"], "lot": ["diff"], "tx": ["lot"]}
    assert planning.post_release_nodes(kinds, chain) == {"tx"}

    # No release stage: nothing waits for a release.
    assert planning.post_release_nodes({"a": "collection", "b": "expansion"}, {"b": ["a"]}) == (
        frozenset()
    )


def test_plan_stages_not_before_holds_a_stage_back():
    spans = planning.plan_stages(
        start=T0,
        order=["rel", "tx", "fu"],
        durations={"rel": 48 * H, "tx": 24 * H, "fu": 10 * D},
        depends_on={"tx": ["rel"], "fu": ["tx"]},
        tz=T0.tzinfo,
        finished={"rel": T0 + 40 * H},
        not_before={"tx": T0 + 80 * H, "fu": T0 + 80 * H},
    )
    assert (spans["tx"].planned_start, spans["fu"].planned_start) == (T0 + 80 * H, T0 + 104 * H)


def test_post_release_stage_ids_of_the_defaults_one_query_then_cached(
    lab, django_assert_num_queries
):
    islet, stepwise = protocol_import_defaults(lab=lab)[:2]

    with django_assert_num_queries(1):
        ids = post_release_stage_ids(islet)
    with django_assert_num_queries(0):
        assert post_release_stage_ids(islet) is ids
    assert set(islet.stages.filter(pk__in=ids).values_list("key", flat=True)) == {
        "transplant",
        "follow_up",
    }
    assert post_release_stage_ids(stepwise.pk) == frozenset()


# --- before the release ---------------------------------------------------------------------


def test_the_run_completes_with_its_manufacturing_stages(completed):
    assert (completed.status, completed.completed_at) == (RunStatus.COMPLETED, T0 + 72 * H)
    assert _plan(completed) == {
        "collect": (StageStatus.COMPLETED, 0 * H, 24 * H),
        "release": (StageStatus.COMPLETED, 24 * H, 72 * H),
        "transplant": (StageStatus.PENDING, 72 * H, 96 * H),
        "follow_up": (StageStatus.PENDING, 96 * H, 96 * H + 30 * D),
        "safety_watch": (StageStatus.PENDING, 72 * H, 72 * H + 30 * D),
    }
    check = run_release_check(completed)
    assert ([sr.stage.key for sr in check.stage_runs], check.gaps) == (["collect", "release"], {})


def test_the_release_check_takes_five_queries(completed, django_assert_num_queries):
    run = Run.objects.get(pk=completed.pk)
    with django_assert_num_queries(5):
        run_release_check(run)


def test_a_post_release_stage_cannot_start_before_the_release(run, technician):
    with pytest.raises(InvalidTransition) as exc:
        stage_start(stage_run=_stage(run, "safety_watch"), actor=technician)
    assert exc.value.message == (
        f"stage 'Safety Watch' cannot start before run {run.code} is released"
    )

    run = _manufacture(run, technician)
    events = AuditEvent.objects.count()
    with pytest.raises(InvalidTransition) as exc:
        stage_start(stage_run=_stage(run, "transplant"), actor=technician)

    assert exc.value.message == f"stage 'Transplant' cannot start before run {run.code} is released"
    assert (AuditEvent.objects.count(), _stage(run, "transplant").status) == (
        events,
        StageStatus.PENDING,
    )


def test_without_a_release_stage_every_stage_must_be_done(lab, donor, technician):
    data = clinical_protocol_data("no-release")
    data["stages"][1]["kind"] = "banking"
    protocol = protocol_from_dict(lab, data)
    run = run_create(lab=lab, protocol=protocol, donor=donor, actor=technician, planned_start=T0)
    with time_machine.travel(T0, tick=False):
        run_start(run=run, actor=technician)

    work_stage(_stage(run, "collect"), actor=technician, at=T0 + 24 * H)
    work_stage(_stage(run, "release"), actor=technician, at=T0 + 72 * H)

    run.refresh_from_db()
    assert run.status == RunStatus.ACTIVE
    assert _stage(run, "transplant").status == StageStatus.READY


def test_rejecting_a_completed_run_skips_its_post_release_stages(completed, technician, reviewer):
    run_reject(run=completed, actor=reviewer, password=PASSWORD, reason="donor recall")

    plan = _plan(completed)
    assert [plan[k][0] for k in ("transplant", "follow_up", "safety_watch")] == [
        StageStatus.SKIPPED
    ] * 3
    with pytest.raises(InvalidTransition) as exc:
        stage_start(stage_run=_stage(completed, "transplant"), actor=technician)
    assert exc.value.message == (
        f"run {completed.code} is rejected; starting stage 'Transplant' needs an active run"
    )


# --- the release ------------------------------------------------------------------------------


def test_the_release_opens_the_post_release_stages_planned_from_it(released):
    assert (released.status, released.closed_at) == (RunStatus.RELEASED, RELEASED_AT)
    assert _plan(released) == {
        "collect": (StageStatus.COMPLETED, 0 * H, 24 * H),
        "release": (StageStatus.COMPLETED, 24 * H, 72 * H),
        "transplant": (StageStatus.READY, 80 * H, 104 * H),
        "follow_up": (StageStatus.PENDING, 104 * H, 104 * H + 30 * D),
        "safety_watch": (StageStatus.READY, 80 * H, 80 * H + 30 * D),
    }
    visits = TaskOccurrence.objects.filter(stage_run__run=released).order_by("due_at")
    assert [v.due_at - T0 for v in visits] == [104 * H + 7 * D, 104 * H + 14 * D]
    tail = AuditEvent.objects.filter(run=released).order_by("-id")[:7]
    assert [e.action for e in reversed(tail)] == [
        "run.release",
        "signature.sign",
        "release_document.store",
        "release_document.store",
        "stage_run.ready_replan",
        "stage_run.replan",
        "stage_run.ready_replan",
    ]


def test_the_bench_board_shows_the_clinic_of_released_runs(released):
    with time_machine.travel(RELEASED_AT + 200 * H, tick=False):
        board = bench_board(lab=released.lab)
    assert {c.key: [sr.stage.key for sr in c.stages] for c in board.columns} == {
        "overdue": ["transplant"],
        "today": [],
        "next": [],
    }


# --- after the release ------------------------------------------------------------------------


def test_after_release_manufacturing_is_frozen(released, technician):
    release = _stage(released, "release")
    with pytest.raises(InvalidTransition) as exc:
        _record(release, "endotoxin", 1, actor=technician, at=RELEASED_AT + H)
    assert exc.value.message == (
        f"run {released.code} is released; results can no longer be recorded"
    )
    endotoxin = QCResult.objects.get(stage_run=release, checkpoint__key="endotoxin")
    with pytest.raises(InvalidTransition, match="results can no longer be corrected"):
        qc_result_correct(
            result=endotoxin,
            value=2,
            unit=None,
            measured_at=RELEASED_AT,
            reason="typo",
            actor=technician,
        )
    assert QCResult.objects.filter(stage_run=release).count() == 2


def test_end_to_end_transplant_and_follow_up_after_the_release(released, technician):
    transplant = _stage(released, "transplant")
    with time_machine.travel(RELEASED_AT + 2 * H, tick=False):
        transplant = stage_start(stage_run=transplant, actor=technician)
    _record(transplant, "bedside_identity", True, actor=technician, at=RELEASED_AT + 3 * H)
    dose = _record(transplant, "dose", 500, actor=technician, at=RELEASED_AT + 3 * H)
    with time_machine.travel(RELEASED_AT + 4 * H, tick=False):
        corrected = qc_result_correct(
            result=dose,
            value=450,
            unit=None,
            measured_at=RELEASED_AT + 3 * H,
            reason="bag weighed again",
            actor=technician,
        )
        complete(transplant, technician)
    assert (corrected.supersedes_id, corrected.value_number) == (dose.pk, 450)

    plan = _plan(released)
    assert plan["transplant"][0] == StageStatus.COMPLETED
    assert plan["follow_up"] == (StageStatus.READY, 84 * H, 84 * H + 30 * D)
    # A later re-plan keeps the safety watch after the release.
    assert plan["safety_watch"] == (StageStatus.READY, 80 * H, 80 * H + 30 * D)

    follow_up = _stage(released, "follow_up")
    with time_machine.travel(RELEASED_AT + 5 * H, tick=False):
        follow_up = stage_start(stage_run=follow_up, actor=technician)
    visit = TaskOccurrence.objects.filter(stage_run=follow_up).order_by("due_at").first()
    with time_machine.travel(visit.due_at, tick=False):
        task_done(occurrence=visit, actor=technician, note="week 1")
    _record(follow_up, "c_peptide", 210, actor=technician, at=visit.due_at)
    work_stage(follow_up, actor=technician, at=T0 + 84 * H + 30 * D)
    released.refresh_from_db()
    assert (released.status, released.post_release_completed_at) == (RunStatus.RELEASED, None)

    last = T0 + 80 * H + 30 * D
    work_stage(_stage(released, "safety_watch"), actor=technician, at=last)

    released.refresh_from_db()
    assert (released.status, released.closed_at, released.post_release_completed_at) == (
        RunStatus.RELEASED,
        RELEASED_AT,
        last,
    )
    event = AuditEvent.objects.filter(run=released).order_by("-id").first()
    assert (event.action, event.after["post_release_completed_at"]) == (
        "run.post_release_complete",
        last.isoformat().replace("+00:00", "Z"),
    )
    assert Deviation.objects.count() == 0


def test_a_failing_identity_check_after_release_flags_the_run(released, technician, reviewer):
    with time_machine.travel(RELEASED_AT + H, tick=False):
        transplant = stage_start(stage_run=_stage(released, "transplant"), actor=technician)
    failed = _record(
        transplant, "bedside_identity", False, actor=technician, at=RELEASED_AT + 2 * H
    )

    released.refresh_from_db()
    assert (released.status, released.flagged, released.flag_reason) == (
        RunStatus.RELEASED,
        True,
        "out of specification after release: 'Bedside Identity' no (stage 'Transplant')",
    )
    deviation = Deviation.objects.get()
    assert (deviation.kind, deviation.severity, deviation.qc_result_id) == (
        "oos",
        "critical",
        failed.pk,
    )
    assert AuditEvent.objects.filter(action="run.flag", run=released).count() == 1
    with pytest.raises(InvalidTransition, match="without an accepted disposition"):
        stage_complete(stage_run=transplant, actor=technician)

    deviation_investigate(
        deviation=deviation, phase="phase1", findings="wristband misread", actor=technician
    )
    deviation_disposition(
        deviation=deviation,
        decision="retest",
        justification="check again at the bedside",
        password=PASSWORD,
        actor=reviewer,
    )
    _record(transplant, "bedside_identity", True, actor=technician, at=RELEASED_AT + 3 * H)
    done = work_stage(transplant, actor=technician, at=RELEASED_AT + 4 * H)

    released.refresh_from_db()
    assert (done.status, released.status) == (StageStatus.COMPLETED, RunStatus.RELEASED)


def test_conditional_release_leaves_the_pending_test_open_beside_the_clinic(
    run, technician, reviewer
):
    run = _manufacture(run, technician, sterility_pending=True)
    with time_machine.travel(RELEASED_AT, tick=False):
        release(run, reviewer, pending_tests=["sterility"])
    with time_machine.travel(RELEASED_AT + H, tick=False):
        stage_start(stage_run=_stage(run, "transplant"), actor=technician)

    late = _record(_stage(run, "release"), "sterility", False, actor=technician, at=T0 + 14 * D)

    run.refresh_from_db()
    assert (late.verdict, run.pending_tests, run.flagged) == ("pass", [], False)
    assert _stage(run, "transplant").status == StageStatus.IN_PROGRESS


def test_bulk_recording_after_release_takes_only_post_release_stages(released, technician):
    with time_machine.travel(RELEASED_AT + H, tick=False):
        transplant = stage_start(stage_run=_stage(released, "transplant"), actor=technician)
    release = _stage(released, "release")
    dose = transplant.stage.checkpoints.get(key="dose")
    endotoxin = release.stage.checkpoints.get(key="endotoxin")
    row = {"value": 1, "unit": None, "measured_at": RELEASED_AT + H}

    with time_machine.travel(RELEASED_AT + 2 * H, tick=False):
        with pytest.raises(RowErrors) as exc:
            qc_results_record_bulk(
                rows=[
                    {"stage_run": transplant.pk, "checkpoint": dose.pk, **row},
                    {"stage_run": release.pk, "checkpoint": endotoxin.pk, **row},
                ],
                actor=technician,
            )
        assert exc.value.rows == [
            {
                "index": 1,
                "field": "checkpoint",
                "message": f"run {released.code} is released; results can no longer be recorded",
            }
        ]
        (result,) = qc_results_record_bulk(
            rows=[{"stage_run": transplant.pk, "checkpoint": dose.pk, **row}], actor=technician
        )
    assert (result.stage_run_id, result.verdict) == (transplant.pk, "no_spec")
