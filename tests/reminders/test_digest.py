"""The reviewers' daily digest: at the lab's local hour, once per local date, DST or not."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from protocol_tracker.qc.models import Deviation, DeviationKind
from protocol_tracker.reminders.models import Notification, NotificationPreference
from protocol_tracker.reminders.services import digests_sweep
from protocol_tracker.runs.models import RunStatus
from tests.factories import H, RunFactory, stage_run_due
from tests.reminders.helpers import digest_and_send, rows

pytestmark = pytest.mark.django_db
SEVEN_LOCAL = datetime(2026, 5, 3, 23, 0, tzinfo=UTC)  # 07:00 on 4 May in Shanghai


def test_reviewers_get_the_digest_at_the_labs_local_hour_once(
    lab, reviewer, reviewer2, technician, mailoutbox
):
    early = digest_and_send(SEVEN_LOCAL - timedelta(minutes=1))
    on_time = digest_and_send(SEVEN_LOCAL)
    later = digest_and_send(SEVEN_LOCAL + timedelta(minutes=15))

    assert (early.created, on_time.created, later.created) == (0, 2, 0)
    assert rows() == [("digest", "reviewer-a", "sent"), ("digest", "reviewer-a2", "sent")]
    subject = "[protocol_tracker] Daily digest: Lab A, 2026-05-04"
    assert [m.subject for m in mailoutbox] == [subject, subject]


def test_the_digest_lists_deviations_runs_to_release_and_overdue_work(lab, reviewer, mailoutbox):
    stage_run = stage_run_due(lab, SEVEN_LOCAL - 3 * H)
    run = stage_run.run
    deviation = Deviation.objects.create(
        lab=lab, run=run, stage_run=stage_run, kind=DeviationKind.OUT_OF_SPEC, title="Viability low"
    )
    Deviation.objects.filter(pk=deviation.pk).update(opened_at=SEVEN_LOCAL - 2 * H)
    done = RunFactory(lab=lab, status=RunStatus.COMPLETED, completed_at=SEVEN_LOCAL - 5 * H)

    digest_and_send(SEVEN_LOCAL)

    body = mailoutbox[0].body
    assert body == (
        "Daily digest for Lab A, 2026-05-04.\n\n"
        "Open deviations (1)\n"
        f"- DEV-{deviation.pk}, Major, Open: run {run.code} (donor {run.donor.code}), "
        "opened 2026-05-04 05:00 CST\n\n"
        "Runs awaiting release (1)\n"
        f"- Run {done.code} (donor {done.donor.code}), completed 2026-05-04 02:00 CST\n\n"
        "Overdue stages (1)\n"
        f"- Expansion, run {run.code} (donor {run.donor.code}), due 2026-05-04 04:00 CST\n\n"
        "Overdue bench tasks (0)\n"
        "- none\n\n"
        "-- \nAn automatic message from protocol_tracker (Lab A). Choose which emails you "
        "receive in your notification preferences.\n"
    )
    assert "Viability low" not in body  # free text stays out of email


def test_a_reviewer_who_turned_the_digest_off_gets_none(lab, reviewer, reviewer2):
    NotificationPreference.objects.create(user=reviewer2, digest=False)

    digest_and_send(SEVEN_LOCAL)

    assert rows() == [("digest", "reviewer-a", "sent")]


def test_a_missed_digest_is_sent_late_the_same_day_but_not_the_next(lab, reviewer):
    late = digests_sweep(now=SEVEN_LOCAL + 11 * H).created
    next_day_early = digests_sweep(now=SEVEN_LOCAL + 23 * H).created

    assert (late, next_day_early) == (1, 0)


@pytest.mark.parametrize(
    ("start", "days"),
    [
        (datetime(2026, 3, 6, 0, 0, tzinfo=UTC), 4),  # spring forward on 8 March
        (datetime(2026, 10, 30, 0, 0, tzinfo=UTC), 4),  # fall back on 1 November
    ],
)
def test_daylight_saving_neither_moves_nor_doubles_the_digest(reviewer, lab, start, days):
    lab.timezone = "America/New_York"
    lab.save(update_fields=["timezone"])
    new_york = ZoneInfo("America/New_York")

    now = start
    while now < start + timedelta(days=days):
        digests_sweep(now=now)
        now += timedelta(minutes=20)

    local = [
        d.astimezone(new_york)
        for d in Notification.objects.order_by("due_at").values_list("due_at", flat=True)
    ]
    assert [(t.date().isoformat(), t.hour, t.minute) for t in local] == [
        ((start.date() + timedelta(days=i)).isoformat(), 7, 0) for i in range(days)
    ]
