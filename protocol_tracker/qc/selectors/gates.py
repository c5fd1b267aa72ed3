"""What keeps a stage from completing and a run from release: the QC gates the services check."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from protocol_tracker.protocols.models import CheckpointTemplate
from protocol_tracker.qc.models import (
    Deviation,
    DeviationStatus,
    Disposition,
    QCResult,
    Verdict,
)
from protocol_tracker.runs.models import Run, StageRun
from protocol_tracker.runs.selectors import post_release_stage_ids

SATISFIED_VERDICTS = frozenset({Verdict.PASS, Verdict.NO_SPEC})


@dataclass
class QCGaps:
    """Why blocking checkpoints are not yet satisfied, by checkpoint key."""

    missing: list[CheckpointTemplate] = field(default_factory=list)
    pending: list[CheckpointTemplate] = field(default_factory=list)
    invalid: list[CheckpointTemplate] = field(default_factory=list)
    failed: list[CheckpointTemplate] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.missing or self.pending or self.invalid or self.failed)

    def keys(self) -> list[str]:
        return [c.key for c in (*self.missing, *self.pending, *self.invalid, *self.failed)]

    def describe(self) -> str:
        parts = []
        for label, items in (
            ("no result yet for", self.missing),
            ("still pending:", self.pending),
            ("invalid assay, retest needed:", self.invalid),
            ("out of specification without an accepted disposition:", self.failed),
        ):
            if items:
                parts.append(f"{label} " + ", ".join(f"'{c.name}'" for c in items))
        return "; ".join(parts)


def _gaps(
    checkpoints: Iterable[CheckpointTemplate],
    current: dict[int, QCResult],
    covered: set[int],
    *,
    allow_pending: bool,
) -> QCGaps:
    gaps = QCGaps()
    for checkpoint in checkpoints:
        result = current.get(checkpoint.pk)
        if result is None:
            gaps.missing.append(checkpoint)
        elif result.verdict in SATISFIED_VERDICTS or result.pk in covered:
            continue
        elif result.verdict == Verdict.PENDING:
            if not (allow_pending and checkpoint.pending_allowed):
                gaps.pending.append(checkpoint)
        elif result.verdict == Verdict.INVALID:
            gaps.invalid.append(checkpoint)
        else:
            gaps.failed.append(checkpoint)
    return gaps


def accepted_result_ids(*, stage_run_ids: Iterable[int]) -> set[int]:
    """Results that a closed deviation with an *accept* disposition covers."""
    return set(
        Deviation.objects.filter(
            stage_run_id__in=list(stage_run_ids),
            status=DeviationStatus.CLOSED,
            disposition=Disposition.ACCEPT,
            qc_result__isnull=False,
        ).values_list("qc_result_id", flat=True)
    )


def stage_qc_gaps(stage_run: StageRun) -> QCGaps:
    """What keeps ``stage_run`` from completing (empty when every blocking checkpoint is met).

    A pending result on a ``pending_allowed`` checkpoint does not block the stage; the release
    decides about it.
    """
    checkpoints = CheckpointTemplate.objects.filter(
        stage_id=stage_run.stage_id, blocking=True
    ).order_by("order", "key")
    current = {
        r.checkpoint_id: r
        for r in QCResult.objects.filter(stage_run=stage_run, superseded_by__isnull=True)
    }
    covered = accepted_result_ids(stage_run_ids=[stage_run.pk])
    return _gaps(checkpoints, current, covered, allow_pending=True)


@dataclass
class ReleaseCheck:
    """The state of every blocking checkpoint of a run, for the release decision."""

    gaps: dict[int, QCGaps]  # stage run id -> gaps (only stage runs with gaps)
    pending: dict[str, CheckpointTemplate]  # key -> pending checkpoint (pending_allowed or not)
    stage_runs: list[StageRun]


def run_release_check(run: Run) -> ReleaseCheck:
    """Gaps per manufacturing stage run, counting pending results as gaps; five queries (four
    when ``run.protocol`` already knows its post-release stages).

    The post-release stages (transplant, follow-up) are not part of the release decision: they
    follow it. ``stage_runs`` lists the manufacturing stage runs only.
    """
    protocol = run.protocol if Run.protocol.is_cached(run) else run.protocol_id
    post_release = post_release_stage_ids(protocol)
    stage_runs = [
        sr
        for sr in StageRun.objects.filter(run=run).select_related("stage").order_by("order")
        if sr.stage_id not in post_release
    ]
    checkpoints: dict[int, list[CheckpointTemplate]] = defaultdict(list)
    for checkpoint in CheckpointTemplate.objects.filter(
        protocol_id=run.protocol_id, blocking=True
    ).order_by("order", "key"):
        checkpoints[checkpoint.stage_id].append(checkpoint)
    current: dict[int, dict[int, QCResult]] = defaultdict(dict)
    for result in QCResult.objects.filter(stage_run__run=run, superseded_by__isnull=True):
        current[result.stage_run_id][result.checkpoint_id] = result
    covered = accepted_result_ids(stage_run_ids=[sr.pk for sr in stage_runs])
    gaps: dict[int, QCGaps] = {}
    pending: dict[str, CheckpointTemplate] = {}
    for sr in stage_runs:
        stage_gaps = _gaps(checkpoints[sr.stage_id], current[sr.pk], covered, allow_pending=False)
        pending.update({c.key: c for c in stage_gaps.pending})
        if stage_gaps:
            gaps[sr.pk] = stage_gaps
    return ReleaseCheck(gaps=gaps, pending=pending, stage_runs=stage_runs)
