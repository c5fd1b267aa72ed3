"""Standing worlds: one lab's objects built through the services, for the API and web tests."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.utils import timezone

from labs.models import Instrument
from protocol_tracker.api.services import personal_token_issue
from protocol_tracker.protocols.models import CheckpointTemplate, ProtocolTemplate
from protocol_tracker.qc import services as qc_services
from protocol_tracker.qc.models import Deviation, QCResult
from protocol_tracker.runs import services as run_services
from protocol_tracker.runs.models import Run, StageRun, TaskOccurrence
from tests.builders.instruments import fcs_bytes, instrument
from tests.builders.protocols import api_protocol, web_protocol
from tests.builders.runs import active_run, record, working_stage


def token_for(user) -> str:
    """A new personal API token of ``user``."""
    return personal_token_issue(user=user, name="tests")[1]


@dataclass
class LabWorld:
    """One lab's standing objects (shared by the cases that do not change them)."""

    lab: object
    worker: object
    protocol: object
    draft: object
    donor: object
    run: object
    stage_run: object
    result: object
    deviation: object
    instrument: Instrument
    instrument_token: str
    upload: object = None
    extra: dict = field(default_factory=dict)


def lab_world(lab, worker) -> LabWorld:
    """``api_definition`` published and as a draft, a run working its first stage with a
    passing viability, an open manual deviation, and a cell counter with its token."""
    protocol = api_protocol(lab)
    draft = api_protocol(lab, "api-draft", publish=False)
    sr = working_stage(protocol, worker)
    result = record(sr, worker)
    deviation = qc_services.deviation_open(
        run=sr.run, kind="manual", title="Spilled flask", actor=worker
    )
    inst, token = instrument(lab)
    return LabWorld(
        lab=lab,
        worker=worker,
        protocol=protocol,
        draft=draft,
        donor=sr.run.donor,
        run=sr.run,
        stage_run=sr,
        result=result,
        deviation=deviation,
        instrument=inst,
        instrument_token=token,
    )


def attach_upload(w: LabWorld) -> None:
    """Give the world an (inline, parsed) FCS upload on its working stage."""
    from protocol_tracker.qc.services.formats import IngestTargets
    from protocol_tracker.qc.services.uploads import instrument_upload_receive

    data = fcs_bytes(events=1500, cytometer=f"Cyt-{w.lab.slug}")
    w.upload = instrument_upload_receive(
        actor=w.worker,
        data=data,
        filename="standing.fcs",
        targets=IngestTargets(
            stage_run=w.stage_run, checkpoint=w.stage_run.stage.checkpoints.get(key="events")
        ),
    )


@dataclass
class Scenario:
    protocol: ProtocolTemplate
    run: Run
    stage_run: StageRun
    checkpoint: CheckpointTemplate
    result: QCResult
    deviation: Deviation
    task: TaskOccurrence
    release_stage_run: StageRun


def scenario(lab, technician, *, donor_code: str | None = None) -> Scenario:
    """``web_definition`` with an active run whose first stage is in progress with an
    out-of-spec viability (so a deviation is open)."""
    protocol = web_protocol(lab)
    run = active_run(protocol, technician, donor_code=donor_code or f"DON-{lab.slug.upper()}")
    stage_runs = list(StageRun.objects.filter(run=run).order_by("order"))
    stage_run = run_services.stage_start(stage_run=stage_runs[0], actor=technician)
    checkpoint = CheckpointTemplate.objects.get(protocol=protocol, key="viability")
    result = qc_services.qc_result_record(
        stage_run=stage_run,
        checkpoint=checkpoint,
        value=50,
        unit="%",
        measured_at=timezone.now(),
        actor=technician,
    )
    return Scenario(
        protocol=protocol,
        run=run,
        stage_run=stage_run,
        checkpoint=checkpoint,
        result=result,
        deviation=Deviation.objects.get(qc_result=result),
        task=TaskOccurrence.objects.filter(stage_run=stage_run).order_by("due_at").first(),
        release_stage_run=stage_runs[1],
    )
