"""Everything the run page and the batch record show about one run, in a fixed number of queries.

The page composes the selectors of each layer (runs: stages, bench tasks, lineage; protocols:
checkpoints; qc: results, deviations, signatures; audit: the trail) and lays their rows out.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.utils import timezone

from protocol_tracker.audit.models import AuditEvent
from protocol_tracker.audit.selectors import audit_events_of_run
from protocol_tracker.protocols.models import CheckpointTemplate
from protocol_tracker.protocols.selectors import checkpoints_of_protocol
from protocol_tracker.qc import selectors as qc_selectors
from protocol_tracker.qc.models import Deviation, QCResult
from protocol_tracker.runs import selectors as run_selectors
from protocol_tracker.runs.models import Run, StageRun, StageStatus, TaskOccurrence


@dataclass
class CheckpointRow:
    checkpoint: CheckpointTemplate
    current: QCResult | None = None
    history: list[QCResult] = field(default_factory=list)  # oldest first, current last

    @property
    def corrected(self) -> bool:
        return len(self.history) > 1


@dataclass
class StageRow:
    stage_run: StageRun
    checkpoints: list[CheckpointRow] = field(default_factory=list)
    tasks: list[TaskOccurrence] = field(default_factory=list)
    deviations: list[Deviation] = field(default_factory=list)
    late: bool = False
    late_by: object = None

    @property
    def can_record(self) -> bool:
        return self.stage_run.status in (StageStatus.IN_PROGRESS, StageStatus.AWAITING_QC)


def _lateness(stage_run: StageRun, now) -> tuple[bool, object]:
    allowed = stage_run.due_at + stage_run.stage.window_late
    if stage_run.completed_at is not None:
        return stage_run.completed_at > allowed, stage_run.completed_at - stage_run.due_at
    if stage_run.status in (StageStatus.SKIPPED, StageStatus.FAILED):
        return False, None
    return now > stage_run.due_at, now - stage_run.due_at if now > stage_run.due_at else None


AUDIT_VALUE_CHARS = 120


def _short(value) -> str:
    text = "—" if value in (None, "", [], {}) else str(value)
    return text if len(text) <= AUDIT_VALUE_CHARS else text[: AUDIT_VALUE_CHARS - 1] + "…"


def audit_changes(event: AuditEvent) -> list[tuple[str, str, str]]:
    """(field, before, after) for the fields an audit event changed (all fields when created)."""
    before, after = event.before or {}, event.after or {}
    if not isinstance(before, dict) or not isinstance(after, dict):
        return [("", _short(event.before), _short(event.after))]
    fields = list(dict.fromkeys([*after, *before]))
    return [
        (field, _short(before.get(field)) if event.before else "", _short(after.get(field)))
        for field in fields
        if not event.before or before.get(field) != after.get(field)
    ]


def run_page_data(run: Run, *, with_audit: bool = True) -> dict:
    """``run`` (from :func:`protocol_tracker.runs.selectors.run_for_user`, with its protocol):
    its stages (planned vs actual, late ones marked), QC results against their specs with
    their correction history, deviations, signatures, lineage and audit trail."""
    now = timezone.now()
    stage_runs = list(run_selectors.stage_runs_of_run(run=run))
    checkpoints = list(checkpoints_of_protocol(protocol=run.protocol))
    results = list(qc_selectors.qc_results_of_run(run=run))
    tasks = list(run_selectors.task_occurrences_of_run(run=run))
    deviations = list(qc_selectors.deviations_of_run(run=run))
    signatures = list(qc_selectors.signatures_of_run(run=run))
    lineage_children = list(run_selectors.run_children(run=run))
    audit = list(audit_events_of_run(run=run)) if with_audit else []

    for event in audit:
        event.changes = audit_changes(event)

    superseded_ids = {r.supersedes_id for r in results if r.supersedes_id}
    by_key: dict[tuple[int, int], list[QCResult]] = {}
    for result in results:
        by_key.setdefault((result.stage_run_id, result.checkpoint_id), []).append(result)
    results_by_pk = {r.pk: r for r in results}

    rows: list[StageRow] = []
    index = {}
    for sr in stage_runs:
        late, late_by = _lateness(sr, now)
        row = StageRow(stage_run=sr, late=late, late_by=late_by)
        rows.append(row)
        index[sr.stage_id] = row
    for cp in checkpoints:
        row = index.get(cp.stage_id)
        if row is None:
            continue
        history = by_key.get((row.stage_run.pk, cp.pk), [])
        current = next((r for r in reversed(history) if r.pk not in superseded_ids), None)
        row.checkpoints.append(CheckpointRow(checkpoint=cp, current=current, history=history))
    by_stage_run = {row.stage_run.pk: row for row in rows}
    for occ in tasks:
        by_stage_run[occ.stage_run_id].tasks.append(occ)
    for dev in deviations:
        if dev.stage_run_id in by_stage_run:
            by_stage_run[dev.stage_run_id].deviations.append(dev)
    checkpoint_by_pk = {cp.pk: cp for cp in checkpoints}
    for result in results:
        result.checkpoint_cached = checkpoint_by_pk.get(result.checkpoint_id)
        result.is_current = result.pk not in superseded_ids
        result.previous = results_by_pk.get(result.supersedes_id)

    return {
        "run": run,
        "stages": rows,
        "results": results,
        "deviations": deviations,
        "open_deviations": [d for d in deviations if d.is_open],
        "signatures": signatures,
        "children": lineage_children,
        "audit": audit,
        "now": now,
        "failed_results": [r for r in results if r.is_current and r.verdict == "fail"],
    }
