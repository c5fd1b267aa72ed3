"""Completing a stage: dependants become ready and are re-planned from the actual completion,
their open bench tasks move with them, a missed window opens a deviation, the run completes."""

from __future__ import annotations

from datetime import timedelta

import pytest

from protocol_tracker.audit.models import AuditEvent
from protocol_tracker.qc.models import Deviation, DeviationKind
from protocol_tracker.runs.models import RunStatus, StageStatus, TaskOccurrence
from tests.builders import T0, work_stage

H = timedelta(hours=1)
pytestmark = pytest.mark.django_db


def _plan(run):
    return {
        sr.stage.key: (sr.status, sr.planned_start - T0, sr.due_at - T0)
        for sr in run.stage_runs.select_related("stage").order_by("order")
    }


def _feeds(run):
    return [
        d - T0
        for d in TaskOccurrence.objects.filter(
            stage_run__run=run, stage_run__stage__key="expand"
        ).values_list("due_at", flat=True)
    ]


@pytest.mark.parametrize("finished", [22 * H, 24 * H, 25 * H])
def test_dependants_follow_the_actual_completion(active_run, technician, finished):
    collect = active_run.stage_runs.get(stage__key="collect")

    work_stage(collect, actor=technician, at=T0 + finished)

    assert _plan(active_run) == {
        "collect": (StageStatus.COMPLETED, 0 * H, 24 * H),
        "expand": (StageStatus.READY, finished, finished + 72 * H),
        "release": (StageStatus.PENDING, finished + 72 * H, finished + 120 * H),
    }
    assert _feeds(active_run) == [finished + 24 * H, finished + 48 * H, finished + 72 * H]
    assert Deviation.objects.count() == 0
    replans = AuditEvent.objects.filter(action__in=["stage_run.ready_replan", "stage_run.replan"])
    assert replans.count() == (0 if finished == 24 * H else 2)


def test_finishing_outside_the_window_opens_a_window_deviation(active_run, technician):
    collect = active_run.stage_runs.get(stage__key="collect")

    work_stage(collect, actor=technician, at=T0 + 30 * H)

    deviation = Deviation.objects.get()
    assert (deviation.kind, deviation.stage_run_id, deviation.severity, deviation.status) == (
        DeviationKind.WINDOW,
        collect.pk,
        "minor",
        "open",
    )
    assert deviation.title == "Stage 'Collect' finished 6.0 h late"
    assert "2026-03-03 15:00 CST" in deviation.description  # the lab's local time
    assert deviation.description.endswith(
        "Reason given at completion: logged at completion by the test builder"
    )


def test_early_finish_beyond_the_window_is_a_deviation_too(active_run, technician):
    work_stage(active_run.stage_runs.get(stage__key="collect"), actor=technician, at=T0 + 21 * H)

    assert Deviation.objects.get().title == "Stage 'Collect' finished 3.0 h early"


def test_the_run_completes_with_its_last_stage(active_run, technician):
    ends = {"collect": 24 * H, "expand": 96 * H, "release": 144 * H}
    for key, end in ends.items():
        work_stage(active_run.stage_runs.get(stage__key=key), actor=technician, at=T0 + end)

    active_run.refresh_from_db()
    assert (active_run.status, active_run.completed_at) == (RunStatus.COMPLETED, T0 + 144 * H)
    assert AuditEvent.objects.filter(action="run.complete", run=active_run).count() == 1


def test_two_technicians_completing_one_stage_only_one_wins(active_run, technician, technician2):
    from protocol_tracker.core.errors import InvalidTransition
    from protocol_tracker.qc.services import stage_complete

    collect = active_run.stage_runs.get(stage__key="collect")
    work_stage(collect, actor=technician, at=T0 + 24 * H)

    with pytest.raises(InvalidTransition, match="is completed; only a stage in progress"):
        stage_complete(stage_run=collect, actor=technician2)
