"""Out-of-spec alerts: a failing QC result tells the lab's reviewers at once, and a catch-up in the
sweep makes the alerts whose immediate path never ran (broker down at commit)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from labs.models import Role
from protocol_tracker.qc.models import Deviation, DeviationKind, QCResult, Verdict
from protocol_tracker.reminders.models import (
    Notification,
    NotificationKind,
    NotificationObject,
    WebhookEvent,
)
from protocol_tracker.reminders.selectors import members_by_lab
from protocol_tracker.reminders.services.claims import (
    insert_missing,
    notifications_enqueue_pending,
)
from protocol_tracker.reminders.services.webhooks import DeliveryDraft, webhook_deliveries_create


@transaction.atomic
def qc_failure_notify(*, result_id: int) -> list[Notification]:
    """Tell the lab's reviewers at once that a QC result is out of spec (once per reviewer).

    Also used for a late failing result of a conditionally released run (the run is flagged).
    Emits the ``qc.failed`` webhook event.
    """
    result = (
        QCResult.objects.select_related("stage_run__run__donor", "stage_run__stage", "checkpoint")
        .filter(pk=result_id)
        .first()
    )
    if result is None or result.verdict != Verdict.FAIL:
        return []
    now = timezone.now()
    run = result.stage_run.run
    context = {
        "run": run.code,
        "donor": run.donor.code,
        "stage": result.stage_run.stage.name,
        "checkpoint": result.checkpoint.name,
        "value": result.display_value,
        "flagged": bool(run.flagged),
    }
    reviewers = members_by_lab([run.lab_id]).get((run.lab_id, Role.REVIEWER), [])
    rows = [
        Notification(
            lab_id=run.lab_id,
            recipient_id=user_id,
            kind=NotificationKind.QC_FAILED,
            object_type=NotificationObject.QC_RESULT,
            object_id=result.pk,
            due_at=result.recorded_at,
            run=run,
            context=context,
            created_at=now,
        )
        for user_id in reviewers
    ]
    insert_missing(rows)
    webhook_deliveries_create(
        drafts=[
            DeliveryDraft(
                lab_id=run.lab_id,
                event=WebhookEvent.QC_FAILED,
                event_id=f"qc.failed:{result.pk}",
                data={
                    "qc_result": result.pk,
                    "stage_run": result.stage_run_id,
                    "measured_at": result.measured_at.isoformat(),
                    **context,
                },
            )
        ],
        now=now,
        enqueue=True,
    )
    created = list(
        Notification.objects.filter(
            object_type=NotificationObject.QC_RESULT,
            object_id=result.pk,
            kind=NotificationKind.QC_FAILED,
        ).order_by("pk")
    )
    notifications_enqueue_pending(now=now, ids=[n.pk for n in created])
    return created


QC_FAILURE_CATCH_UP = timedelta(hours=24)


def qc_failures_catch_up(*, now: datetime) -> list[int]:
    """Alert for out-of-spec results whose immediate alert never ran (broker down at commit).

    State-driven like the sweep: every out-of-spec or late-result deviation opened in the last
    24 hours must have its ``qc_failed`` notifications; where none exist, they are made now.
    ``qc_failure_notify`` is idempotent, so a race with the immediate path sends nothing twice.
    """
    alerted = Notification.objects.filter(
        kind=NotificationKind.QC_FAILED,
        object_type=NotificationObject.QC_RESULT,
        object_id=OuterRef("qc_result_id"),
    )
    result_ids = list(
        Deviation.objects.filter(
            kind__in=[DeviationKind.OUT_OF_SPEC, DeviationKind.LATE_RESULT],
            qc_result__isnull=False,
            opened_at__gte=now - QC_FAILURE_CATCH_UP,
            # Leave the immediate path a minute to do its work first.
            opened_at__lte=now - timedelta(minutes=1),
        )
        .exclude(Exists(alerted))
        .values_list("qc_result_id", flat=True)
        .distinct()
    )
    for result_id in result_ids:
        qc_failure_notify(result_id=result_id)
    return result_ids
