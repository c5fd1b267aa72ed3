"""Both default protocols load and run end to end: start, every stage passes, release; for the
E-islet protocol the transplant and the follow-up come after the release."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine

from protocol_tracker.core.errors import InvalidTransition
from protocol_tracker.qc.models import Deviation
from protocol_tracker.qc.services import qc_result_record
from protocol_tracker.runs.models import RunStatus, StageRun, StageStatus
from protocol_tracker.runs.services import run_create, run_start, stage_start
from tests.builders import T0, complete, passing_value, published_defaults
from tests.builders.custody import needs_custody, satisfy
from tests.builders.release import release
from tests.factories import CoiFactory, DonorFactory, InstrumentFactory

pytestmark = pytest.mark.django_db


def _work_everything(run, technician, instrument):
    while True:
        ready = list(
            StageRun.objects.filter(run=run, status=StageStatus.READY)
            .select_related("stage")
            .order_by("due_at", "order")
        )
        if not ready:
            return
        for sr in ready:
            with time_machine.travel(sr.due_at, tick=False):
                sr = stage_start(stage_run=sr, actor=technician)
                for cp in sr.stage.checkpoints.filter(blocking=True):
                    if needs_custody(cp):  # identity scans, values computed from records
                        satisfy(sr, cp, technician)
                        continue
                    actor = instrument if cp.recorded_by == "instrument" else technician
                    qc_result_record(
                        stage_run=sr,
                        checkpoint=cp,
                        value=passing_value(cp),
                        unit=None,
                        measured_at=sr.due_at,
                        actor=actor,
                    )
                complete(sr, technician)


def _setup(lab, technician, index):
    protocol = published_defaults(lab)[index]
    donor = DonorFactory(lab=lab, code=f"E2E-{index}", coi=CoiFactory(lab=lab))
    instrument = InstrumentFactory(
        lab=lab,
        name="Any",
        allowed_assays=list(protocol.checkpoints.values_list("assay", flat=True)),
    )
    run = run_create(lab=lab, protocol=protocol, donor=donor, actor=technician, planned_start=T0)
    with time_machine.travel(T0, tick=False):
        run_start(run=run, actor=technician)
    return run, instrument


def _statuses(run):
    return dict(
        StageRun.objects.filter(run=run).values_list("stage__key", "status").order_by("order")
    )


def test_e_islet_manufacturing_release_transplant_follow_up(lab, technician, reviewer):
    run, instrument = _setup(lab, technician, 0)

    _work_everything(run, technician, instrument)
    run.refresh_from_db()
    statuses = _statuses(run)
    assert run.status == RunStatus.COMPLETED
    assert [k for k, s in statuses.items() if s != StageStatus.COMPLETED] == [
        "transplant",
        "follow_up",
    ]
    assert (statuses["transplant"], statuses["follow_up"]) == ("pending", "pending")
    transplant = StageRun.objects.select_related("stage").get(run=run, stage__key="transplant")
    with pytest.raises(InvalidTransition) as exc:
        stage_start(stage_run=transplant, actor=technician)
    assert exc.value.message == (
        f"stage 'Transplant' cannot start before run {run.code} is released"
    )

    released_at = run.completed_at + timedelta(hours=4)
    with time_machine.travel(released_at, tick=False):
        released = release(run, reviewer)
    transplant.refresh_from_db()
    assert (released.status, transplant.status, transplant.planned_start) == (
        RunStatus.RELEASED,
        StageStatus.READY,
        released_at,
    )

    _work_everything(run, technician, instrument)
    run.refresh_from_db()
    assert set(_statuses(run).values()) == {StageStatus.COMPLETED}
    assert (run.status, run.post_release_completed_at) == (
        RunStatus.RELEASED,
        StageRun.objects.get(run=run, stage__key="follow_up").completed_at,
    )
    assert Deviation.objects.count() == 0


def test_sc_beta_stepwise_runs_end_to_end(lab, technician, reviewer):
    run, instrument = _setup(lab, technician, 1)

    _work_everything(run, technician, instrument)
    run.refresh_from_db()
    assert run.status == RunStatus.COMPLETED
    assert set(_statuses(run).values()) == {StageStatus.COMPLETED}
    assert Deviation.objects.count() == 0

    released = release(run, reviewer)
    assert released.status == RunStatus.RELEASED
