"""Pure scheduling arithmetic for runs: no database, no Django models needed.

Durations in a protocol are *wall-clock* durations in the lab's time zone: a stage that takes
24 h and starts at 09:00 local time is due at 09:00 local time the next day, also across a
daylight-saving change (when the elapsed time is 23 or 25 h). Everything is stored in UTC; the
arithmetic happens on the lab's local clock and the result is converted back.

A stage starts when all the stages it depends on are due (or, once they have finished, when the
last of them actually finished); the roots start at the run's planned start.

Release gates manufacturing, not the clinic: the stages downstream of a release stage
(transplant, follow-up) are *post-release* (:func:`post_release_nodes`). The run is ready for its
release review when its manufacturing stages are done; the post-release stages wait for the
signed release and are planned from it (``not_before`` in :func:`plan_stages`).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import TypeVar

# A node of the stage graph: a stage template's id (any hashable in the pure tests).
N = TypeVar("N", bound=Hashable)


class PlanningError(ValueError):
    """The stage graph is not a DAG, or names a stage that does not exist."""


def wall_add(moment: datetime, delta: timedelta, tz: tzinfo) -> datetime:
    """``moment`` plus ``delta`` on the local clock of ``tz``, returned in UTC.

    A local time that falls into a spring-forward gap resolves to the later offset (what a
    wall clock shows after the jump), never to a time that does not exist.
    """
    local = moment.astimezone(tz).replace(tzinfo=None) + delta
    return _localize(local, tz).astimezone(UTC)


def wall_delta(later: datetime, earlier: datetime, tz: tzinfo) -> timedelta:
    """How far the local clock of ``tz`` moved between two moments."""
    return later.astimezone(tz).replace(tzinfo=None) - earlier.astimezone(tz).replace(tzinfo=None)


def _localize(naive: datetime, tz: tzinfo) -> datetime:
    aware = naive.replace(tzinfo=tz)
    # A time inside a DST gap does not survive a round trip through UTC: move it forward by
    # the size of the gap (fold=1 gives the post-transition offset).
    roundtrip = aware.astimezone(UTC).astimezone(tz).replace(tzinfo=None)
    if roundtrip != naive:
        aware = naive.replace(tzinfo=tz, fold=1).astimezone(UTC).astimezone(tz)
    return aware


def topological_order(nodes: Sequence[N], depends_on: Mapping[N, Iterable[N]]) -> list[N]:
    """``nodes`` ordered so that every node comes after its dependencies (stable by input order).

    Raises :class:`PlanningError` on a cycle or an unknown dependency.
    """
    position = {node: i for i, node in enumerate(nodes)}
    pending = {node: set(depends_on.get(node, ())) for node in nodes}
    for node, deps in pending.items():
        unknown = deps - position.keys()
        if unknown:
            raise PlanningError(
                f"stage {node!r} depends on unknown stage(s) {sorted(map(str, unknown))}"
            )
    order: list[N] = []
    done: set[N] = set()
    while pending:
        ready = sorted((n for n, deps in pending.items() if deps <= done), key=position.__getitem__)
        if not ready:
            raise PlanningError(
                f"stage dependencies form a cycle among {sorted(map(str, pending))}"
            )
        for node in ready:
            order.append(node)
            done.add(node)
            del pending[node]
    return order


RELEASE_KIND = "release"


def post_release_nodes(kinds: Mapping[N, str], depends_on: Mapping[N, Iterable[N]]) -> frozenset[N]:
    """The stages that come after the release of the lot: downstream (transitively) of a stage
    of kind ``release``, and upstream of none.

    With one release stage (the usual case) that is simply everything after it. The second
    condition matters when releases are chained (a cell bank released mid-run, then the lot):
    the run has one release decision, so whatever leads to a later release stage is still
    manufacturing and only what follows the last release waits for it. No release stage: empty
    (the run is released once every stage is done).
    """
    dependants: dict[N, set[N]] = {node: set() for node in kinds}
    for node, deps in depends_on.items():
        for dep in deps:
            dependants.setdefault(dep, set()).add(node)
    releases = [node for node, kind in kinds.items() if kind == RELEASE_KIND]
    downstream = _reach(releases, dependants)
    upstream = _reach(releases, {n: set(d) for n, d in depends_on.items()})
    return frozenset(downstream - upstream - set(releases))


def _reach(starts: Iterable[N], edges: Mapping[N, Iterable[N]]) -> set[N]:
    """Every node reachable from ``starts`` along ``edges`` (the starts themselves excluded
    unless reached again)."""
    seen: set[N] = set()
    stack = [n for start in starts for n in edges.get(start, ())]
    while stack:
        node = stack.pop()
        if node not in seen:
            seen.add(node)
            stack.extend(edges.get(node, ()))
    return seen


@dataclass(frozen=True)
class StageSpan:
    planned_start: datetime
    due_at: datetime


def plan_stages(
    *,
    start: datetime,
    order: Sequence[N],
    durations: Mapping[N, timedelta],
    depends_on: Mapping[N, Iterable[N]],
    tz: tzinfo,
    fixed: Mapping[N, StageSpan] | None = None,
    finished: Mapping[N, datetime] | None = None,
    not_before: Mapping[N, datetime] | None = None,
) -> dict[N, StageSpan]:
    """Planned start and due time of every stage in ``order`` (topological).

    ``fixed`` stages keep their span (they have started); ``finished`` stages end at their actual
    completion time instead of their due time when their dependants are planned; a stage in
    ``not_before`` starts no earlier than that (post-release stages: the release).
    """
    fixed = fixed or {}
    finished = finished or {}
    not_before = not_before or {}
    spans: dict[N, StageSpan] = {}
    ends: dict[N, datetime] = {}
    for node in order:
        if node in fixed:
            span = fixed[node]
        else:
            deps = list(depends_on.get(node, ()))
            begin = max((ends[d] for d in deps), default=start)
            if node in not_before:
                begin = max(begin, not_before[node])
            span = StageSpan(begin, wall_add(begin, durations[node], tz))
        spans[node] = span
        ends[node] = finished.get(node, span.due_at)
    return spans


def task_times(
    *,
    planned_start: datetime,
    due_at: datetime,
    tz: tzinfo,
    every: timedelta | None = None,
    on_days: Iterable[int | float] | None = None,
) -> list[datetime]:
    """When a recurring bench task falls due within a stage window.

    ``every``: one interval after the stage starts, then every interval, up to and including the
    stage's due time (the start itself is the seeding, not a feed). ``on_days``: those day offsets
    from the stage start, each once (day 0 is the start).
    """
    times: list[datetime] = []
    if every is not None:
        if every <= timedelta(0):
            raise PlanningError("a task interval must be positive")
        k = 1
        while True:
            moment = wall_add(planned_start, every * k, tz)
            if moment > due_at:
                break
            times.append(moment)
            k += 1
    if on_days is not None:
        times.extend(wall_add(planned_start, timedelta(days=d), tz) for d in sorted(set(on_days)))
    return sorted(set(times))
