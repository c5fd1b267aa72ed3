"""When a QC test is due again: by passage or by time in culture, whichever comes first.

Pure: the caller gives the last result's time and passage, the culture's passage now and the
checkpoint's rules (``retest_every_passages``, ``retest_every_days``). Runs use it for a
checkpoint's re-tests; anything with a passage counter and a clock (a vessel) can use the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

BY_PASSAGE, BY_TIME = "passage", "time"


@dataclass(frozen=True)
class RetestStatus:
    due: bool
    by: str  # BY_PASSAGE / BY_TIME / "" (what makes it due, or would first)
    due_at: datetime | None  # by time (None without a time rule)
    due_at_passage: int | None  # by passage (None without a passage rule)
    passages_since: int
    days_since: float


def retest_status(
    *,
    last_at: datetime,
    last_passage: int | None,
    now: datetime,
    passage_now: int,
    every_passages: int | None,
    every_days: int | None,
) -> RetestStatus:
    """Is the test due again? ``last_passage`` None (unknown) counts from passage 0."""
    since = passage_now - (last_passage or 0)
    due_at = last_at + timedelta(days=every_days) if every_days else None
    due_at_passage = (last_passage or 0) + every_passages if every_passages else None
    by_passage = every_passages is not None and since >= every_passages
    by_time = due_at is not None and now >= due_at
    if by_time:
        by = BY_TIME
    elif by_passage:
        by = BY_PASSAGE
    else:  # what will come due (time where there is a time rule)
        by = BY_TIME if due_at is not None else (BY_PASSAGE if every_passages else "")
    return RetestStatus(
        due=by_passage or by_time,
        by=by,
        due_at=due_at,
        due_at_passage=due_at_passage,
        passages_since=since,
        days_since=round((now - last_at) / timedelta(days=1), 1),
    )
