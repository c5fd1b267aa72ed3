"""The sweep: what is owed now becomes notification rows (and webhook deliveries), claimed and
enqueued once each. See the package docstring for how "exactly once" is built."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Max

from labs.models import Lab, Role
from protocol_tracker.protocols.models import StageTemplate
from protocol_tracker.reminders.models import (
    DeliveryStatus,
    Notification,
    NotificationKind,
    NotificationObject,
    NotificationStatus,
    WebhookDelivery,
    WebhookEvent,
)
from protocol_tracker.reminders.schedule import CATCH_UP, Timing
from protocol_tracker.reminders.selectors import members_by_lab
from protocol_tracker.reminders.services.claims import (
    insert_missing,
    notifications_enqueue_pending,
    webhook_deliveries_enqueue_pending,
)
from protocol_tracker.reminders.services.equipment_due import equipment_due_rows
from protocol_tracker.reminders.services.webhooks import DeliveryDraft, webhook_deliveries_create
from protocol_tracker.runs.models import (
    OPEN_STAGE_STATUSES,
    WORKING_RUN_STATUSES,
    StageRun,
    TaskOccurrence,
)

logger = logging.getLogger(__name__)

# A row in ``sending`` this long has outlived its task's hard time limit: its worker died.
SENDING_LEASE = timedelta(minutes=10)


@dataclass
class SweepResult:
    created: int = 0
    notification_ids: list[int] = field(default_factory=list)
    delivery_ids: list[int] = field(default_factory=list)
    abandoned: int = 0


def _max_lead() -> timedelta:
    leads = [
        Lab.objects.aggregate(m=Max("reminder_lead"))["m"],
        StageTemplate.objects.aggregate(m=Max("reminder_lead"))["m"],
    ]
    return max((lead for lead in leads if lead is not None), default=timedelta(0))


@dataclass(frozen=True)
class _Owed:
    object_type: str
    object_id: int
    lab_id: int
    run_id: int
    timing: Timing
    assignee_id: int | None
    context: dict


def _owed_work(now: datetime) -> list[_Owed]:
    """Open stage runs and bench tasks of active runs whose due time is within reach of ``now``."""
    horizon_end = now + _max_lead()
    horizon_start = now - CATCH_UP
    stage_rows = (
        StageRun.objects.filter(
            status__in=OPEN_STAGE_STATUSES,
            due_at__lte=horizon_end,
            due_at__gte=horizon_start,
            run__status__in=WORKING_RUN_STATUSES,
        )
        .order_by("due_at", "id")
        .values_list(
            "id",
            "due_at",
            "assignee_id",
            "run_id",
            "run__assignee_id",
            "run__lab_id",
            "run__code",
            "run__donor__code",
            "stage__name",
            "stage__reminder_lead",
            "stage__window_late",
        )
    )
    task_rows = (
        TaskOccurrence.objects.filter(
            done_at__isnull=True,
            skipped=False,
            due_at__lte=horizon_end,
            due_at__gte=horizon_start,
            stage_run__status__in=OPEN_STAGE_STATUSES,
            stage_run__run__status__in=WORKING_RUN_STATUSES,
        )
        .order_by("due_at", "id")
        .values_list(
            "id",
            "due_at",
            "stage_run__assignee_id",
            "stage_run__run_id",
            "stage_run__run__assignee_id",
            "stage_run__run__lab_id",
            "stage_run__run__code",
            "stage_run__run__donor__code",
            "stage_run__stage__name",
            "stage_run__stage__reminder_lead",
            "task__name",
        )
    )
    stage_list, task_list = list(stage_rows), list(task_rows)
    lab_ids = {row[5] for row in stage_list} | {row[5] for row in task_list}
    labs = {lab.pk: lab for lab in Lab.objects.filter(pk__in=lab_ids)}
    owed: list[_Owed] = []
    for (
        pk,
        due_at,
        assignee,
        run_id,
        run_assignee,
        lab_id,
        run_code,
        donor,
        stage,
        lead,
        window_late,
    ) in stage_list:
        lab = labs[lab_id]
        owed.append(
            _Owed(
                NotificationObject.STAGE_RUN,
                pk,
                lab_id,
                run_id,
                Timing(
                    due_at,
                    lead if lead is not None else lab.reminder_lead,
                    window_late,
                    lab.escalation_delay,
                ),
                assignee or run_assignee,
                {"run": run_code, "donor": donor, "stage": stage},
            )
        )
    for (
        pk,
        due_at,
        assignee,
        run_id,
        run_assignee,
        lab_id,
        run_code,
        donor,
        stage,
        lead,
        task,
    ) in task_list:
        lab = labs[lab_id]
        owed.append(
            _Owed(
                NotificationObject.TASK_OCCURRENCE,
                pk,
                lab_id,
                run_id,
                Timing(
                    due_at,
                    lead if lead is not None else lab.reminder_lead,
                    timedelta(0),
                    lab.escalation_delay,
                ),
                assignee or run_assignee,
                {"run": run_code, "donor": donor, "stage": stage, "task": task},
            )
        )
    return owed


@transaction.atomic
def reminders_sweep(*, now: datetime) -> SweepResult:
    """Turn the work owed a reminder at ``now`` into notification rows and enqueue their sends.

    Driven by the state of the database only: run it at any time, as often as you like, after any
    outage; it creates what is owed and missing, and nothing twice.
    """
    owed = _owed_work(now)
    members = members_by_lab({item.lab_id for item in owed})
    rows: list[Notification] = []
    drafts: list[DeliveryDraft] = []
    for item in owed:
        phase = item.timing.phase(now)
        if phase is None:
            continue
        due_at = item.timing.due_at
        recipients = (
            [item.assignee_id]
            if item.assignee_id
            else members.get((item.lab_id, Role.TECHNICIAN), [])
        )
        kinds = [(phase, recipients)]
        if item.timing.escalated(now):
            kinds.append(
                (NotificationKind.ESCALATION, members.get((item.lab_id, Role.REVIEWER), []))
            )
        for kind, users in kinds:
            rows.extend(
                Notification(
                    lab_id=item.lab_id,
                    recipient_id=user_id,
                    kind=kind,
                    object_type=item.object_type,
                    object_id=item.object_id,
                    due_at=due_at,
                    run_id=item.run_id,
                    context=item.context,
                    created_at=now,
                )
                for user_id in users
            )
        if item.object_type == NotificationObject.STAGE_RUN and phase in (
            NotificationKind.DUE,
            NotificationKind.OVERDUE,
        ):
            event = (
                WebhookEvent.STAGE_DUE
                if phase == NotificationKind.DUE
                else WebhookEvent.STAGE_OVERDUE
            )
            drafts.append(
                DeliveryDraft(
                    lab_id=item.lab_id,
                    event=event,
                    event_id=f"{event}:{item.object_id}:{due_at.isoformat()}",
                    data={
                        "stage_run": item.object_id,
                        "due_at": due_at.isoformat(),
                        **item.context,
                    },
                )
            )
    rows += equipment_due_rows(now)
    result = SweepResult(created=insert_missing(rows))
    webhook_deliveries_create(drafts=drafts, now=now)
    result.abandoned = _abandon_stale_sends(now)
    result.notification_ids = notifications_enqueue_pending(now=now)
    result.delivery_ids = webhook_deliveries_enqueue_pending(now=now)
    return result


_LOST_WORKER = "The worker stopped while sending; delivery is unknown, so it was not resent."


def _abandon_stale_sends(now: datetime) -> int:
    abandoned = Notification.objects.filter(
        status=NotificationStatus.SENDING, claimed_at__lt=now - SENDING_LEASE
    ).update(status=NotificationStatus.FAILED, last_error=_LOST_WORKER)
    abandoned += WebhookDelivery.objects.filter(
        status=DeliveryStatus.SENDING, claimed_at__lt=now - SENDING_LEASE
    ).update(status=DeliveryStatus.FAILED, last_error=_LOST_WORKER)
    if abandoned:
        logger.warning("%d send(s) abandoned by a lost worker were marked failed", abandoned)
    return abandoned
