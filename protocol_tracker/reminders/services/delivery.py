"""Sending one notification (claim, re-check, email, record) and retrying a failed one."""

from __future__ import annotations

import smtplib
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from labs.models import CAN_ADMINISTER
from labs.selectors import has_role
from protocol_tracker.audit.services import audit_record
from protocol_tracker.core.actors import Person
from protocol_tracker.core.errors import InvalidTransition, NotPermitted
from protocol_tracker.reminders.models import (
    WORK_KINDS,
    Notification,
    NotificationKind,
    NotificationObject,
    NotificationStatus,
)
from protocol_tracker.reminders.rendering import email_message
from protocol_tracker.reminders.schedule import Timing
from protocol_tracker.reminders.selectors import digest_for_lab, notification_preference_for
from protocol_tracker.reminders.services.claims import notifications_enqueue_pending
from protocol_tracker.reminders.services.equipment_due import (
    equipment_kinds,
    equipment_stale_reason,
)
from protocol_tracker.runs.models import WORKING_RUN_STATUSES, StageRun, TaskOccurrence

# --- sending -------------------------------------------------------------------------------


class PermanentSendError(Exception):
    """The mail server refused for good (5xx): retrying would not help."""


TRANSIENT_SEND_ERRORS: tuple[type[BaseException], ...] = (smtplib.SMTPException, OSError)


def _is_permanent(exc: BaseException) -> bool:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _msg in exc.recipients.values())
    if isinstance(exc, smtplib.SMTPResponseException):
        return exc.smtp_code >= 500
    return False


def _stale_reason(notification: Notification, now: datetime) -> str:
    """Why a reminder about work is no longer owed ('' when it still is)."""
    if notification.kind not in WORK_KINDS:
        return ""
    if notification.object_type in equipment_kinds():
        return equipment_stale_reason(notification, now)
    if notification.object_type == NotificationObject.STAGE_RUN:
        stage_run = (
            StageRun.objects.select_related("run__lab", "stage")
            .filter(pk=notification.object_id)
            .first()
        )
        if (
            stage_run is None
            or not stage_run.is_open
            or stage_run.run.status not in WORKING_RUN_STATUSES
        ):
            return "The stage run is no longer open."
        lead, window_late = stage_run.stage.reminder_lead, stage_run.stage.window_late
        lab, due_at = stage_run.run.lab, stage_run.due_at
    else:
        task = (
            TaskOccurrence.objects.select_related("stage_run__run__lab", "stage_run__stage")
            .filter(pk=notification.object_id)
            .first()
        )
        if (
            task is None
            or not task.is_open
            or not task.stage_run.is_open
            or task.stage_run.run.status not in WORKING_RUN_STATUSES
        ):
            return "The bench task is no longer open."
        lead, window_late = task.stage_run.stage.reminder_lead, timedelta(0)
        lab, due_at = task.stage_run.run.lab, task.due_at
    if due_at != notification.due_at:
        return "The due time was re-planned."
    timing = Timing(
        due_at,
        lead if lead is not None else lab.reminder_lead,
        window_late,
        lab.escalation_delay,
    )
    if not timing.is_current(notification.kind, now):
        return "Superseded by a later reminder."
    return ""


def _finish(pk: int, *, status: str, **fields) -> None:
    Notification.objects.filter(pk=pk, status=NotificationStatus.SENDING).update(
        status=status, **fields
    )


def notification_send(*, notification_id: int, final_attempt: bool = True) -> Notification | None:
    """Deliver one notification: claim it, re-check it is still owed, email it, record the outcome.

    Returns None when another worker has it or it was already handled. Not one transaction on
    purpose: the claim must be visible to other workers before SMTP is touched, and no database
    transaction is held open across network I/O. On a transient error the row goes back to
    pending (for the task's retry) or, on the last attempt, to failed, and the error is re-raised.
    """
    now = timezone.now()
    claimed = Notification.objects.filter(
        pk=notification_id, status=NotificationStatus.PENDING
    ).update(status=NotificationStatus.SENDING, attempts=F("attempts") + 1, claimed_at=now)
    if not claimed:
        return None
    notification = Notification.objects.select_related("lab", "recipient").get(pk=notification_id)
    try:
        reason = _stale_reason(notification, now)
        if not reason and not notification.recipient.is_active:
            reason = "The recipient's account is inactive."
        if reason:
            _finish(notification.pk, status=NotificationStatus.CANCELLED, last_error=reason)
            return _reload(notification)
        preference = notification_preference_for(notification.recipient)
        emailed = bool(preference.wants_email(notification.kind) and notification.recipient.email)
        if emailed:
            digest = (
                digest_for_lab(lab=notification.lab, now=now)
                if notification.kind == NotificationKind.DIGEST
                else None
            )
            message = email_message(notification, language=preference.language, digest=digest)
            message.send(fail_silently=False)
    except TRANSIENT_SEND_ERRORS as exc:
        error = f"{type(exc).__name__}: {exc}"[:2000]
        if final_attempt or _is_permanent(exc):
            _finish(notification.pk, status=NotificationStatus.FAILED, last_error=error)
            raise PermanentSendError(error) from exc
        _finish(
            notification.pk,
            status=NotificationStatus.PENDING,
            last_error=error,
            enqueued_at=timezone.now(),
        )
        raise
    except Exception as exc:
        _finish(
            notification.pk,
            status=NotificationStatus.FAILED,
            last_error=f"{type(exc).__name__}: {exc}"[:2000],
        )
        raise
    _finish(
        notification.pk,
        status=NotificationStatus.SENT,
        sent_at=timezone.now(),
        emailed=emailed,
        last_error="",
    )
    return _reload(notification)


def _reload(notification: Notification) -> Notification:
    notification.refresh_from_db()
    return notification


@transaction.atomic
def notification_retry(*, notification: Notification, actor: Person) -> Notification:
    """Send a failed notification again (a lab admin's decision, audited)."""
    if not (
        getattr(actor, "is_superuser", False)
        or has_role(actor, notification.lab_id, CAN_ADMINISTER)
    ):
        raise NotPermitted("Only a lab admin may retry a failed notification.")
    if notification.status != NotificationStatus.FAILED:
        raise InvalidTransition("Only a failed notification can be retried.")
    now = timezone.now()
    Notification.objects.filter(pk=notification.pk, status=NotificationStatus.FAILED).update(
        status=NotificationStatus.PENDING, attempts=0, enqueued_at=None
    )
    audit_record(
        actor=actor,
        action="notification.retry",
        obj=notification,
        before={"status": "failed", "last_error": notification.last_error},
        after={"status": "pending"},
    )
    notifications_enqueue_pending(now=now, ids=[notification.pk])
    return _reload(notification)
