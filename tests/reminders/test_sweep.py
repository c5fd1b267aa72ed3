"""The sweep: what is owed, to whom, once; catch-up after an outage; nothing for finished work."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.utils import timezone

from protocol_tracker.reminders.models import Notification, NotificationStatus
from protocol_tracker.reminders.services import notification_send, reminders_sweep
from protocol_tracker.runs.models import RunStatus, StageRun, StageStatus
from tests.factories import (
    H,
    LabFactory,
    MembershipFactory,
    TaskOccurrenceFactory,
    UserFactory,
    stage_run_due,
)
from tests.reminders.helpers import rows, send_all, sweep_and_send

NOW = datetime(2026, 5, 4, 2, 0, tzinfo=UTC)  # 10:00 in the lab's zone (Asia/Shanghai)
pytestmark = pytest.mark.django_db


def test_a_stage_coming_due_sends_one_email_to_its_assignee(
    lab, technician, technician2, mailoutbox
):
    stage_run = stage_run_due(lab, NOW + 10 * H, assignee=technician)

    first = sweep_and_send(NOW)
    second = sweep_and_send(NOW + timedelta(minutes=1))

    assert (first.created, second.created, second.notification_ids) == (1, 0, [])
    assert rows() == [("due_soon", "tech-a", "sent")]
    assert len(mailoutbox) == 1
    email = mailoutbox[0]
    assert email.to == ["tech-a@example.org"]
    assert email.subject == f"[protocol_tracker] Due soon: Expansion, run {stage_run.run.code}"
    assert (
        f"Expansion for run {stage_run.run.code} (donor {stage_run.run.donor.code}) is due "
        "soon, at 2026-05-04 20:00 CST."
    ) in email.body


def test_nothing_is_owed_before_the_lead_time(lab, technician, mailoutbox):
    stage_run_due(lab, NOW + 25 * H, assignee=technician)  # the lab's lead is 24 h

    result = sweep_and_send(NOW)

    assert (result.created, Notification.objects.count(), len(mailoutbox)) == (0, 0, 0)


def test_the_stage_lead_time_overrides_the_labs(lab, technician, mailoutbox):
    stage_run_due(lab, NOW + 3 * H, assignee=technician, lead=2 * H)
    stage_run_due(lab, NOW + 90 * timedelta(minutes=1), assignee=technician, lead=2 * H)

    sweep_and_send(NOW)

    assert rows() == [("due_soon", "tech-a", "sent")]


def test_unassigned_work_goes_to_the_labs_technicians(
    lab, technician, technician2, reviewer, other_technician, mailoutbox
):
    stage_run_due(lab, NOW + H)

    sweep_and_send(NOW)

    assert rows() == [("due_soon", "tech-a", "sent"), ("due_soon", "tech-a2", "sent")]
    assert sorted(m.to[0] for m in mailoutbox) == ["tech-a2@example.org", "tech-a@example.org"]


def test_the_run_assignee_gets_it_when_the_stage_has_none(lab, technician, technician2):
    stage_run = stage_run_due(lab, NOW + H)
    stage_run.run.assignee = technician2
    stage_run.run.save(update_fields=["assignee"])

    sweep_and_send(NOW)

    assert rows() == [("due_soon", "tech-a2", "sent")]


def test_a_completed_stage_gets_no_reminder(lab, technician, mailoutbox):
    stage_run_due(lab, NOW + H, assignee=technician, status=StageStatus.COMPLETED)
    stage_run_due(lab, NOW - 3 * H, assignee=technician, status=StageStatus.SKIPPED)

    result = sweep_and_send(NOW)

    assert (result.created, Notification.objects.count(), len(mailoutbox)) == (0, 0, 0)


def test_a_reminder_for_work_done_before_it_was_sent_is_cancelled(lab, technician, mailoutbox):
    stage_run = stage_run_due(lab, NOW + H, assignee=technician)
    result = sweep_and_send(NOW, send=False)
    StageRun.objects.filter(pk=stage_run.pk).update(status=StageStatus.COMPLETED)

    with time_machine.travel(NOW + timedelta(minutes=1), tick=False):
        send_all(result.notification_ids)

    assert len(mailoutbox) == 0
    assert list(Notification.objects.values_list("status", "last_error")) == [
        ("cancelled", "The stage run is no longer open.")
    ]


def test_runs_on_hold_get_no_reminders(lab, technician, mailoutbox):
    stage_run = stage_run_due(lab, NOW + H, assignee=technician)
    stage_run.run.status = RunStatus.ON_HOLD
    stage_run.run.save(update_fields=["status"])

    assert sweep_and_send(NOW).created == 0


def test_after_an_outage_only_the_current_reminder_is_sent_late(lab, technician, mailoutbox):
    stage_run = stage_run_due(lab, NOW - 30 * timedelta(minutes=1), assignee=technician)

    sweep_and_send(NOW)  # the first sweep in hours: the due-soon window passed unseen

    assert rows() == [("due", "tech-a", "sent")]
    assert mailoutbox[0].subject == (
        f"[protocol_tracker] Due now: Expansion, run {stage_run.run.code}"
    )


def test_a_due_soon_still_queued_when_the_work_falls_due_is_superseded(lab, technician, mailoutbox):
    stage_run_due(lab, NOW + 10 * timedelta(minutes=1), assignee=technician)
    queued = sweep_and_send(NOW, send=False)  # the worker is down from here

    later = NOW + 20 * timedelta(minutes=1)
    with time_machine.travel(later, tick=False):
        send_all(queued.notification_ids)  # the stale message finally runs
    sweep_and_send(later)

    assert rows() == [("due_soon", "tech-a", "cancelled"), ("due", "tech-a", "sent")]
    assert len(mailoutbox) == 1


def test_each_phase_is_sent_once_as_time_passes(lab, technician, reviewer, reviewer2, mailoutbox):
    due = NOW + 2 * H  # window_late 2 h, lab escalation delay 4 h
    stage_run_due(lab, due, assignee=technician)

    for minutes in range(0, 9 * 60, 15):
        sweep_and_send(NOW + timedelta(minutes=minutes))

    assert rows() == [
        ("due_soon", "tech-a", "sent"),
        ("due", "tech-a", "sent"),
        ("overdue", "tech-a", "sent"),
        ("escalation", "reviewer-a", "sent"),
        ("escalation", "reviewer-a2", "sent"),
    ]
    assert len(mailoutbox) == 5


def test_escalation_reaches_the_reviewers_at_the_right_local_time(
    lab, technician, reviewer, mailoutbox
):
    lab.escalation_delay = 3 * H
    lab.save(update_fields=["escalation_delay"])
    due = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)  # 17:00 in Shanghai; overdue at 19:00
    stage_run_due(lab, due, assignee=technician)
    escalate_at = datetime(2026, 5, 4, 14, 0, tzinfo=UTC)  # 22:00 local

    sweep_and_send(escalate_at - timedelta(seconds=1))
    before = rows(kind="escalation")
    sweep_and_send(escalate_at)

    assert before == []
    assert rows(kind="escalation") == [("escalation", "reviewer-a", "sent")]
    escalation = [m for m in mailoutbox if m.to == ["reviewer-a@example.org"]]
    assert escalation[0].subject.startswith("[protocol_tracker] Escalation: overdue Expansion")
    assert "it was due at 2026-05-04 17:00 CST." in escalation[0].body


def test_a_replanned_due_time_cancels_the_old_reminder_and_owes_a_new_one(
    lab, technician, mailoutbox
):
    stage_run = stage_run_due(lab, NOW + H, assignee=technician)
    queued = sweep_and_send(NOW, send=False)
    StageRun.objects.filter(pk=stage_run.pk).update(due_at=NOW + 5 * H)

    with time_machine.travel(NOW, tick=False):
        send_all(queued.notification_ids)
    sweep_and_send(NOW)

    assert rows() == [("due_soon", "tech-a", "cancelled"), ("due_soon", "tech-a", "sent")]
    assert list(Notification.objects.order_by("id").values_list("due_at", flat=True)) == [
        NOW + H,
        NOW + 5 * H,
    ]


def test_bench_tasks_are_reminded_while_open(lab, technician, mailoutbox):
    stage_run = stage_run_due(lab, NOW + 48 * H, assignee=technician)  # not yet owed itself
    TaskOccurrenceFactory(stage_run=stage_run, due_at=NOW - 10 * timedelta(minutes=1))
    TaskOccurrenceFactory(
        stage_run=stage_run,
        due_at=NOW - 20 * timedelta(minutes=1),
        task=stage_run.stage.tasks.create(key="feed", name="Feed", every=24 * H),
        done_at=NOW - 15 * timedelta(minutes=1),
    )

    sweep_and_send(NOW)

    assert rows() == [("due", "tech-a", "sent")]
    assert mailoutbox[0].subject == (
        f"[protocol_tracker] Due now: Media change (stage Expansion), run {stage_run.run.code}"
    )


def test_an_inactive_assignee_gets_nothing(lab, technician, mailoutbox):
    stage_run_due(lab, NOW + H, assignee=technician)
    technician.is_active = False
    technician.save(update_fields=["is_active"])

    sweep_and_send(NOW)

    assert rows() == [("due_soon", "tech-a", "cancelled")]
    assert mailoutbox == []


def test_the_sweep_costs_the_same_queries_for_more_due_work(
    lab, technician, reviewer, django_assert_num_queries
):
    # 16: the 15 of stage and task reminders, and the read of equipment falling due.
    for _ in range(3):
        stage_run_due(lab, NOW + H, assignee=technician)
    with django_assert_num_queries(16):
        reminders_sweep(now=NOW)
    for _ in range(30):
        stage_run_due(lab, NOW + 2 * H)
    with django_assert_num_queries(16):
        reminders_sweep(now=NOW)


def test_a_lost_enqueue_is_enqueued_again_by_a_later_sweep(lab, technician):
    stage_run_due(lab, NOW + H, assignee=technician)

    first = reminders_sweep(now=NOW).notification_ids
    soon = reminders_sweep(now=NOW + timedelta(minutes=5)).notification_ids
    later = reminders_sweep(now=NOW + timedelta(minutes=16)).notification_ids

    assert len(first) == 1
    assert (soon, later) == ([], first)


def test_a_send_interrupted_by_a_lost_worker_is_marked_failed_not_resent(
    lab, technician, mailoutbox
):
    stage_run_due(lab, NOW + H, assignee=technician)
    [pk] = reminders_sweep(now=NOW).notification_ids
    Notification.objects.filter(pk=pk).update(status=NotificationStatus.SENDING, claimed_at=NOW)

    result = reminders_sweep(now=NOW + timedelta(minutes=11))

    assert result.abandoned == 1
    assert notification_send(notification_id=pk) is None
    assert list(Notification.objects.values_list("status", flat=True)) == ["failed"]
    assert mailoutbox == []


def test_another_labs_members_never_get_this_labs_reminders(
    lab, other_lab, technician, other_technician
):
    outsider = UserFactory(username="outsider")
    MembershipFactory(user=outsider, lab=LabFactory(slug="lab-c", name="Lab C"))
    stage_run_due(other_lab, NOW + H)

    sweep_and_send(NOW)

    assert rows() == [("due_soon", "tech-b", "sent")]
    assert timezone.is_aware(Notification.objects.get().due_at)


@pytest.mark.parametrize(
    ("run_status", "expected"),
    [
        (RunStatus.RELEASED, [("due_soon", "tech-a", "sent")]),  # transplant, follow-up
        (RunStatus.ON_HOLD, []),
        (RunStatus.REJECTED, []),
    ],
)
def test_post_release_work_of_a_released_run_is_reminded(lab, technician, run_status, expected):
    stage_run = stage_run_due(lab, NOW + 10 * H, assignee=technician, name="Transplant")
    type(stage_run.run).objects.filter(pk=stage_run.run_id).update(status=run_status)

    sweep_and_send(NOW)

    assert rows() == expected
