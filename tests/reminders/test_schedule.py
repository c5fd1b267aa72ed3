"""When reminders and digests are owed: pure timing, daylight-saving changes included."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from protocol_tracker.reminders.schedule import Timing, digest_instants_owed

H = timedelta(hours=1)
DUE = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def timing(window_late=2 * H):
    return Timing(due_at=DUE, lead=24 * H, window_late=window_late, escalation_delay=4 * H)


def test_phases_follow_the_clock():
    t = timing()

    assert t.phase(DUE - 24 * H - timedelta(seconds=1)) is None
    assert t.phase(DUE - 24 * H) == "due_soon"
    assert t.phase(DUE - timedelta(seconds=1)) == "due_soon"
    assert t.phase(DUE) == "due"
    assert t.phase(DUE + 2 * H - timedelta(seconds=1)) == "due"
    assert t.phase(DUE + 2 * H) == "overdue"
    assert t.escalated(DUE + 6 * H - timedelta(seconds=1)) is False
    assert t.escalated(DUE + 6 * H) is True


def test_work_without_a_late_window_is_overdue_after_an_hour():
    t = timing(window_late=timedelta(0))

    assert t.overdue_at == DUE + H
    assert t.escalation_at == DUE + 5 * H


def test_a_later_phase_supersedes_an_earlier_one():
    t = timing()

    assert t.is_current("due_soon", DUE - H) is True
    assert t.is_current("due_soon", DUE) is False
    assert t.is_current("due", DUE + 3 * H) is False
    assert t.is_current("overdue", DUE + 30 * H) is True
    assert t.is_current("escalation", DUE + 30 * H) is True


def test_digest_is_owed_from_the_local_hour_for_twelve_hours():
    shanghai = ZoneInfo("Asia/Shanghai")  # 07:00 local = 23:00 UTC the day before

    assert (
        digest_instants_owed(now=datetime(2026, 3, 9, 22, 59, tzinfo=UTC), tz=shanghai, hour=7)
        == []
    )
    owed = digest_instants_owed(now=datetime(2026, 3, 9, 23, 0, tzinfo=UTC), tz=shanghai, hour=7)
    assert owed == [datetime(2026, 3, 9, 23, 0, tzinfo=UTC)]
    assert (
        digest_instants_owed(now=datetime(2026, 3, 10, 10, 59, tzinfo=UTC), tz=shanghai, hour=7)
        == owed
    )
    assert (
        digest_instants_owed(now=datetime(2026, 3, 10, 11, 0, tzinfo=UTC), tz=shanghai, hour=7)
        == []
    )


def test_digest_stays_at_the_local_hour_across_daylight_saving():
    new_york = ZoneInfo("America/New_York")  # DST starts 2026-03-08 02:00 local

    before = digest_instants_owed(now=datetime(2026, 3, 7, 12, 30, tzinfo=UTC), tz=new_york, hour=7)
    after = digest_instants_owed(now=datetime(2026, 3, 9, 11, 30, tzinfo=UTC), tz=new_york, hour=7)

    assert before == [datetime(2026, 3, 7, 12, 0, tzinfo=UTC)]  # 07:00 EST
    assert after == [datetime(2026, 3, 9, 11, 0, tzinfo=UTC)]  # 07:00 EDT
    assert [i.astimezone(new_york).hour for i in before + after] == [7, 7]


def test_a_digest_hour_in_the_repeated_hour_is_owed_once():
    london = ZoneInfo("Europe/London")  # 2026-10-25: 01:00-02:00 local happens twice
    instants = set()
    now = datetime(2026, 10, 24, 23, 0, tzinfo=UTC)
    while now < datetime(2026, 10, 25, 14, 0, tzinfo=UTC):
        instants.update(digest_instants_owed(now=now, tz=london, hour=1))
        now += timedelta(minutes=15)

    assert instants == {datetime(2026, 10, 25, 0, 0, tzinfo=UTC)}  # the first 01:00 (BST)


def test_a_digest_hour_skipped_by_spring_forward_is_still_owed_once():
    london = ZoneInfo("Europe/London")  # 2026-03-29: 01:00-02:00 local does not exist
    instants = set()
    now = datetime(2026, 3, 28, 23, 0, tzinfo=UTC)
    while now < datetime(2026, 3, 29, 14, 0, tzinfo=UTC):
        instants.update(digest_instants_owed(now=now, tz=london, hour=1))
        now += timedelta(minutes=15)

    assert instants == {datetime(2026, 3, 29, 1, 0, tzinfo=UTC)}
