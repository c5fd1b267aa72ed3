"""Sending one notification: its email, the recipient's choices, SMTP failures, failed sends."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from protocol_tracker.core.errors import InvalidTransition, NotPermitted
from protocol_tracker.reminders.models import Notification, NotificationPreference
from protocol_tracker.reminders.services import (
    PermanentSendError,
    notification_retry,
    notification_send,
    reminders_sweep,
)
from tests.factories import H, stage_run_due

NOW = datetime(2026, 5, 4, 2, 0, tzinfo=UTC)
pytestmark = pytest.mark.django_db


@pytest.fixture
def queued(lab, technician):
    """One due-soon notification for the technician, claimed for enqueueing, not yet sent."""
    stage_run = stage_run_due(lab, NOW + 10 * H, assignee=technician)
    [pk] = reminders_sweep(now=NOW).notification_ids
    return stage_run, pk


@pytest.fixture(autouse=True)
def _clock():
    with time_machine.travel(NOW + timedelta(minutes=1), tick=False):
        yield


def test_the_email_has_text_and_html_and_names_only_codes(queued, mailoutbox):
    stage_run, pk = queued
    run = stage_run.run

    notification = notification_send(notification_id=pk)

    assert (notification.status, notification.emailed, notification.attempts) == ("sent", True, 1)
    email = mailoutbox[0]
    assert email.body == (
        f"Expansion for run {run.code} (donor {run.donor.code}) is due soon, at 2026-05-04 "
        "20:00 CST.\n\n"
        f"Run: {run.code}\nDonor: {run.donor.code}\nStage: Expansion\n"
        "Due: 2026-05-04 20:00 CST\n\n"
        "-- \nAn automatic message from protocol_tracker (Lab A). Choose which emails you "
        "receive in your notification preferences.\n"
    )
    [(html, mimetype)] = email.alternatives
    assert mimetype == "text/html"
    assert '<html lang="en">' in html
    assert f'<td style="padding: 2px 0;">Donor: {run.donor.code}</td>' in html
    assert email.extra_headers["Message-ID"] == f"<notification-{pk}@protocol-tracker>"
    assert "tech-a" not in email.body


def test_the_email_is_in_the_recipients_language(queued, technician, mailoutbox):
    stage_run, pk = queued
    run = stage_run.run
    NotificationPreference.objects.create(user=technician, language="zh-hans")

    notification_send(notification_id=pk)

    email = mailoutbox[0]
    assert email.subject == f"[protocol_tracker] 即将到期：Expansion，批次 {run.code}"
    assert email.body.startswith(
        f"批次 {run.code}（供者 {run.donor.code}）的 Expansion 即将到期，到期时间 "
        "2026-05-04 20:00 CST。\n"
    )
    [(html, _mimetype)] = email.alternatives
    assert '<html lang="zh-hans">' in html


def test_email_off_for_a_kind_keeps_it_in_app_only(queued, technician, mailoutbox):
    _stage_run, pk = queued
    NotificationPreference.objects.create(user=technician, email_due_soon=False)

    notification = notification_send(notification_id=pk)

    assert (notification.status, notification.emailed) == ("sent", False)
    assert mailoutbox == []


def test_a_second_send_of_the_same_row_sends_nothing(queued, mailoutbox):
    _stage_run, pk = queued

    first = notification_send(notification_id=pk)
    second = notification_send(notification_id=pk)

    assert (first.status, second, len(mailoutbox)) == ("sent", None, 1)


def test_smtp_refusing_then_accepting_is_retried_and_sent_once(queued, smtp_settings):
    _stage_run, pk = queued
    smtp_settings.refuse = 1

    with pytest.raises(Exception) as refused:
        notification_send(notification_id=pk, final_attempt=False)
    after_refusal = Notification.objects.values_list("status", "attempts", "last_error").get()
    notification_send(notification_id=pk, final_attempt=False)

    assert getattr(refused.value, "smtp_code", None) == 451
    assert after_refusal == ("pending", 1, "SMTPDataError: (451, b'4.3.0 Try again later')")
    assert Notification.objects.values_list("status", "attempts", "last_error").get() == (
        "sent",
        2,
        "",
    )
    assert len(smtp_settings.messages) == 1
    assert smtp_settings.messages[0]["Message-ID"] == f"<notification-{pk}@protocol-tracker>"


def test_the_last_failed_attempt_marks_it_failed(queued, smtp_settings):
    _stage_run, pk = queued
    smtp_settings.refuse = 1

    with pytest.raises(PermanentSendError):
        notification_send(notification_id=pk, final_attempt=True)

    assert Notification.objects.values_list("status", "attempts").get() == ("failed", 1)
    assert smtp_settings.messages == []


def test_smtp_down_is_a_transient_error(queued, settings):
    _stage_run, pk = queued
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 9, 2

    with pytest.raises(ConnectionRefusedError):
        notification_send(notification_id=pk, final_attempt=False)

    status, error = Notification.objects.values_list("status", "last_error").get()
    assert (status, error.startswith("ConnectionRefusedError")) == ("pending", True)


def test_failed_sends_are_visible_to_the_labs_admins_only(queued, client, lab_admin, other_lab):
    from tests.factories import MembershipFactory, UserFactory

    _stage_run, pk = queued
    Notification.objects.filter(pk=pk).update(status="failed", last_error="SMTP down for good")
    outsider = UserFactory(username="admin-b", is_staff=True)
    MembershipFactory(user=outsider, lab=other_lab, role="lab_admin")

    client.force_login(lab_admin)
    mine = client.get("/admin/reminders/notification/?status__exact=failed")
    client.force_login(outsider)
    theirs = client.get("/admin/reminders/notification/?status__exact=failed")

    assert mine.status_code == 200
    assert "SMTP down for good" in mine.content.decode()
    assert theirs.status_code == 200
    assert "SMTP down for good" not in theirs.content.decode()


def test_a_lab_admin_may_retry_a_failed_send(queued, lab_admin, technician, mailoutbox):
    _stage_run, pk = queued
    Notification.objects.filter(pk=pk).update(status="failed", attempts=6)
    notification = Notification.objects.get(pk=pk)

    with pytest.raises(NotPermitted):
        notification_retry(notification=notification, actor=technician)
    notification_retry(notification=notification, actor=lab_admin)
    sent = notification_send(notification_id=pk)

    assert (sent.status, sent.attempts, len(mailoutbox)) == ("sent", 1, 1)
    with pytest.raises(InvalidTransition):
        notification_retry(notification=sent, actor=lab_admin)
