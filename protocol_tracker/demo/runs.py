"""Demo runs for the embedded default (``manage.py seed_demo``); never used in production.

The runs are made by the real services, on a simulated clock, so that their history (stages
finished days ago, bench tasks done on time, a result out of specification) is what the services
would have written had the work happened then. Idempotent: a lab that already has the demo donors
is left alone.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any
from unittest import mock

from django.db import transaction
from django.utils import timezone

from labs.models import Lab
from protocol_tracker.demo.custody import satisfy_checkpoint
from protocol_tracker.protocols.defaults import PROTOCOLS
from protocol_tracker.protocols.models import CheckpointTemplate, ProtocolTemplate
from protocol_tracker.qc.services import qc_result_record, stage_complete
from protocol_tracker.runs.models import Donor, Run, StageRun, StageStatus, TaskOccurrence
from protocol_tracker.runs.services import (
    donor_create,
    run_create,
    run_spawn_child,
    run_start,
    stage_start,
    task_done,
)

H = timedelta(hours=1)
DEMO_DONORS = ("DEMO-001", "DEMO-002", "DEMO-003", "DEMO-004")
ALL_SCOPES = ["reprogramming", "banking", "genetic_testing", "future_use"]


@contextmanager
def _clock(at: datetime) -> Iterator[None]:
    """Run the services as if it were ``at`` (only ever used to seed demo history)."""
    with mock.patch.object(timezone, "now", return_value=at):
        yield


def _passing_value(cp: CheckpointTemplate) -> Any:
    spec = cp.spec or {}
    lo, hi = spec.get("min"), spec.get("max")
    if cp.value_type in ("number", "percent"):
        if lo is not None and hi is not None:
            return (lo + hi) / 2
        if lo is not None:
            return min(lo + 5, 100) if cp.value_type == "percent" else lo * 1.2 + 1
        if hi is not None:
            return hi / 2 if hi > 0 else hi - 1
        return 1
    if cp.value_type == "boolean":
        return True if spec.get("expected") is None else spec["expected"]
    if spec.get("iscn"):
        return f"46,XY[{spec['iscn']['min_metaphases']}]"
    if spec.get("allowed"):
        return spec["allowed"][0]
    return spec.get("expected") or "as expected"


def _record_passing(sr: StageRun, *, actor, at: datetime, pending: tuple[str, ...] = ()) -> None:
    for cp in sr.stage.checkpoints.filter(blocking=True).order_by("order", "key"):
        if cp.key not in pending and satisfy_checkpoint(sr, cp, actor=actor, at=at):
            continue  # identity scans and computed values: labels, shipments, the vault
        if cp.key in pending:
            qc_result_record(
                stage_run=sr,
                checkpoint=cp,
                value=None,
                unit=None,
                measured_at=at,
                actor=actor,
                state="pending",
            )
        else:
            qc_result_record(
                stage_run=sr,
                checkpoint=cp,
                value=_passing_value(cp),
                unit=None,
                measured_at=at,
                actor=actor,
            )


def _feed_on_time(sr: StageRun, *, actor, until: datetime) -> None:
    """Log every bench task due by ``until`` as done 20 minutes after it fell due (before
    ``until``, when that is the stage's completion)."""
    for occurrence in TaskOccurrence.objects.filter(
        stage_run=sr, due_at__lte=until, done_at__isnull=True
    ):
        at = min(occurrence.due_at + timedelta(minutes=20), until - timedelta(minutes=1))
        with _clock(at):
            task_done(occurrence=occurrence, actor=actor, note="demo")


def _work_until(
    run: Run, *, actor, stop_at: str | None = None, pending: tuple[str, ...] = ()
) -> StageRun | None:
    """Work the ready stages in due order, each finishing at its due time; stop (without
    starting it) at stage ``stop_at``; returns that stage run."""
    while True:
        ready = list(
            StageRun.objects.filter(run=run, status=StageStatus.READY)
            .select_related("stage")
            .order_by("due_at", "order")
        )
        if not ready:
            return None
        for sr in ready:
            if sr.stage.key == stop_at:
                return sr
            with _clock(sr.planned_start + H):
                sr = stage_start(stage_run=sr, actor=actor)
            _feed_on_time(sr, actor=actor, until=sr.due_at)
            with _clock(sr.due_at - H):
                _record_passing(sr, actor=actor, at=sr.due_at - 2 * H, pending=pending)
            with _clock(sr.due_at):
                stage_complete(stage_run=sr, actor=actor, note="demo")


# For the other demo modules (the release demo works its run the same way).
work_until = _work_until
clock = _clock


def _protocols(lab: Lab) -> tuple[ProtocolTemplate, ProtocolTemplate]:
    codes = [p["code"] for p in PROTOCOLS]
    found = {
        p.code: p
        for p in ProtocolTemplate.objects.filter(
            lab=lab, code__in=codes, status="published"
        ).order_by("code", "-version")
    }
    return found[codes[0]], found[codes[1]]


@transaction.atomic
def demo_runs_seed(*, lab: Lab, technician, reviewer) -> None:
    """Runs at telling stages: one just started, one mid-reprogramming with a feed due today,
    one with an out-of-spec result and its open deviation, one completed awaiting (conditional)
    release, and a planned child run of the reprogramming run (lineage)."""
    if Donor.objects.filter(lab=lab, code__in=DEMO_DONORS).exists():
        return
    islet, stepwise = _protocols(lab)
    now = timezone.now()
    donors = {}
    for code in DEMO_DONORS:
        with _clock(now - 80 * 24 * H):
            donors[code] = donor_create(
                lab=lab,
                code=code,
                consent_given=True,
                consent_scope=ALL_SCOPES,
                consent_version="2024-01",
                actor=technician,
            )

    # 1. Just started: enrolment in progress.
    start = now - 2 * H
    run = run_create(
        lab=lab,
        protocol=islet,
        donor=donors["DEMO-001"],
        actor=technician,
        planned_start=start,
        assignee=technician,
    )
    with _clock(start):
        run_start(run=run, actor=technician)
    with _clock(now - H):
        stage_start(stage_run=run.stage_runs.get(stage__key="enrolment"), actor=technician)

    # 2. Mid-reprogramming, five days in; today's medium change is due in three hours.
    reprogramming_start = now - 5 * 24 * H + 3 * H
    start = reprogramming_start - 49 * H
    with _clock(start - 24 * H):
        reprogramming_run = run_create(
            lab=lab,
            protocol=islet,
            donor=donors["DEMO-002"],
            actor=technician,
            planned_start=start,
            assignee=technician,
        )
    with _clock(start):
        run_start(run=reprogramming_run, actor=technician)
    sr = _work_until(reprogramming_run, actor=technician, stop_at="reprogramming")
    with _clock(sr.planned_start + 5 * 60 * 1_000_000 * timedelta(microseconds=1)):
        sr = stage_start(stage_run=sr, actor=technician)
    _feed_on_time(sr, actor=technician, until=now)

    # 3. Out of specification: fresh PBMC viability below the limit, deviation open.
    start = now - 30 * H
    with _clock(start - H):
        oos_run = run_create(
            lab=lab, protocol=islet, donor=donors["DEMO-003"], actor=technician, planned_start=start
        )
    with _clock(start):
        run_start(run=oos_run, actor=technician)
    sr = _work_until(oos_run, actor=technician, stop_at="pbmc_isolation")
    with _clock(sr.planned_start + H):
        sr = stage_start(stage_run=sr, actor=technician)
    viability = sr.stage.checkpoints.get(key="pbmc_viability_fresh")
    limit = (viability.spec or {}).get("min") or 90
    with _clock(now - H):
        qc_result_record(
            stage_run=sr,
            checkpoint=viability,
            value=limit - 8,
            unit="%",
            measured_at=now - 90 * timedelta(minutes=1),
            actor=technician,
            comment="trypan blue, haemocytometer",
        )

    # 4. Completed, awaiting release, sterility culture still pending (conditional release).
    total = sum((s.expected_duration for s in stepwise.stages.all()), timedelta())
    start = now - total - 2 * 24 * H
    with _clock(start - 24 * H):
        done_run = run_create(
            lab=lab,
            protocol=stepwise,
            donor=donors["DEMO-004"],
            actor=technician,
            planned_start=start,
        )
    with _clock(start):
        run_start(run=done_run, actor=technician)
    _work_until(done_run, actor=technician, pending=("release_sterility",))

    # 5. Lineage: a differentiation run planned from the reprogramming run's clone.
    run_spawn_child(
        parent=reprogramming_run,
        protocol=stepwise,
        actor=technician,
        planned_start=now + 30 * 24 * H,
    )
