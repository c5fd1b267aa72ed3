"""The review by exception of one run: every source's items, and their acknowledgements.

A source is a function ``run -> Iterable[ReviewItem]`` (:mod:`protocol_tracker.core.review`);
another app adds one by writing the function (in its own selectors, at its own layer) and one
line in :data:`EXCEPTION_SOURCES`. An item is acknowledged when an acknowledgement of its key
and of its current content exists; the release needs every item acknowledged.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from protocol_tracker.core.review import ReviewItem
from protocol_tracker.outcomes.models import ExceptionAcknowledgement
from protocol_tracker.outcomes.selectors import sources
from protocol_tracker.runs.models import Run

ExceptionSource = Callable[[Run], Iterable[ReviewItem]]

#: The sources, in the order the review lists their kinds.
EXCEPTION_SOURCES: list[ExceptionSource] = [
    sources.out_of_spec_results,
    sources.other_deviations,
    sources.corrections_and_retests,
    sources.late_entries,
    sources.window_completions,
    sources.bench_tasks_not_done,
    sources.pending_tests,
]


@dataclass
class ReviewRow:
    item: ReviewItem
    acknowledgement: ExceptionAcknowledgement | None = None
    #: an earlier acknowledgement of the same key, made before the item changed
    stale: ExceptionAcknowledgement | None = None

    @property
    def acknowledged(self) -> bool:
        return self.acknowledgement is not None


@dataclass
class RunReview:
    run: Run
    rows: list[ReviewRow] = field(default_factory=list)

    @property
    def items(self) -> list[ReviewItem]:
        return [row.item for row in self.rows]

    @property
    def unacknowledged(self) -> list[ReviewRow]:
        return [row for row in self.rows if not row.acknowledged]

    @property
    def complete(self) -> bool:
        return not self.unacknowledged

    def by_key(self) -> dict[str, ReviewRow]:
        return {row.item.key: row for row in self.rows}


def run_exceptions(run: Run) -> list[ReviewItem]:
    """Every item of every source for ``run`` (a lab-scoped read), each key once, in the
    sources' order and by time within each."""
    run.__dict__.pop(sources.REVIEW_CACHE, None)
    items: list[ReviewItem] = []
    seen: set[str] = set()
    for source in EXCEPTION_SOURCES:
        for item in sorted(source(run), key=lambda i: (i.at is None, i.at, i.key)):
            if item.key in seen:
                raise ValueError(f"two review items share the key {item.key!r}")
            seen.add(item.key)
            items.append(item)
    return items


def run_review(run: Run) -> RunReview:
    """The run's exceptions with their acknowledgements (current and stale)."""
    acks: dict[str, list[ExceptionAcknowledgement]] = {}
    for ack in (
        ExceptionAcknowledgement.objects.for_lab(run.lab_id)
        .filter(run=run)
        .select_related("acknowledged_by")
        .order_by("acknowledged_at", "pk")
    ):
        acks.setdefault(ack.key, []).append(ack)
    review = RunReview(run=run)
    for item in run_exceptions(run):
        mine = acks.get(item.key, [])
        current = next((a for a in reversed(mine) if a.content_hash == item.content_hash), None)
        stale = None if current is not None else (mine[-1] if mine else None)
        review.rows.append(ReviewRow(item=item, acknowledgement=current, stale=stale))
    return review
