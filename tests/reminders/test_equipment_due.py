"""Calibration and maintenance fall due through the reminder engine: due soon, due, overdue, once
each on the lab's clock, to the reviewers and lab admins; a new calibration moves the date and
the old reminders are no longer sent; the digest lists the equipment."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine

from protocol_tracker.equipment import services as equipment_services
from protocol_tracker.equipment.models import Equipment
from protocol_tracker.reminders.models import Notification
from protocol_tracker.reminders.services import digests_sweep
from tests.reminders.helpers import digest_and_send, send_all, sweep_and_send

pytestmark = pytest.mark.django_db


@pytest.fixture
def cabinet(lab, reviewer):
    piece = equipment_services.equipment_create(
        lab=lab,
        code="BSC-1",
        name="Cabinet",
        kind="biosafety_cabinet",
        calibration_interval_days=365,
        reminder_lead_days=7,
        actor=reviewer,
    )
    Equipment.objects.filter(pk=piece.pk).update(calibration_due=date(2026, 4, 10))
    piece.refresh_from_db()
    return piece


def _kinds():
    return list(
        Notification.objects.filter(object_type="calibration")
        .order_by("pk")
        .values_list("kind", "recipient__username", "status")
    )


def test_each_phase_is_sent_once_however_often_the_sweep_runs(
    cabinet, reviewer, lab_admin, technician, mailoutbox
):
    # The due date begins at 00:00 on 10 April in Shanghai: 16:00 UTC on the 9th.
    due = datetime(2026, 4, 9, 16, 0, tzinfo=UTC)
    moments = [
        due - timedelta(days=8),  # before the lead: nothing
        due - timedelta(days=7),  # due soon
        due - timedelta(days=3),  # still due soon: nothing new
        due,  # due
        due + timedelta(hours=20),  # still due
        due + timedelta(days=1),  # overdue
        due + timedelta(days=3),  # still overdue
    ]
    created = [sweep_and_send(moment).created for moment in moments]

    assert created == [0, 2, 0, 2, 0, 2, 0]
    assert _kinds() == [
        ("due_soon", "reviewer-a", "sent"),
        ("due_soon", "admin-a", "sent"),
        ("due", "reviewer-a", "sent"),
        ("due", "admin-a", "sent"),
        ("overdue", "reviewer-a", "sent"),
        ("overdue", "admin-a", "sent"),
    ]
    subjects = sorted({m.subject for m in mailoutbox})
    assert subjects == [
        "[protocol_tracker] Due soon: Calibration of Cabinet (BSC-1), on 2026-04-10",
        "[protocol_tracker] Due today: Calibration of Cabinet (BSC-1)",
        "[protocol_tracker] Overdue: Calibration of Cabinet (BSC-1), due 2026-04-10",
    ]


def test_a_new_calibration_moves_the_date_and_the_old_reminder_is_not_sent(
    cabinet, reviewer, technician, mailoutbox
):
    soon = datetime(2026, 4, 5, 1, 0, tzinfo=UTC)
    result = sweep_and_send(soon, send=False)
    assert result.created == 1
    with time_machine.travel(soon, tick=False):
        equipment_services.calibration_record_add(
            equipment=cabinet,
            performed_at=soon - timedelta(hours=1),
            performed_by="Vendor",
            passed=True,
            actor=technician,
        )
    with time_machine.travel(soon + timedelta(minutes=1), tick=False):
        send_all(result.notification_ids)

    [row] = Notification.objects.filter(object_type="calibration")
    assert (row.status, row.last_error) == (
        "cancelled",
        "The due date moved (a new calibration or maintenance was recorded).",
    )
    assert mailoutbox == []


def test_equipment_out_of_service_is_not_reminded(cabinet, reviewer):
    Equipment.objects.filter(pk=cabinet.pk).update(status="out_of_service")

    assert sweep_and_send(datetime(2026, 4, 9, 16, 0, tzinfo=UTC)).created == 0


def test_the_digest_lists_equipment_falling_due(cabinet, lab, reviewer, mailoutbox):
    seven_local = datetime(2026, 4, 4, 23, 0, tzinfo=UTC)  # 07:00 on 5 April in Shanghai

    digest_and_send(seven_local)

    body = mailoutbox[0].body
    assert "Equipment due for calibration or maintenance (1)\n" in body
    assert "- Cabinet (BSC-1): calibration due 2026-04-10, maintenance due -\n" in body
    assert digests_sweep(now=seven_local).created == 0
