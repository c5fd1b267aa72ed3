"""Donors, runs and stage work built through the workflow and QC services, as the UI would."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from django.utils import timezone

from protocol_tracker.protocols.models import CheckpointTemplate, ProtocolTemplate
from protocol_tracker.qc import services as qc_services
from protocol_tracker.runs import services as run_services
from protocol_tracker.runs.models import Donor, Run, StageRun, TaskOccurrence
from protocol_tracker.runs.services import TaskResolutionInput

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai (the ``lab`` fixture's zone)

_donor_seq = iter(range(1, 10**6))


def new_donor(lab, actor, code: str | None = None) -> Donor:
    """A consented donor, numbered ``DN-00001``… unless ``code`` is given."""
    return run_services.donor_create(
        lab=lab,
        code=code or f"DN-{next(_donor_seq):05d}",
        consent_given=True,
        consent_scope=["reprogramming", "banking", "genetic_testing", "future_use"],
        actor=actor,
    )


def planned_run(protocol: ProtocolTemplate, actor, *, donor_=None, hours_ago: float = 1) -> Run:
    """A run of ``protocol`` planned to start ``hours_ago`` hours ago (a new donor by default)."""
    d = donor_ or new_donor(protocol.lab, actor)
    return run_services.run_create(
        lab=protocol.lab,
        protocol=protocol,
        donor=d,
        actor=actor,
        planned_start=timezone.now() - timedelta(hours=hours_ago),
    )


def active_run(
    protocol: ProtocolTemplate, actor, *, donor_code: str | None = None, hours_ago: float = 1
) -> Run:
    """A started run of ``protocol``; for the donor ``donor_code`` of the lab (created when
    the lab has none of that code) or a new donor."""
    donor = None
    if donor_code is not None:
        donor = Donor.objects.for_lab(protocol.lab).filter(code=donor_code).first()
        if donor is None:
            donor = new_donor(protocol.lab, actor, donor_code)
    run = planned_run(protocol, actor, donor_=donor, hours_ago=hours_ago)
    return run_services.run_start(run=run, actor=actor)


def stage(run: Run, key: str = "expand") -> StageRun:
    """``run``'s stage run of the stage ``key``."""
    return StageRun.objects.select_related("run__lab", "stage").get(run=run, stage__key=key)


def working_stage(protocol: ProtocolTemplate, actor, key: str = "expand") -> StageRun:
    """An active run's first stage, started (in progress)."""
    run = active_run(protocol, actor)
    return run_services.stage_start(stage_run=stage(run, key), actor=actor)


def record(stage_run: StageRun, actor, key: str = "viability", value=95, unit="%"):
    """Record ``value`` for the checkpoint ``key`` of ``stage_run``, measured now."""
    cp = stage_run.stage.checkpoints.get(key=key)
    return qc_services.qc_result_record(
        stage_run=stage_run,
        checkpoint=cp,
        value=value,
        unit=unit,
        measured_at=timezone.now(),
        actor=actor,
    )


BUILDER_REASON = "logged at completion by the test builder"


def completion_reasons(stage_run: StageRun, *, reason: str = BUILDER_REASON) -> dict[str, Any]:
    """The ``stage_complete`` arguments that resolve ``stage_run``'s open bench tasks that fell
    due (as done late) and give a reason should it finish outside its window."""
    due = TaskOccurrence.objects.filter(
        stage_run=stage_run, done_at__isnull=True, skipped=False, due_at__lte=timezone.now()
    ).values_list("pk", flat=True)
    return {
        "window_reason": reason,
        "task_resolutions": [TaskResolutionInput(pk, "done_late", reason) for pk in due],
    }


def complete(stage_run: StageRun, actor, *, note: str = "", reason: str = BUILDER_REASON):
    """Complete ``stage_run`` now, resolving what :func:`completion_reasons` does."""
    return qc_services.stage_complete(
        stage_run=stage_run, actor=actor, note=note, **completion_reasons(stage_run, reason=reason)
    )


def completed_run(protocol: ProtocolTemplate, actor) -> Run:
    """A run of ``api_definition`` whose every stage passed and completed (by ``actor``):
    ready for release."""
    sr = working_stage(protocol, actor)
    record(sr, actor)
    complete(sr, actor)
    bank = run_services.stage_start(stage_run=stage(sr.run, "bank"), actor=actor)
    record(bank, actor, key="post_thaw_viability")
    complete(bank, actor)
    sr.run.refresh_from_db()
    return sr.run


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
    if spec.get("iscn"):
        return f"46,XY[{spec['iscn']['min_metaphases']}]"
    if spec.get("allowed"):
        return spec["allowed"][0]
    if spec.get("expected"):
        return spec["expected"]
    return "ok"


def failing_value(cp: CheckpointTemplate) -> Any:
    """A value outside ``cp``'s spec (``cp`` must have one)."""
    spec = cp.spec or {}
    if cp.value_type in ("number", "percent"):
        if spec.get("min") is not None:
            return spec["min"] / 2 if spec["min"] > 0 else spec["min"] - 1
        return spec["max"] * 2 + 1
    if cp.value_type == "boolean":
        return not spec["expected"]
    if spec.get("iscn"):
        return "47,XY,+12[3]/46,XY[17]"
    return "certainly not in spec"


def work_stage(stage_run: StageRun, *, actor, at: datetime, values: dict[str, Any] | None = None):
    """Start ``stage_run`` if ready, record a passing value for each blocking checkpoint that
    has no current result (or the given ``values``), and complete it at ``at``."""
    import time_machine

    from protocol_tracker.qc.models import QCResult

    values = values or {}
    with time_machine.travel(at, tick=False):
        stage_run.refresh_from_db()
        if stage_run.status == "ready":
            stage_run = run_services.stage_start(stage_run=stage_run, actor=actor)
        done = set(
            QCResult.objects.filter(stage_run=stage_run, superseded_by__isnull=True).values_list(
                "checkpoint__key", flat=True
            )
        )
        for cp in stage_run.stage.checkpoints.all():
            if cp.key in values or (cp.blocking and cp.key not in done):
                qc_services.qc_result_record(
                    stage_run=stage_run,
                    checkpoint=cp,
                    value=values.get(cp.key, passing_value(cp)),
                    unit=None,
                    measured_at=at,
                    actor=actor,
                )
        return complete(stage_run, actor)
