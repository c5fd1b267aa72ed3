"""Builders for API tests. Everything goes through the services, like the API itself."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import timedelta

from django.utils import timezone

from labs.models import Instrument, InstrumentKind
from labs.services import instrument_credential_issue
from protocol_tracker.api.services import personal_token_issue
from protocol_tracker.protocols import services as protocol_services
from protocol_tracker.qc import services as qc_services
from protocol_tracker.runs import services as run_services
from protocol_tracker.runs.models import StageRun

CELL_COUNTER_MAPPING = {
    "sample_id": "Sample ID",
    "fields": {
        "viable_cells_per_ml": {"column": "Viable cells/mL", "unit": "cells/mL"},
        "viability": {"column": "Viability (%)", "unit": "%"},
        "total_cells": {"column": "Total cells", "unit": "cells"},
    },
}


def checkpoint(key: str, **extra) -> dict:
    cp = {
        "key": key,
        "assay": "cell_count",
        "name": key.replace("_", " ").title(),
        "metric": key,
        "unit": "%",
        "value_type": "percent",
        "spec": {"min": 70},
        "blocking": True,
        "recorded_by": "any",
        "analyte": None,
        "pending_allowed": False,
        "retest_every_passages": None,
        "source": "test",
        "notes": "",
    }
    cp.update(extra)
    return cp


def definition(code: str = "api-test") -> dict:
    """expand (viability %, events from FCS, density) → bank. Wide windows: no window
    deviations when a test completes a stage early."""
    return {
        "code": code, "name": f"API test {code}", "description": "",
        "stages": [
            {"key": "expand", "name": "Expansion", "kind": "expansion",
             "expected_duration_hours": 48, "window_early_hours": 1000,
             "window_late_hours": 1000, "reminder_lead_hours": 4, "depends_on": [],
             "description": "", "source": "test",
             "tasks": [{"key": "feed", "name": "Medium change", "every_hours": 24,
                        "on_days": None, "description": ""}],
             "checkpoints": [
                 checkpoint("viability"),
                 checkpoint("events", assay="flow_cytometry", metric="event_count", unit="",
                            value_type="number", spec={"min": 1000}, blocking=False),
                 checkpoint("viable_cells_per_ml", metric="viable_cells_per_ml",
                            unit="cells/mL", value_type="number", spec={"min": 100000},
                            blocking=False),
             ]},
            {"key": "bank", "name": "Banking", "kind": "banking",
             "expected_duration_hours": 24, "window_early_hours": 1000,
             "window_late_hours": 1000, "reminder_lead_hours": 4, "depends_on": ["expand"],
             "description": "", "source": "test", "tasks": [],
             "checkpoints": [checkpoint("post_thaw_viability")]},
        ],
    }  # fmt: skip


def wide_definition(code: str = "wide", checkpoints: int = 100) -> dict:
    """One stage with many informational number checkpoints (for bulk loads)."""
    base = definition(code)
    stage = {
        **base["stages"][0],
        "tasks": [],
        "checkpoints": [
            checkpoint(
                f"m{i:03d}",
                metric=f"m{i:03d}",
                unit="",
                value_type="number",
                spec={"min": 0},
                blocking=False,
            )
            for i in range(checkpoints)
        ],
    }
    return {**base, "stages": [stage]}


def published_protocol(lab, code: str = "api-test"):
    return protocol_services.protocol_import(lab=lab, definition=definition(code))


def draft_protocol(lab, code: str = "api-draft"):
    return protocol_services.protocol_import(lab=lab, definition=definition(code), publish=False)


_donor_seq = iter(range(1, 10**6))


def donor(lab, actor, code: str | None = None):
    return run_services.donor_create(
        lab=lab, code=code or f"DN-{next(_donor_seq):05d}", consent_given=True, actor=actor
    )


def planned_run(protocol, actor, *, donor_=None):
    d = donor_ or donor(protocol.lab, actor)
    return run_services.run_create(
        lab=protocol.lab,
        protocol=protocol,
        donor=d,
        actor=actor,
        planned_start=timezone.now() - timedelta(hours=1),
    )


def active_run(protocol, actor):
    return run_services.run_start(run=planned_run(protocol, actor), actor=actor)


def stage(run, key: str = "expand") -> StageRun:
    return StageRun.objects.select_related("run__lab", "stage").get(run=run, stage__key=key)


def working_stage(protocol, actor, key: str = "expand") -> StageRun:
    """An active run's first stage, started (in progress)."""
    run = active_run(protocol, actor)
    return run_services.stage_start(stage_run=stage(run, key), actor=actor)


def record(stage_run, actor, key: str = "viability", value=95, unit="%"):
    cp = stage_run.stage.checkpoints.get(key=key)
    return qc_services.qc_result_record(
        stage_run=stage_run,
        checkpoint=cp,
        value=value,
        unit=unit,
        measured_at=timezone.now(),
        actor=actor,
    )


def completed_run(protocol, actor):
    """A run whose every stage passed and completed (by ``actor``): ready for release."""
    sr = working_stage(protocol, actor)
    record(sr, actor)
    qc_services.stage_complete(stage_run=sr, actor=actor)
    bank = run_services.stage_start(stage_run=stage(sr.run, "bank"), actor=actor)
    record(bank, actor, key="post_thaw_viability")
    qc_services.stage_complete(stage_run=bank, actor=actor)
    sr.run.refresh_from_db()
    return sr.run


def instrument(
    lab,
    *,
    name: str = "Counter",
    assays=("cell_count", "flow_cytometry"),
    serial: str = "",
    mapping: dict | None = None,
) -> tuple[Instrument, str]:
    inst = Instrument.objects.create(
        lab=lab,
        name=name,
        kind=InstrumentKind.CELL_COUNTER,
        serial=serial,
        allowed_assays=list(assays),
        csv_mapping=mapping or CELL_COUNTER_MAPPING,
    )
    _credential, token = instrument_credential_issue(instrument=inst, actor=None)
    return inst, token


def token_for(user) -> str:
    return personal_token_issue(user=user, name="tests")[1]


def fcs_bytes(events: int = 2000, *, cytometer: str = "TestCyt", serial: str = "") -> bytes:
    """A small, valid FCS 3.1 file written with flowio."""
    import flowio

    channels = ["FSC-A", "SSC-A", "FL1-A"]
    data = [float((i * 7 + c) % 1024) for i in range(events) for c in range(len(channels))]
    metadata = {"CYT": cytometer, "DATE": "05-JAN-2024", "BTIM": "10:30:00"}
    if serial:
        metadata["CYTSN"] = serial
    out = io.BytesIO()
    flowio.create_fcs(out, data, channels, metadata_dict=metadata)
    return out.getvalue()


def named_file(data: bytes, name: str, content_type: str = "application/octet-stream"):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, data, content_type=content_type)


def attach_upload(w) -> None:
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
    protocol = published_protocol(lab)
    draft = draft_protocol(lab)
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
