"""Reads about donors, runs, stage runs, bench tasks and lineage: lab-scoped, prefetched, constant
query counts.

Reads that need QC records (results, deviations, signatures) live in ``qc.selectors``: qc is
the layer above."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING

from django.db.models import Count, OuterRef, Q, QuerySet
from django.utils import timezone

from labs.selectors import visible_to
from protocol_tracker.core.actors import Person
from protocol_tracker.core.queries import subquery_count
from protocol_tracker.protocols.models import ProtocolTemplate, StageTemplate
from protocol_tracker.runs import planning
from protocol_tracker.runs.models import (
    OPEN_STAGE_STATUSES,
    Donor,
    Run,
    RunStatus,
    StageRun,
    StageStatus,
    TaskOccurrence,
)

if TYPE_CHECKING:
    from labs.models import Lab
    from protocol_tracker.core.actors import Actor

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


# --- runs -------------------------------------------------------------------------------------


def runs_for_user(
    user: Person,
    *,
    lab: Lab | int | None = None,
    search: str = "",
    status: str = "",
    protocol_code: str = "",
    assignee=None,
) -> QuerySet[Run]:
    """Runs in the user's labs (or in one of them), newest first, with progress counts:
    ``stages_total``, ``stages_completed`` and ``stages_open``. ``search`` matches the run's or
    the donor's code; the other filters are exact (empty: any)."""
    stage_runs = StageRun.objects.filter(run=OuterRef("pk"))
    qs = (
        Run.objects.for_user(user)
        .select_related("protocol", "donor", "lab", "assignee", "parent")
        .annotate(
            stages_total=subquery_count(stage_runs, per="run_id"),
            stages_completed=subquery_count(
                stage_runs.filter(status=StageStatus.COMPLETED), per="run_id"
            ),
            stages_open=subquery_count(
                stage_runs.filter(status__in=OPEN_STAGE_STATUSES), per="run_id"
            ),
        )
    )
    if lab is not None:
        qs = qs.filter(lab=lab)
    if search:
        qs = qs.filter(Q(code__icontains=search) | Q(donor__code__icontains=search))
    if status:
        qs = qs.filter(status=status)
    if protocol_code:
        qs = qs.filter(protocol__code=protocol_code)
    if assignee is not None:
        qs = qs.filter(assignee=assignee)
    return qs.order_by("-created_at", "-id")


def runs_visible_to(viewer: Actor) -> QuerySet[Run]:
    """Runs the caller (a person or an instrument) may read: the API's list and actions."""
    return visible_to(Run.objects.all(), viewer)


def run_for_user(*, run_id: int, user: Person) -> Run:
    """One run of the user's labs with its lab, protocol, donor, parent, assignee and creator.
    Another lab's run raises ``Run.DoesNotExist`` like a missing one."""
    return (
        Run.objects.for_user(user)
        .select_related("lab", "protocol", "donor__coi", "parent", "assignee", "created_by")
        .get(pk=run_id)
    )


def run_by_code(*, lab: Lab | int, code: str) -> Run | None:
    return Run.objects.for_lab(lab).filter(code=code).first()


def run_children(*, run: Run) -> QuerySet[Run]:
    """The runs seeded from ``run`` (one lineage step down), by code."""
    return (
        Run.objects.for_lab(run.lab_id)
        .filter(parent=run)
        .select_related("protocol", "donor")
        .order_by("code")
    )


def donor_by_code(*, lab: Lab | int, code: str) -> Donor | None:
    return Donor.objects.for_lab(lab).filter(code=code).first()


def donors_for_user(user: Person) -> QuerySet[Donor]:
    return Donor.objects.for_user(user).select_related("coi")


def donor_for_user(*, donor_id: int, user: Person) -> Donor:
    """One donor of the user's labs with its lab and COI (another lab's: DoesNotExist)."""
    return Donor.objects.for_user(user).select_related("lab", "coi").get(pk=donor_id)


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
        Run.objects.for_lab(run.lab_id)
        .filter(Q(pk=root_id) | Q(root_id=root_id))
        .select_related("protocol", "donor")
        .order_by("created_at", "id")
    )
    nodes = {r.pk: LineageNode(r) for r in runs}
    for r in runs:
        if r.parent_id is not None and r.parent_id in nodes:
            nodes[r.parent_id].children.append(nodes[r.pk])
    return nodes[root_id]


# --- stage runs and bench tasks ---------------------------------------------------------------


def stage_runs_of_run(*, run: Run) -> QuerySet[StageRun]:
    """The run's stage runs in order, with their stage templates and the people on them."""
    return (
        StageRun.objects.for_lab(run.lab_id)
        .filter(run=run)
        .select_related("stage", "started_by", "completed_by", "assignee")
        .order_by("order", "pk")
    )


def stage_run_for_user(*, stage_run_id: int, user: Person) -> StageRun:
    """One stage run of the user's labs with its run (lab, protocol) and stage template.
    Another lab's stage run raises ``StageRun.DoesNotExist`` like a missing one."""
    return (
        StageRun.objects.for_user(user)
        .select_related("run__lab", "run__protocol", "run__donor__coi", "stage")
        .get(pk=stage_run_id)
    )


def stage_runs_visible_to(viewer: Actor) -> QuerySet[StageRun]:
    """Stage runs the caller (a person or an instrument) may read, with run and stage."""
    return visible_to(StageRun.objects.all(), viewer).select_related("run", "stage")


def task_occurrences_of_run(*, run: Run) -> QuerySet[TaskOccurrence]:
    """The run's bench task occurrences, soonest first, with their template and who did them."""
    return (
        TaskOccurrence.objects.for_lab(run.lab_id)
        .filter(stage_run__run=run)
        .select_related("task", "done_by")
        .order_by("due_at", "pk")
    )


def task_occurrence_for_user(*, occurrence_id: int, user: Person) -> TaskOccurrence:
    """One bench task occurrence of the user's labs with its template and its run's lab.
    Another lab's raises ``TaskOccurrence.DoesNotExist`` like a missing one."""
    return (
        TaskOccurrence.objects.for_user(user)
        .select_related("task", "stage_run__run__lab")
        .get(pk=occurrence_id)
    )


def task_occurrences_for_user(user: Person) -> QuerySet[TaskOccurrence]:
    return TaskOccurrence.objects.for_user(user).select_related("stage_run", "task")


# --- the bench board ----------------------------------------------------------------------------

BOARD_LIMIT = 12  # per column and kind: a gloved hand scrolls a short list
# A released run's open stages are its post-release ones (transplant, follow-up).
WORKING_RUNS = (RunStatus.ACTIVE, RunStatus.RELEASED)
BOARD_WINDOWS = ("overdue", "today", "next")


@dataclass
class BoardColumn:
    key: str  # one of BOARD_WINDOWS
    stages: list[StageRun]
    tasks: list[TaskOccurrence]
    stage_count: int  # all of them, not only the ``limit`` listed
    task_count: int


@dataclass
class BenchBoard:
    columns: list[BoardColumn]
    now: datetime
    limit: int


def bench_board(
    *, lab: Lab, user: Person | None = None, mine: bool = False, limit: int = BOARD_LIMIT
) -> BenchBoard:
    """Open stage runs and bench tasks of working runs in ``lab``: overdue, due today (the
    lab's day), due in the next 7 days; with ``mine``, only ``user``'s (theirs, or their
    run's when the stage is unassigned).

    A fixed number of queries whatever the number of runs: each list is capped at ``limit``
    and the columns are counted in one aggregate per kind.
    """
    now = timezone.now()
    local = timezone.localtime(now, lab.tz)
    end_today = datetime.combine(local.date() + timedelta(days=1), time.min, tzinfo=lab.tz)
    horizon = end_today + timedelta(days=7)
    stages = (
        StageRun.objects.for_lab(lab)
        .filter(status__in=OPEN_STAGE_STATUSES, run__status__in=WORKING_RUNS)
        .select_related("run", "stage", "assignee")
        .only(
            "pk",
            "status",
            "due_at",
            "run_id",
            "stage_id",
            "assignee_id",
            "run__code",
            "stage__name",
            "assignee__username",
        )
        .order_by("due_at", "pk")
    )
    tasks = (
        TaskOccurrence.objects.for_lab(lab)
        .filter(
            done_at__isnull=True,
            skipped=False,
            stage_run__status=StageStatus.IN_PROGRESS,
            stage_run__run__status__in=WORKING_RUNS,
        )
        .select_related("task", "stage_run", "stage_run__run", "stage_run__stage")
        .only(
            "pk",
            "due_at",
            "task__name",
            "stage_run__run_id",
            "stage_run__run__code",
            "stage_run__stage__name",
        )
        .order_by("due_at", "pk")
    )
    if mine and user is not None:
        stages = stages.filter(Q(assignee=user) | Q(assignee__isnull=True, run__assignee=user))
        tasks = tasks.filter(
            Q(stage_run__assignee=user)
            | Q(stage_run__assignee__isnull=True, stage_run__run__assignee=user)
        )
    windows = {
        "overdue": Q(due_at__lt=now),
        "today": Q(due_at__gte=now, due_at__lt=end_today),
        "next": Q(due_at__gte=end_today, due_at__lt=horizon),
    }
    stage_counts = stages.aggregate(**{k: Count("pk", filter=q) for k, q in windows.items()})
    task_counts = tasks.aggregate(**{k: Count("pk", filter=q) for k, q in windows.items()})
    columns = [
        BoardColumn(
            key=key,
            stages=list(stages.filter(windows[key])[:limit]),
            tasks=list(tasks.filter(windows[key])[:limit]),
            stage_count=stage_counts[key],
            task_count=task_counts[key],
        )
        for key in BOARD_WINDOWS
    ]
    return BenchBoard(columns=columns, now=now, limit=limit)
