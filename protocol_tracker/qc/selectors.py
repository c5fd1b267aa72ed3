"""Reads about QC results, deviations and the review queue, lab-scoped and prefetched."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db.models import Prefetch, QuerySet

from labs.models import CAN_REVIEW, Lab
from protocol_tracker.protocols.models import CheckpointTemplate
from protocol_tracker.qc.models import (
    Deviation,
    DeviationStatus,
    Disposition,
    QCResult,
    Verdict,
)
from protocol_tracker.runs.models import Run, RunStatus, StageRun
from protocol_tracker.runs.selectors import post_release_stage_ids

SATISFIED_VERDICTS = frozenset({Verdict.PASS, Verdict.NO_SPEC})


def current_results(stage_run: StageRun) -> QuerySet[QCResult]:
    """The results of ``stage_run`` that no correction or retest has superseded."""
    return (
        QCResult.objects.filter(stage_run=stage_run, superseded_by__isnull=True)
        .select_related("checkpoint", "recorded_by", "recorded_by_instrument", "raw_file")
        .order_by("checkpoint__order", "checkpoint__key")
    )


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


def checkpoint_trend(
    *, checkpoint_key: str, protocol_code: str, lab: Lab | int, limit: int = 200
) -> list[dict]:
    """Current, judged values of one checkpoint across batches (all versions), oldest first.

    For control charts: each point has the run, the value in the spec's unit, the verdict, the
    spec it was judged by, and when it was measured.
    """
    rows = (
        QCResult.objects.for_lab(lab)
        .filter(
            checkpoint__key=checkpoint_key,
            checkpoint__protocol__code=protocol_code,
            superseded_by__isnull=True,
            verdict__in=[Verdict.PASS, Verdict.FAIL, Verdict.NO_SPEC],
        )
        .order_by("-measured_at", "-id")
        .values(
            "id",
            "measured_at",
            "value_number",
            "value_in_spec_unit",
            "value_bool",
            "value_text",
            "unit",
            "verdict",
            "spec_snapshot",
            "stage_run__run_id",
            "stage_run__run__code",
            "checkpoint__protocol__version",
        )[:limit]
    )
    points = [
        {
            "result_id": row["id"],
            "run_id": row["stage_run__run_id"],
            "run_code": row["stage_run__run__code"],
            "protocol_version": row["checkpoint__protocol__version"],
            "measured_at": row["measured_at"],
            "value": (
                row["value_in_spec_unit"]
                if row["value_in_spec_unit"] is not None
                else row["value_number"]
            ),
            "value_bool": row["value_bool"],
            "value_text": row["value_text"],
            "unit": (row["spec_snapshot"] or {}).get("unit", row["unit"]),
            "verdict": row["verdict"],
            "spec": (row["spec_snapshot"] or {}).get("spec"),
        }
        for row in rows
    ]
    points.reverse()
    return points


def deviations_for_user(
    user, *, status: str | Iterable[str] | None = None, run: Run | int | None = None
) -> QuerySet[Deviation]:
    """Deviations in the user's labs; ``status="open"`` means every status but closed."""
    qs = Deviation.objects.for_user(user).select_related(
        "run",
        "run__donor",
        "stage_run",
        "stage_run__stage",
        "qc_result",
        "qc_result__checkpoint",
        "opened_by",
        "closed_by",
    )
    if status == "open":
        qs = qs.exclude(status=DeviationStatus.CLOSED)
    elif isinstance(status, str):
        qs = qs.filter(status=status)
    elif status is not None:
        qs = qs.filter(status__in=list(status))
    if run is not None:
        qs = qs.filter(run=run)
    return qs.order_by("-opened_at", "-id")


@dataclass
class ReviewQueue:
    runs_to_release: QuerySet[Run]
    deviations_to_close: QuerySet[Deviation]

    def __len__(self) -> int:
        return self.runs_to_release.count() + self.deviations_to_close.count()


def review_queue(user) -> ReviewQueue:
    """What waits for a reviewer: completed runs to release or reject, deviations to dispose of.

    Empty for anyone who is not a reviewer.
    """
    runs = (
        Run.objects.for_user(user, roles=CAN_REVIEW)
        .filter(status=RunStatus.COMPLETED)
        .select_related("protocol", "donor", "lab")
        .prefetch_related(
            Prefetch(
                "deviations",
                queryset=Deviation.objects.exclude(status=DeviationStatus.CLOSED),
                to_attr="open_deviations",
            )
        )
        .order_by("completed_at", "id")
    )
    deviations = (
        Deviation.objects.for_user(user, roles=CAN_REVIEW)
        .exclude(status=DeviationStatus.CLOSED)
        .select_related(
            "run",
            "run__donor",
            "stage_run__stage",
            "qc_result__checkpoint",
            "qc_result__recorded_by",
            "opened_by",
        )
        .order_by("opened_at", "id")
    )
    return ReviewQueue(runs_to_release=runs, deviations_to_close=deviations)
