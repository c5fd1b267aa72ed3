"""A run of the simple protocol built to hold one exception of each kind the review lists."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest
import time_machine

from protocol_tracker.qc import services as qc
from protocol_tracker.qc.models import Deviation, QCResult
from protocol_tracker.runs.models import Run, StageRun, TaskOccurrence
from protocol_tracker.runs.services import TaskResolutionInput, stage_start, task_done
from tests.builders import T0
from tests.factories import PASSWORD

H = timedelta(hours=1)


@dataclass
class ExceptionalRun:
    run: Run
    oos: QCResult
    retest: QCResult
    correction: QCResult
    late: QCResult
    manual: Deviation
    collect: StageRun
    expand: StageRun


def _stage(run, key) -> StageRun:
    return StageRun.objects.select_related("stage", "run__lab").get(run=run, stage__key=key)


def _record(sr, key, value, *, actor, at, measured=None, **kw):
    with time_machine.travel(at, tick=False):
        return qc.qc_result_record(
            stage_run=sr,
            checkpoint=sr.stage.checkpoints.get(key=key),
            value=value,
            unit=None,
            measured_at=measured or at,
            actor=actor,
            **kw,
        )


@pytest.fixture
def exceptional(active_run, technician, reviewer2) -> ExceptionalRun:
    """The simple protocol's run (planned T0) with: collect finished 6 h late (window), an
    out-of-spec viability and its retest, a corrected density, a mycoplasma result entered 59 h
    after it was measured, a minor manual deviation, one feed skipped and one not applicable,
    and sterility pending at the release stage. ``reviewer2`` signed the dispositions."""
    run = active_run
    collect = _stage(run, "collect")
    with time_machine.travel(T0, tick=False):
        collect = stage_start(stage_run=collect, actor=technician)
    _record(collect, "volume_ok", True, actor=technician, at=T0 + H, measured=T0)
    with time_machine.travel(T0 + 30 * H, tick=False):
        qc.stage_complete(stage_run=collect, actor=technician, window_reason="courier delayed")
        expand = stage_start(stage_run=_stage(run, "expand"), actor=technician)
        qc.deviation_disposition(
            deviation=Deviation.objects.get(kind="window"),
            decision="accept",
            justification="sample stable for 24 h",
            password=PASSWORD,
            actor=reviewer2,
        )
    feeds = list(TaskOccurrence.objects.filter(stage_run=expand).order_by("due_at"))
    with time_machine.travel(feeds[0].due_at + H, tick=False):
        task_done(occurrence=feeds[0], actor=technician)
    oos = _record(expand, "viability", 55, actor=technician, at=T0 + 60 * H)
    deviation = Deviation.objects.get(qc_result=oos)
    with time_machine.travel(T0 + 62 * H, tick=False):
        qc.deviation_investigate(
            deviation=deviation, phase="phase1", findings="counting error", actor=technician
        )
        qc.deviation_disposition(
            deviation=deviation,
            decision="retest",
            justification="repeat the count",
            password=PASSWORD,
            actor=reviewer2,
        )
    retest = _record(expand, "viability", 80, actor=technician, at=T0 + 64 * H)
    density = _record(expand, "density", 6, actor=technician, at=T0 + 65 * H)
    with time_machine.travel(T0 + 66 * H, tick=False):
        correction = qc.qc_result_correct(
            result=density,
            value=7,
            unit=None,
            measured_at=T0 + 65 * H,
            reason="transcription error",
            actor=technician,
        )
    late = _record(
        expand, "mycoplasma", False, actor=technician, at=T0 + 90 * H, measured=T0 + 31 * H
    )
    with time_machine.travel(T0 + 91 * H, tick=False):
        manual = qc.deviation_open(
            run=run,
            kind="manual",
            severity="minor",
            title="Incubator door alarm",
            actor=technician,
        )
        qc.deviation_disposition(
            deviation=manual,
            decision="accept",
            justification="door closed within a minute",
            password=PASSWORD,
            actor=reviewer2,
        )
    with time_machine.travel(expand.due_at, tick=False):
        qc.stage_complete(
            stage_run=expand,
            actor=technician,
            task_resolutions=[
                TaskResolutionInput(feeds[1].pk, "skipped", "incubator alarm"),
                TaskResolutionInput(feeds[2].pk, "not_applicable", "stage ends with it"),
            ],
        )
        release = stage_start(stage_run=_stage(run, "release"), actor=technician)
    _record(release, "endotoxin", 1, actor=technician, at=release.due_at - 2 * H)
    _record(release, "sterility", None, actor=technician, at=release.due_at - 2 * H,
            state="pending")  # fmt: skip
    with time_machine.travel(release.due_at, tick=False):
        qc.stage_complete(stage_run=release, actor=technician)
    run.refresh_from_db()
    return ExceptionalRun(
        run=Run.objects.select_related("lab", "protocol", "donor").get(pk=run.pk),
        oos=oos,
        retest=retest,
        correction=correction,
        late=late,
        manual=manual,
        collect=collect,
        expand=expand,
    )
