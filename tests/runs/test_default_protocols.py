"""Both default protocols load and run end to end: start, every stage passes, release."""

from __future__ import annotations

import pytest
import time_machine

from protocol_tracker.protocols.services import protocol_import_defaults
from protocol_tracker.qc.models import Deviation
from protocol_tracker.qc.services import qc_result_record, run_release
from protocol_tracker.runs.models import RunStatus, StageRun, StageStatus
from protocol_tracker.runs.services import run_create, run_start, stage_complete, stage_start
from tests.factories import PASSWORD, InstrumentFactory
from tests.runs.conftest import T0
from tests.runs.factories import DonorFactory, passing_value

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
                    actor = instrument if cp.recorded_by == "instrument" else technician
                    qc_result_record(
                        stage_run=sr,
                        checkpoint=cp,
                        value=passing_value(cp),
                        unit=None,
                        measured_at=sr.due_at,
                        actor=actor,
                    )
                stage_complete(stage_run=sr, actor=technician)


@pytest.mark.parametrize("index", [0, 1])
def test_default_protocol_runs_end_to_end(lab, technician, reviewer, index):
    protocol = protocol_import_defaults(lab=lab)[index]
    donor = DonorFactory(lab=lab, code=f"E2E-{index}")
    instrument = InstrumentFactory(
        lab=lab,
        name="Any",
        allowed_assays=list(protocol.checkpoints.values_list("assay", flat=True)),
    )

    run = run_create(lab=lab, protocol=protocol, donor=donor, actor=technician, planned_start=T0)
    with time_machine.travel(T0, tick=False):
        run_start(run=run, actor=technician)
    _work_everything(run, technician, instrument)
    run.refresh_from_db()
    assert run.status == RunStatus.COMPLETED
    assert not StageRun.objects.filter(run=run).exclude(status=StageStatus.COMPLETED).exists()
    assert Deviation.objects.count() == 0

    released = run_release(run=run, actor=reviewer, password=PASSWORD)
    assert released.status == RunStatus.RELEASED
