"""Re-tests by passage or by time, whichever comes first ([R4]: mycoplasma every 3-4 weeks or
5-6 passages; STR every 6-8 weeks or 10-12 passages)."""

from datetime import UTC, datetime, timedelta

import pytest

from protocol_tracker.protocols.retests import retest_status

T = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("days", "passage_now", "due", "by"),
    [
        (27, 5, False, "time"),
        (28, 5, True, "time"),  # 28 days first
        (10, 6, True, "passage"),  # 6 passages first
        (30, 7, True, "time"),  # both: the time rule is named
    ],
)
def test_mycoplasma_every_28_days_or_6_passages(days, passage_now, due, by):
    status = retest_status(
        last_at=T,
        last_passage=0,
        now=T + timedelta(days=days),
        passage_now=passage_now,
        every_passages=6,
        every_days=28,
    )

    assert (status.due, status.by) == (due, by)
    assert status.due_at == T + timedelta(days=28)
    assert status.due_at_passage == 6


def test_passage_only_rule_ignores_time():
    status = retest_status(
        last_at=T,
        last_passage=3,
        now=T + timedelta(days=400),
        passage_now=12,
        every_passages=10,
        every_days=None,
    )

    assert (status.due, status.by, status.due_at, status.passages_since) == (
        False,
        "passage",
        None,
        9,
    )
