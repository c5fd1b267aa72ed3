"""Factories for the workflow engine's tests: protocol templates built from plain dicts (the
schema of ``protocol_tracker.protocols.defaults``), donors and runs.

Templates are written directly as rows here (the protocol services are another app's); they are
published at once.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import factory

from protocol_tracker.protocols.models import (
    CheckpointTemplate,
    ProtocolStatus,
    ProtocolTemplate,
    StageTemplate,
    TaskTemplate,
)
from protocol_tracker.runs.models import Donor

H = timedelta(hours=1)


class DonorFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Donor

    code = factory.Sequence(lambda n: f"D{n:04d}")
    consent_given = True
    consent_scope = factory.LazyFunction(list)
    consent_version = "v1"


def checkpoint(key: str, **kw: Any) -> dict[str, Any]:
    data = {
        "key": key,
        "assay": kw.pop("assay", key),
        "name": kw.pop("name", key.replace("_", " ").title()),
        "metric": kw.pop("metric", key),
        "unit": kw.pop("unit", ""),
        "value_type": kw.pop("value_type", "number"),
        "spec": kw.pop("spec", {}),
        "blocking": kw.pop("blocking", True),
        "recorded_by": kw.pop("recorded_by", "any"),
        "analyte": kw.pop("analyte", None),
        "pending_allowed": kw.pop("pending_allowed", False),
        "retest_every_passages": kw.pop("retest_every_passages", None),
        "source": kw.pop("source", "test"),
        "notes": "",
    }
    assert not kw, kw
    return data


def stage(
    key: str,
    hours: float,
    *,
    depends_on=(),
    early: float = 2,
    late: float = 2,
    tasks=(),
    checkpoints=(),
    kind: str = "expansion",
) -> dict[str, Any]:
    return {
        "key": key,
        "name": key.replace("_", " ").title(),
        "kind": kind,
        "expected_duration_hours": hours,
        "window_early_hours": early,
        "window_late_hours": late,
        "depends_on": list(depends_on),
        "reminder_lead_hours": 2,
        "description": "",
        "source": "test",
        "tasks": list(tasks),
        "checkpoints": list(checkpoints),
    }


def task(key: str, *, every_hours: float | None = None, on_days=None) -> dict[str, Any]:
    return {
        "key": key,
        "name": key.replace("_", " ").title(),
        "every_hours": every_hours,
        "on_days": on_days,
        "description": "",
    }


def simple_protocol_data(code: str = "simple") -> dict[str, Any]:
    """collect (24 h) → expand (72 h, daily feed, two blocking checks) → release (48 h)."""
    return {
        "code": code,
        "name": "Simple test protocol",
        "description": "",
        "stages": [
            stage(
                "collect",
                24,
                kind="collection",
                checkpoints=[
                    checkpoint("volume_ok", value_type="boolean", spec={"expected": True}),
                ],
            ),
            stage(
                "expand",
                72,
                depends_on=["collect"],
                tasks=[task("feed", every_hours=24)],
                checkpoints=[
                    checkpoint(
                        "viability",
                        value_type="percent",
                        unit="%",
                        spec={"min": 70},
                        assay="cell_count",
                    ),
                    checkpoint(
                        "density", unit="10^6 cells/mL", spec={"min": 5}, assay="cell_count"
                    ),
                    checkpoint(
                        "morphology",
                        value_type="text",
                        blocking=False,
                        spec={"allowed": ["compact", "flat"]},
                    ),
                    checkpoint(
                        "density_auto",
                        unit="10^6 cells/mL",
                        blocking=False,
                        recorded_by="instrument",
                        assay="cell_count",
                    ),
                    checkpoint(
                        "mycoplasma",
                        value_type="boolean",
                        spec={"expected": False},
                        retest_every_passages=5,
                        assay="mycoplasma_pcr",
                    ),
                ],
            ),
            stage(
                "release",
                48,
                depends_on=["expand"],
                kind="release",
                checkpoints=[
                    checkpoint("endotoxin", unit="EU/mL", spec={"max": 5}),
                    checkpoint(
                        "sterility",
                        value_type="boolean",
                        spec={"expected": False},
                        pending_allowed=True,
                    ),
                ],
            ),
        ],
    }


def clinical_protocol_data(code: str = "clinical") -> dict[str, Any]:
    """Manufacturing, then the clinic: collect (24 h) → release (48 h, kind release) →
    transplant (24 h) → follow-up (30 days, visits on days 7 and 14); and a safety watch
    (30 days) that also follows the release directly. The last three are post-release."""
    return {
        "code": code,
        "name": "Clinical test protocol",
        "description": "",
        "stages": [
            stage(
                "collect",
                24,
                kind="collection",
                checkpoints=[
                    checkpoint("volume_ok", value_type="boolean", spec={"expected": True}),
                ],
            ),
            stage(
                "release",
                48,
                depends_on=["collect"],
                kind="release",
                checkpoints=[
                    checkpoint("endotoxin", unit="EU/mL", spec={"max": 5}),
                    checkpoint(
                        "sterility",
                        value_type="boolean",
                        spec={"expected": False},
                        pending_allowed=True,
                    ),
                ],
            ),
            stage(
                "transplant",
                24,
                depends_on=["release"],
                kind="transplant",
                early=24,
                late=24,
                checkpoints=[
                    checkpoint(
                        "bedside_identity",
                        value_type="boolean",
                        spec={"expected": True},
                        recorded_by="person",
                    ),
                    checkpoint("dose", unit="10^6 cells", blocking=False),
                ],
            ),
            stage(
                "follow_up",
                30 * 24,
                depends_on=["transplant"],
                kind="follow_up",
                early=0,
                late=60 * 24,
                tasks=[task("visit", on_days=[7, 14])],
                checkpoints=[
                    checkpoint("c_peptide", unit="pmol/L", blocking=False),
                ],
            ),
            stage(
                "safety_watch",
                30 * 24,
                depends_on=["release"],
                kind="follow_up",
                early=0,
                late=60 * 24,
            ),
        ],
    }


def protocol_from_dict(
    lab, data: dict[str, Any], *, version: int = 1, status: str = ProtocolStatus.PUBLISHED
) -> ProtocolTemplate:
    protocol = ProtocolTemplate.objects.create(
        lab=lab,
        code=data["code"],
        name=data["name"],
        version=version,
        status=ProtocolStatus.DRAFT,
        description=data.get("description", ""),
    )
    stages: dict[str, StageTemplate] = {}
    for order, s in enumerate(data["stages"], start=1):
        stages[s["key"]] = StageTemplate.objects.create(
            protocol=protocol,
            key=s["key"],
            order=order,
            name=s["name"],
            kind=s["kind"],
            expected_duration=timedelta(hours=s["expected_duration_hours"]),
            window_early=timedelta(hours=s["window_early_hours"]),
            window_late=timedelta(hours=s["window_late_hours"]),
            reminder_lead=timedelta(hours=s.get("reminder_lead_hours") or 0) or None,
            description=s.get("description", ""),
            source=s.get("source", ""),
        )
        for t in s.get("tasks", []):
            TaskTemplate.objects.create(
                stage=stages[s["key"]],
                key=t["key"],
                name=t["name"],
                every=timedelta(hours=t["every_hours"]) if t.get("every_hours") else None,
                on_days=t.get("on_days"),
                description=t.get("description", ""),
            )
        for c_order, c in enumerate(s.get("checkpoints", [])):
            CheckpointTemplate.objects.create(
                stage=stages[s["key"]],
                protocol=protocol,
                key=c["key"],
                order=c_order,
                assay=c["assay"],
                name=c["name"],
                metric=c["metric"],
                unit=c["unit"],
                value_type=c["value_type"],
                spec=c["spec"] or {},
                blocking=c["blocking"],
                recorded_by=c["recorded_by"],
                analyte=c.get("analyte") or "",
                pending_allowed=c["pending_allowed"],
                retest_every_passages=c["retest_every_passages"],
                source=c["source"],
                notes=c.get("notes", ""),
            )
    for s in data["stages"]:
        if s["depends_on"]:
            stages[s["key"]].depends_on.set([stages[d] for d in s["depends_on"]])
    if status != ProtocolStatus.DRAFT:
        # Frozen last: published templates refuse changes to their stages (a DB trigger).
        ProtocolTemplate.objects.filter(pk=protocol.pk).update(status=status)
        protocol.status = status
    return protocol


def passing_value(cp: CheckpointTemplate) -> Any:
    """A value that meets ``cp``'s spec (for end-to-end runs)."""
    spec = cp.spec or {}
    if cp.value_type in ("number", "percent"):
        lo, hi = spec.get("min"), spec.get("max")
        if lo is not None and hi is not None:
            return (lo + hi) / 2
        if lo is not None:
            return lo + 1 if cp.value_type == "number" or lo + 1 <= 100 else lo
        if hi is not None:
            return hi / 2 if hi > 0 else hi - 1
        return 1
    if cp.value_type == "boolean":
        expected = spec.get("expected")
        return True if expected is None else expected
    if spec.get("allowed"):
        return spec["allowed"][0]
    if spec.get("expected"):
        return spec["expected"]
    return "ok"


def work_stage(stage_run, *, actor, at, values: dict[str, Any] | None = None):
    """Start ``stage_run`` if ready, record a passing value for each blocking checkpoint that
    has no current result (or the given ``values``), and complete it at ``at``."""
    import time_machine

    from protocol_tracker.qc.models import QCResult
    from protocol_tracker.qc.services import qc_result_record, stage_complete
    from protocol_tracker.runs.services import stage_start

    values = values or {}
    with time_machine.travel(at, tick=False):
        stage_run.refresh_from_db()
        if stage_run.status == "ready":
            stage_run = stage_start(stage_run=stage_run, actor=actor)
        done = set(
            QCResult.objects.filter(stage_run=stage_run, superseded_by__isnull=True).values_list(
                "checkpoint__key", flat=True
            )
        )
        for cp in stage_run.stage.checkpoints.all():
            if cp.key in values or (cp.blocking and cp.key not in done):
                qc_result_record(
                    stage_run=stage_run,
                    checkpoint=cp,
                    value=values.get(cp.key, passing_value(cp)),
                    unit=None,
                    measured_at=at,
                    actor=actor,
                )
        return stage_complete(stage_run=stage_run, actor=actor)


def failing_value(cp: CheckpointTemplate) -> Any:
    """A value outside ``cp``'s spec (``cp`` must have one)."""
    spec = cp.spec or {}
    if cp.value_type in ("number", "percent"):
        if spec.get("min") is not None:
            return spec["min"] / 2 if spec["min"] > 0 else spec["min"] - 1
        return spec["max"] * 2 + 1
    if cp.value_type == "boolean":
        return not spec["expected"]
    return "certainly not in spec"
