"""Everything a run's batch record shows, read once (a fixed number of queries), and its hash."""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from django.core.serializers.json import DjangoJSONEncoder
from django.utils import timezone

from protocol_tracker.audit.models import AuditEvent
from protocol_tracker.audit.selectors import audit_events_of_run
from protocol_tracker.outcomes.selectors import RunReview
from protocol_tracker.protocols.models import CheckpointTemplate
from protocol_tracker.protocols.selectors import checkpoints_of_protocol
from protocol_tracker.qc import selectors as qc_selectors
from protocol_tracker.qc.models import Deviation, QCResult
from protocol_tracker.runs import selectors as run_selectors
from protocol_tracker.runs.models import Run, StageRun, TaskOccurrence, TaskResolution
from protocol_tracker.runs.selectors import post_release_stage_ids
from protocol_tracker.signatures.models import Signature


@dataclass(frozen=True)
class ReleaseInfo:
    """The release a document is generated for (its signature is written just after, with the
    document's SHA-256 in its content)."""

    signer_name: str
    at: datetime
    meaning: str
    statement: str
    pending_tests: Sequence[str] = ()


@dataclass
class TaskCounts:
    planned: int = 0
    on_time: int = 0
    late: int = 0
    skipped: int = 0
    not_applicable: int = 0
    open: int = 0


@dataclass
class RecordContext:
    run: Run
    stage_runs: list[StageRun]
    checkpoints: dict[int, list[CheckpointTemplate]]  # stage template id -> its checkpoints
    results: dict[int, list[QCResult]]  # stage run id -> its results, oldest first
    superseded: set[int]
    tasks: dict[int, list[TaskOccurrence]]  # stage run id -> its occurrences
    deviations: list[Deviation]
    signatures: list[Signature]
    audit: list[AuditEvent]
    review: RunReview
    release: ReleaseInfo | None
    generated_at: datetime
    post_release: frozenset[int]
    extra: dict = field(default_factory=dict)

    def local(self, moment: datetime | None) -> str:
        if moment is None:
            return "—"
        return timezone.localtime(moment, self.run.lab.tz).strftime("%Y-%m-%d %H:%M")

    def current(self, stage_run: StageRun, checkpoint: CheckpointTemplate) -> QCResult | None:
        rows = [r for r in self.results.get(stage_run.pk, []) if r.checkpoint_id == checkpoint.pk]
        return next((r for r in reversed(rows) if r.pk not in self.superseded), None)

    def history(self, stage_run: StageRun, checkpoint: CheckpointTemplate) -> list[QCResult]:
        return [r for r in self.results.get(stage_run.pk, []) if r.checkpoint_id == checkpoint.pk]

    def task_counts(self, stage_run: StageRun) -> TaskCounts:
        """Bench tasks of a stage: done on time, late (declared done late at completion, or
        logged after the lab's escalation delay), skipped, not applicable, open."""
        counts = TaskCounts()
        grace = self.run.lab.escalation_delay
        for occ in self.tasks.get(stage_run.pk, []):
            counts.planned += 1
            if occ.resolution == TaskResolution.DONE_LATE:
                counts.late += 1
            elif occ.resolution == TaskResolution.NOT_APPLICABLE:
                counts.not_applicable += 1
            elif occ.resolution == TaskResolution.SKIPPED or occ.skipped:
                counts.skipped += 1
            elif occ.done_at is None:
                counts.open += 1
            elif occ.done_at > occ.due_at + grace:
                counts.late += 1
            else:
                counts.on_time += 1
        return counts


def record_context(
    run: Run, *, review: RunReview, release: ReleaseInfo | None, generated_at: datetime
) -> RecordContext:
    """``run`` (with its lab, protocol and donor) and everything its record shows."""
    stage_runs = list(run_selectors.stage_runs_of_run(run=run))
    checkpoints: dict[int, list[CheckpointTemplate]] = defaultdict(list)
    for cp in checkpoints_of_protocol(protocol=run.protocol):
        checkpoints[cp.stage_id].append(cp)
    results: dict[int, list[QCResult]] = defaultdict(list)
    all_results = list(qc_selectors.qc_results_of_run(run=run))
    for r in all_results:
        results[r.stage_run_id].append(r)
    tasks: dict[int, list[TaskOccurrence]] = defaultdict(list)
    for occ in run_selectors.task_occurrences_of_run(run=run):
        tasks[occ.stage_run_id].append(occ)
    return RecordContext(
        run=run,
        stage_runs=stage_runs,
        checkpoints=checkpoints,
        results=results,
        superseded={r.supersedes_id for r in all_results if r.supersedes_id},
        tasks=tasks,
        deviations=list(
            qc_selectors.deviations_of_run(run=run).select_related("disposition_group")
        ),
        signatures=list(qc_selectors.signatures_of_run(run=run)),
        audit=list(audit_events_of_run(run=run)),
        review=review,
        release=release,
        generated_at=generated_at,
        post_release=post_release_stage_ids(run.protocol),
    )


def record_hash(ctx: RecordContext) -> str:
    """SHA-256 of the record's content as the document shows it (stages, results, tasks,
    deviations, signatures, the exceptions and their acknowledgements, the release)."""
    content = {
        "run": {"id": ctx.run.pk, "code": ctx.run.code, "protocol": ctx.run.protocol_id,
                "donor": ctx.run.donor.code},
        "stage_runs": [[s.pk, s.status, s.started_at, s.completed_at, s.completed_by_id]
                       for s in ctx.stage_runs],
        "results": [[r.pk, r.checkpoint_id, r.verdict, r.display_value, r.supersedes_id,
                     r.reason, r.comment] for rows in ctx.results.values() for r in rows],
        "tasks": [[o.pk, o.done_at, o.skipped, o.resolution, o.resolution_reason]
                  for rows in ctx.tasks.values() for o in rows],
        "deviations": [[d.pk, d.status, d.disposition, d.justification, d.disposition_group_id]
                       for d in ctx.deviations],
        "signatures": [[s.pk, s.meaning, s.record_hash] for s in ctx.signatures],
        "exceptions": [[row.item.key, row.item.content_hash,
                        row.acknowledgement.pk if row.acknowledgement else None]
                       for row in ctx.review.rows],
        "audit_head": ctx.audit[-1].hash if ctx.audit else None,
        "release": None if ctx.release is None else
        [ctx.release.signer_name, ctx.release.at, ctx.release.statement,
         list(ctx.release.pending_tests)],
    }  # fmt: skip
    raw = json.dumps(content, cls=DjangoJSONEncoder, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(raw.encode()).hexdigest()
