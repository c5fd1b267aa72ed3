"""A recalled material lot tells the lab's reviewers at once (which runs it reached), and a
catch-up in the sweep makes the alerts whose immediate path never ran (broker down at commit)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from labs.models import Role
from protocol_tracker.materials.models import LotStatus, MaterialLot
from protocol_tracker.reminders.models import Notification, NotificationKind, NotificationObject
from protocol_tracker.reminders.selectors import members_by_lab
from protocol_tracker.reminders.services.claims import insert_missing, notifications_enqueue_pending
from protocol_tracker.usage.models import LotConsumption

RECALL_CATCH_UP = timedelta(hours=24)
RUNS_NAMED = 20


@transaction.atomic
def lot_recall_notify(*, lot_id: int) -> list[Notification]:
    """Tell ``lot_id``'s lab's reviewers that it was recalled and which runs used it (once per
    reviewer: the notification's unique key is the lot and its recall time)."""
    lot = MaterialLot.objects.select_related("material", "lab").filter(pk=lot_id).first()
    if lot is None or lot.status != LotStatus.RECALLED or lot.status_changed_at is None:
        return []
    runs = list(
        LotConsumption.objects.filter(lot=lot)
        .order_by("run__code")
        .values_list("run__code", flat=True)
        .distinct()
    )
    now = timezone.now()
    context = {
        "material": lot.material.name,
        "lot": lot.lot_number,
        "reason": lot.status_reason[:300],
        "runs": runs[:RUNS_NAMED],
        "run_count": len(runs),
    }
    reviewers = members_by_lab([lot.lab_id]).get((lot.lab_id, Role.REVIEWER), [])
    insert_missing(
        [
            Notification(
                lab_id=lot.lab_id,
                recipient_id=user_id,
                kind=NotificationKind.LOT_RECALLED,
                object_type=NotificationObject.MATERIAL_LOT,
                object_id=lot.pk,
                due_at=lot.status_changed_at,
                context=context,
                created_at=now,
            )
            for user_id in reviewers
        ]
    )
    created = list(
        Notification.objects.filter(
            object_type=NotificationObject.MATERIAL_LOT,
            object_id=lot.pk,
            kind=NotificationKind.LOT_RECALLED,
        ).order_by("pk")
    )
    notifications_enqueue_pending(now=now, ids=[n.pk for n in created])
    return created


def lot_recalls_catch_up(*, now: datetime) -> list[int]:
    """Alert for lots recalled in the last 24 hours that have no alert yet (the immediate path
    never ran); ``lot_recall_notify`` is idempotent."""
    alerted = Notification.objects.filter(
        kind=NotificationKind.LOT_RECALLED,
        object_type=NotificationObject.MATERIAL_LOT,
        object_id=OuterRef("pk"),
    )
    lot_ids = list(
        MaterialLot.objects.filter(
            status=LotStatus.RECALLED,
            status_changed_at__gte=now - RECALL_CATCH_UP,
            status_changed_at__lte=now - timedelta(minutes=1),
        )
        .exclude(Exists(alerted))
        .values_list("pk", flat=True)
    )
    for lot_id in lot_ids:
        lot_recall_notify(lot_id=lot_id)
    return lot_ids
