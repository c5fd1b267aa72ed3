"""Test data for the web UI, built through the services (as the UI itself would)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.utils import timezone

from protocol_tracker.protocols import services as protocol_services
from protocol_tracker.protocols.models import CheckpointTemplate, ProtocolTemplate
from protocol_tracker.qc import services as qc_services
from protocol_tracker.qc.models import Deviation, QCResult
from protocol_tracker.runs import services as run_services
from protocol_tracker.runs.models import Donor, Run, StageRun, TaskOccurrence


def _checkpoint(key, name, value_type, unit, spec, **extra) -> dict:
    data = {
        "key": key, "assay": "cell_count", "name": name, "metric": key, "unit": unit,
        "value_type": value_type, "spec": spec, "blocking": True, "recorded_by": "any",
        "analyte": None, "pending_allowed": False, "retest_every_passages": None,
        "source": "test", "notes": "",
    }  # fmt: skip
    data.update(extra)
    return data


def web_definition(code: str = "islet-web", name: str = "Islet (web test)") -> dict:
    """expand (48 h, feed every 24 h, viability ≥ 70 %) → release (24 h, endotoxin ≤ 5 EU/mL,
    sterility may be pending at release)."""
    return {
        "code": code,
        "name": name,
        "description": "web test protocol",
        "stages": [
            {
                "key": "expand", "name": "Expansion", "kind": "expansion",
                "expected_duration_hours": 48, "window_early_hours": 48,
                "window_late_hours": 12, "reminder_lead_hours": 4, "depends_on": [],
                "description": "", "source": "test",
                "tasks": [{"key": "feed", "name": "Medium change", "every_hours": 24,
                           "on_days": None, "description": ""}],
                "checkpoints": [
                    _checkpoint("viability", "Viability", "percent", "%", {"min": 70}),
                ],
            },
            {
                "key": "release", "name": "Release testing", "kind": "release",
                "expected_duration_hours": 24, "window_early_hours": 24,
                "window_late_hours": 6, "reminder_lead_hours": 2, "depends_on": ["expand"],
                "description": "", "source": "test", "tasks": [],
                "checkpoints": [
                    _checkpoint("endotoxin", "Endotoxin", "number", "EU/mL", {"max": 5}),
                ],
            },
        ],
    }  # fmt: skip


def web_protocol(lab, **kwargs) -> ProtocolTemplate:
    return protocol_services.protocol_import(lab=lab, definition=web_definition(**kwargs))


def active_run(lab, protocol, actor, *, donor_code: str, hours_ago: float = 1) -> Run:
    donor = Donor.objects.for_lab(lab).filter(code=donor_code).first()
    if donor is None:
        donor = run_services.donor_create(lab=lab, code=donor_code, consent_given=True, actor=actor)
    run = run_services.run_create(
        lab=lab,
        protocol=protocol,
        donor=donor,
        actor=actor,
        planned_start=timezone.now() - timedelta(hours=hours_ago),
    )
    return run_services.run_start(run=run, actor=actor)


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
    """An active run whose first stage is in progress with an out-of-spec viability (so a
    deviation is open)."""
    protocol = web_protocol(lab)
    run = active_run(lab, protocol, technician, donor_code=donor_code or f"DON-{lab.slug.upper()}")
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
