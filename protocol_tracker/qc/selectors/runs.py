"""Reads of runs together with their QC records: the run list's deviation counts, the run
detail (results, deviations, signatures) and the reviewer queue. They live here, not in
``runs.selectors``, because qc is the layer above runs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db.models import OuterRef, Prefetch, QuerySet

from protocol_tracker.core.actors import Person
from protocol_tracker.core.queries import subquery_count
from protocol_tracker.protocols.models import CheckpointTemplate
from protocol_tracker.qc.models import Deviation, DeviationStatus, QCResult, Verdict
from protocol_tracker.runs.models import Run, RunStatus, StageRun, StageStatus, TaskOccurrence
from protocol_tracker.runs.selectors import runs_for_user
from protocol_tracker.signatures.models import Signature

if TYPE_CHECKING:
    from labs.models import Lab

QUEUE_LIMIT = 100


def _open_deviations() -> QuerySet[Deviation]:
    return Deviation.objects.filter(run=OuterRef("pk")).exclude(status=DeviationStatus.CLOSED)


def runs_with_deviation_counts(
    user: Person,
    *,
    lab: Lab | int | None = None,
    search: str = "",
    status: str = "",
    protocol_code: str = "",
    assignee=None,
    flagged: bool = False,
) -> QuerySet[Run]:
    """:func:`protocol_tracker.runs.selectors.runs_for_user` (same filters), each run with
    ``open_deviations`` too; ``flagged``: only runs that have some. One query."""
    runs = runs_for_user(
        user,
        lab=lab,
        search=search,
        status=status,
        protocol_code=protocol_code,
        assignee=assignee,
    ).annotate(open_deviations=subquery_count(_open_deviations(), per="run_id"))
    if flagged:
        runs = runs.filter(open_deviations__gt=0)
    return runs


def run_detail(*, run_id: int, user: Person) -> Run:
    """One run with everything its API detail shows, in a constant number of queries.

    ``run.stage_runs.all()`` (in order) each carry ``stage`` (with its checkpoints and tasks
    prefetched), ``current_results`` (not superseded), ``tasks`` (occurrences) and
    ``deviations``; ``run.deviations.all()`` and ``run.signatures.all()`` are prefetched too.
    Raises ``Run.DoesNotExist`` for a run outside the user's labs.
    """
    current = (
        QCResult.objects.filter(superseded_by__isnull=True)
        .select_related("checkpoint", "recorded_by", "recorded_by_instrument", "raw_file")
        .order_by("checkpoint__order", "checkpoint__key")
    )
    stage_runs = (
        StageRun.objects.select_related("stage", "assignee", "started_by", "completed_by")
        .prefetch_related(
            Prefetch("qc_results", queryset=current, to_attr="current_results"),
            Prefetch(
                "stage__checkpoints", queryset=CheckpointTemplate.objects.order_by("order", "key")
            ),
            "stage__tasks",
            "stage__depends_on",
            Prefetch("tasks", queryset=TaskOccurrence.objects.select_related("task", "done_by")),
            Prefetch("deviations", queryset=Deviation.objects.order_by("opened_at", "id")),
        )
        .order_by("order")
    )
    return (
        Run.objects.for_user(user)
        .select_related("protocol", "donor__coi", "lab", "assignee", "parent", "created_by")
        .prefetch_related(
            Prefetch("stage_runs", queryset=stage_runs),
            Prefetch(
                "deviations",
                queryset=Deviation.objects.select_related(
                    "qc_result__checkpoint",
                    "stage_run__stage",
                    "opened_by",
                    "closed_by",
                ).order_by("opened_at", "id"),
            ),
            Prefetch("signatures", queryset=Signature.objects.select_related("signer")),
            "passage_events",
            "children",
        )
        .get(pk=run_id)
    )


@dataclass
class ReviewQueue:
    runs: list[Run]  # completed, awaiting release or rejection, with their counts
    stages: list[StageRun]  # awaiting QC review, soonest due first
    deviations: list[Deviation]  # open, oldest first


def review_queue(*, lab: Lab | int, limit: int = QUEUE_LIMIT) -> ReviewQueue:
    """What waits for review in ``lab`` (each list at most ``limit``; three queries).

    Every member sees the queue; only reviewers sign. Each run carries ``open_deviations`` and
    ``failed_results`` (current results out of spec), counted in subqueries so that neither
    multiplies the other.
    """
    runs = (
        Run.objects.for_lab(lab)
        .filter(status=RunStatus.COMPLETED)
        .select_related("protocol", "donor")
        .annotate(
            open_deviations=subquery_count(_open_deviations(), per="run_id"),
            failed_results=subquery_count(
                QCResult.objects.filter(
                    stage_run__run=OuterRef("pk"),
                    verdict=Verdict.FAIL,
                    superseded_by__isnull=True,
                ),
                per="stage_run__run_id",
            ),
        )
        .order_by("completed_at", "pk")
    )
    stages = (
        StageRun.objects.for_lab(lab)
        .filter(status=StageStatus.AWAITING_QC)
        .select_related("run", "stage")
        .order_by("due_at", "pk")
    )
    deviations = (
        Deviation.objects.for_lab(lab)
        .exclude(status=DeviationStatus.CLOSED)
        .select_related("run", "stage_run__stage", "qc_result", "opened_by")
        .order_by("opened_at", "pk")
    )
    return ReviewQueue(
        runs=list(runs[:limit]),
        stages=list(stages[:limit]),
        deviations=list(deviations[:limit]),
    )
