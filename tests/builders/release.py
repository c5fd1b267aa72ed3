"""Runs worked the way a lab works them (stages started when planned, bench tasks logged when
due, results recorded before the due time, stages completed on time), acknowledged and
released: for the release, batch record and certificate tests and the benchmark."""

from __future__ import annotations

from datetime import timedelta

import time_machine

from labs.models import Instrument
from protocol_tracker.outcomes import selectors as outcome_selectors
from protocol_tracker.outcomes import services as outcome_services
from protocol_tracker.qc.services import qc_result_record, stage_complete
from protocol_tracker.runs.models import Run, StageRun, StageStatus, TaskOccurrence
from protocol_tracker.runs.services import run_create, run_start, stage_start, task_done
from tests.builders.custody import needs_custody, satisfy
from tests.builders.protocols import published_defaults
from tests.builders.runs import T0, new_donor, passing_value
from tests.factories import PASSWORD, InstrumentFactory

H = timedelta(hours=1)


def lab_instrument(lab, protocol) -> Instrument:
    """An instrument allowed every assay of ``protocol``."""
    return InstrumentFactory(
        lab=lab,
        name=f"All assays {protocol.code}",
        allowed_assays=sorted(set(protocol.checkpoints.values_list("assay", flat=True))),
    )


def work_on_schedule(run: Run, technician, instrument: Instrument) -> Run:
    """Work every ready stage of ``run`` on its plan until none is ready."""
    while True:
        ready = list(
            StageRun.objects.filter(run=run, status=StageStatus.READY)
            .select_related("stage")
            .order_by("due_at", "order")
        )
        if not ready:
            run.refresh_from_db()
            return run
        for sr in ready:
            with time_machine.travel(sr.planned_start, tick=False):
                sr = stage_start(stage_run=sr, actor=technician)
            for occ in TaskOccurrence.objects.filter(stage_run=sr).order_by("due_at", "pk"):
                at = min(occ.due_at + 20 * timedelta(minutes=1), sr.due_at - 2 * H)
                with time_machine.travel(max(at, sr.started_at), tick=False):
                    task_done(occurrence=occ, actor=technician, note="as planned")
            measured = sr.due_at - 2 * H
            with time_machine.travel(sr.due_at - H, tick=False):
                for cp in sr.stage.checkpoints.filter(blocking=True).order_by("order", "key"):
                    if needs_custody(cp):  # scanned or computed from records, never typed
                        satisfy(sr, cp, technician)
                        continue
                    qc_result_record(
                        stage_run=sr,
                        checkpoint=cp,
                        value=passing_value(cp),
                        unit=None,
                        measured_at=measured,
                        actor=instrument if cp.recorded_by == "instrument" else technician,
                    )
            with time_machine.travel(sr.due_at, tick=False):
                stage_complete(stage_run=sr, actor=technician, note="on schedule")


def completed_default_run(lab, technician, *, index: int = 0, donor_code: str | None = None):
    """A run of default protocol ``index`` (0: E-islet) worked on schedule to completion."""
    protocol = published_defaults(lab)[index]
    instrument = lab_instrument(lab, protocol)
    donor = new_donor(lab, technician, donor_code)
    run = run_create(lab=lab, protocol=protocol, donor=donor, actor=technician, planned_start=T0)
    with time_machine.travel(T0, tick=False):
        run_start(run=run, actor=technician)
    return work_on_schedule(run, technician, instrument)


def acknowledge_all(run: Run, reviewer, comment: str = "reviewed") -> None:
    keys = [row.item.key for row in outcome_selectors.run_review(run).unacknowledged]
    if keys:
        outcome_services.exceptions_acknowledge(run=run, keys=keys, actor=reviewer, comment=comment)


def release(run: Run, reviewer, **kwargs) -> Run:
    """Acknowledge every exception of ``run`` and release it, signed by ``reviewer``."""
    acknowledge_all(run, reviewer)
    return outcome_services.run_release(
        run=run, actor=reviewer, password=PASSWORD, audit_trail_reviewed=True, **kwargs
    )
