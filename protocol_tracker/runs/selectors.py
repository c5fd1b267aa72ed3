"""Reads about runs, stage runs and lineage: lab-scoped, prefetched, constant query counts."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Count, IntegerField, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce

from protocol_tracker.protocols.models import CheckpointTemplate, ProtocolTemplate, StageTemplate
from protocol_tracker.qc.models import Deviation, DeviationStatus, QCResult, Signature, Verdict
from protocol_tracker.runs import planning
from protocol_tracker.runs.models import (
    OPEN_STAGE_STATUSES,
    Run,
    RunStatus,
    StageRun,
    StageStatus,
    TaskOccurrence,
)

_POST_RELEASE_CACHE = "_post_release_stage_ids"


def post_release_stage_ids(protocol: ProtocolTemplate | int) -> frozenset[int]:
    """Ids of the protocol's stage templates that come after the lot release (transplant,
    follow-up): see :func:`protocol_tracker.runs.planning.post_release_nodes`. One query.

    Given a ProtocolTemplate instance, the answer is kept on it (a run's protocol version is
    frozen), so one service call asks the database once however often it needs the answer.
    """
    if isinstance(protocol, ProtocolTemplate):
        cached = getattr(protocol, _POST_RELEASE_CACHE, None)
        if cached is None:
            cached = post_release_stage_ids_many([protocol.pk])[protocol.pk]
            setattr(protocol, _POST_RELEASE_CACHE, cached)
        return cached
    return post_release_stage_ids_many([protocol])[protocol]


def post_release_stage_ids_many(protocol_ids: Iterable[int]) -> dict[int, frozenset[int]]:
    """:func:`post_release_stage_ids` of several protocols (by id) in one query."""
    protocol_ids = set(protocol_ids)
    if not protocol_ids:
        return {}
    kinds: dict[int, dict[int, str]] = {pk: {} for pk in protocol_ids}
    depends: dict[int, dict[int, list[int]]] = {pk: {} for pk in protocol_ids}
    rows = StageTemplate.objects.filter(protocol_id__in=protocol_ids).values_list(
        "protocol_id", "pk", "kind", "depends_on"
    )
    for protocol_id, pk, kind, dep in rows:
        kinds[protocol_id][pk] = kind
        deps = depends[protocol_id].setdefault(pk, [])
        if dep is not None:
            deps.append(dep)
    return {
        pk: frozenset(planning.post_release_nodes(kinds[pk], depends[pk])) for pk in protocol_ids
    }


def _count(qs: QuerySet) -> Coalesce:
    """A correlated COUNT subquery (several counts without multiplying joins)."""
    return Coalesce(
        Subquery(
            qs.order_by().values("run_id").annotate(n=Count("pk")).values("n")[:1],
            output_field=IntegerField(),
        ),
        0,
    )


def runs_for_user(user, *, status=None, protocol=None, donor=None) -> QuerySet[Run]:
    """Runs in the user's labs with progress counts: ``stages_total``, ``stages_completed``,
    ``stages_open`` and ``open_deviations``. ``status`` may be one value or a list."""
    stage_runs = StageRun.objects.filter(run=OuterRef("pk"))
    qs = (
        Run.objects.for_user(user)
        .select_related("protocol", "donor", "lab", "assignee", "parent")
        .annotate(
            stages_total=_count(stage_runs),
            stages_completed=_count(stage_runs.filter(status=StageStatus.COMPLETED)),
            stages_open=_count(stage_runs.filter(status__in=OPEN_STAGE_STATUSES)),
            open_deviations=_count(
                Deviation.objects.filter(run=OuterRef("pk")).exclude(status=DeviationStatus.CLOSED)
            ),
        )
    )
    if isinstance(status, str):
        qs = qs.filter(status=status)
    elif status is not None:
        qs = qs.filter(status__in=list(status))
    if protocol is not None:
        qs = qs.filter(protocol=protocol)
    if donor is not None:
        qs = qs.filter(donor=donor)
    return qs.order_by("-created_at", "-id")


def run_detail(*, run_id: int, user) -> Run:
    """One run with everything its page shows, in a constant number of queries.

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
        .select_related("protocol", "donor", "lab", "assignee", "parent", "created_by")
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
class LineageNode:
    run: Run
    children: list[LineageNode] = field(default_factory=list)

    def walk(self):
        yield self
        for child in self.children:
            yield from child.walk()


def run_lineage(*, run: Run) -> LineageNode:
    """The whole lineage tree ``run`` belongs to, from its root, in one query."""
    root_id = run.root_id or run.pk
    runs = list(
        Run.objects.filter(Q(pk=root_id) | Q(root_id=root_id))
        .select_related("protocol", "donor")
        .order_by("created_at", "id")
    )
    nodes = {r.pk: LineageNode(r) for r in runs}
    for r in runs:
        if r.parent_id is not None and r.parent_id in nodes:
            nodes[r.parent_id].children.append(nodes[r.pk])
    return nodes[root_id]


def stage_runs_due(user, *, before: datetime) -> QuerySet[StageRun]:
    """Open stage runs of active runs in the user's labs, due before ``before``, soonest first;
    and of released runs (whose open stages are post-release ones: transplant, follow-up)."""
    return (
        StageRun.objects.for_user(user)
        .filter(
            status__in=OPEN_STAGE_STATUSES,
            due_at__lt=before,
            run__status__in=[RunStatus.ACTIVE, RunStatus.RELEASED],
        )
        .select_related("run", "run__donor", "run__lab", "stage", "assignee")
        .order_by("due_at", "id")
    )


@dataclass(frozen=True)
class RetestDue:
    checkpoint: CheckpointTemplate
    last_passage: int  # passage number at the last passing result
    passages_since: int
    interval: int


def retests_due(run: Run) -> list[RetestDue]:
    """Checkpoints with ``retest_every_passages`` whose interval has been reached since their
    last passing result in this run or its ancestors (matched by checkpoint key)."""
    checkpoints = list(
        CheckpointTemplate.objects.filter(
            protocol_id=run.protocol_id, retest_every_passages__isnull=False
        ).order_by("stage__order", "order", "key")
    )
    if not checkpoints:
        return []
    ancestors = [run.pk]
    if run.parent_id is not None:
        family = dict(
            Run.objects.filter(Q(pk=run.root_id) | Q(root_id=run.root_id)).values_list(
                "pk", "parent_id"
            )
        )
        node = run.parent_id
        while node is not None:
            ancestors.append(node)
            node = family.get(node)
    last: dict[str, int] = {}
    for key, passage in QCResult.objects.filter(
        stage_run__run_id__in=ancestors,
        checkpoint__key__in=[c.key for c in checkpoints],
        verdict=Verdict.PASS,
        superseded_by__isnull=True,
        passage__isnull=False,
    ).values_list("checkpoint__key", "passage"):
        last[key] = max(last.get(key, passage), passage)
    due = []
    for checkpoint in checkpoints:
        if checkpoint.key not in last:
            continue
        since = run.passage - last[checkpoint.key]
        if since >= checkpoint.retest_every_passages:
            due.append(
                RetestDue(checkpoint, last[checkpoint.key], since, checkpoint.retest_every_passages)
            )
    return due
