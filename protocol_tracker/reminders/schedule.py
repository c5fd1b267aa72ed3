"""When a reminder is owed: pure functions of a due time, the clock and the lab's settings.

For one piece of open work (a stage run or a bench task) due at ``due``:

- ``due_soon`` from ``due - lead`` (the stage's lead time, else the lab's) until ``due``;
- ``due`` from ``due`` until ``overdue_at``;
- ``overdue`` from ``overdue_at = due + max(window_late, OVERDUE_AFTER)``: the end of the stage's
  allowed late window, and at least an hour for work that has none (bench tasks);
- ``escalation`` to the lab's reviewers from ``overdue_at + lab.escalation_delay``.

Only the *current* phase is owed: after an outage the next sweep sends the reminder that fits the
clock now (sent late), never the whole missed series. Due times are instants (UTC); only the daily
digest is planned on the lab's wall clock, through ``zoneinfo``, so that daylight-saving changes
neither move it nor send it twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from protocol_tracker.reminders.models import NotificationKind

OVERDUE_AFTER = timedelta(hours=1)
# Work overdue for longer than this is no longer swept (its escalation is long owed or sent); the
# daily digest keeps listing it.
CATCH_UP = timedelta(days=7)
# A digest missed by an outage is still sent this long after its hour, never for an earlier day.
DIGEST_CATCH_UP = timedelta(hours=12)


@dataclass(frozen=True)
class Timing:
    due_at: datetime
    lead: timedelta
    window_late: timedelta
    escalation_delay: timedelta

    @property
    def overdue_at(self) -> datetime:
        return self.due_at + max(self.window_late, OVERDUE_AFTER)

    @property
    def escalation_at(self) -> datetime:
        return self.overdue_at + self.escalation_delay

    def phase(self, now: datetime) -> str | None:
        """The assignee's reminder owed at ``now`` (None before the lead time)."""
        if now >= self.overdue_at:
            return NotificationKind.OVERDUE
        if now >= self.due_at:
            return NotificationKind.DUE
        if now >= self.due_at - self.lead:
            return NotificationKind.DUE_SOON
        return None

    def escalated(self, now: datetime) -> bool:
        return now >= self.escalation_at

    def is_current(self, kind: str, now: datetime) -> bool:
        """Whether a reminder of ``kind`` still fits the clock (a later phase supersedes it)."""
        if kind == NotificationKind.ESCALATION:
            return self.escalated(now)
        return self.phase(now) == kind


def local_instant(day: date, hour: int, tz: ZoneInfo) -> datetime:
    """``hour``:00 on ``day`` on the wall clock of ``tz``, as a UTC instant.

    A wall time repeated or skipped by a daylight-saving change resolves (fold=0) to the same
    instant every time it is computed, so it is always one digest, never none and never two.
    Converted to UTC because an aware datetime in a fold or gap never compares equal to one in
    another zone (PEP 495), and the instant is part of a uniqueness key.
    """
    return datetime.combine(day, time(hour), tzinfo=tz).astimezone(UTC)


def digest_instants_owed(*, now: datetime, tz: ZoneInfo, hour: int) -> list[datetime]:
    """Digest hours (at most one, in practice) that have passed within the catch-up window."""
    today = now.astimezone(tz).date()
    owed = []
    for day in (today - timedelta(days=1), today):
        instant = local_instant(day, hour, tz)
        if instant <= now < instant + DIGEST_CATCH_UP:
            owed.append(instant)
    return owed
