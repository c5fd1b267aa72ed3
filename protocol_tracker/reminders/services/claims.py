"""Claims and dispatch: rows owed are inserted once, claimed for enqueueing once, and their send
tasks enqueued by name after commit on one broker connection."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta

from celery import current_app
from django.db import models, transaction

from protocol_tracker.reminders.models import (
    DeliveryStatus,
    Notification,
    NotificationStatus,
    WebhookDelivery,
)

# The stable names of the send tasks (``reminders.tasks``): enqueued by name, never imported.
SEND_TASK = "reminders.send"
WEBHOOK_TASK = "reminders.webhook"

# A pending row whose send message was enqueued this long ago without being picked up is enqueued
# again (the message was lost). Longer than the longest retry backoff.
REENQUEUE_AFTER = timedelta(minutes=15)
ENQUEUE_BATCH = 5000
_CHUNK = 900


def _existing_keys(object_type: str, object_ids: Sequence[int]) -> set[tuple]:
    keys: set[tuple] = set()
    for start in range(0, len(object_ids), _CHUNK):
        chunk = object_ids[start : start + _CHUNK]
        keys.update(
            Notification.objects.filter(object_type=object_type, object_id__in=chunk).values_list(
                "object_id", "kind", "due_at", "recipient_id"
            )
        )
    return keys


def insert_missing(rows: list[Notification]) -> int:
    """Insert the rows whose (object, kind, due time, recipient) is not there yet."""
    by_type: dict[str, list[Notification]] = defaultdict(list)
    for row in rows:
        by_type[row.object_type].append(row)
    new: list[Notification] = []
    for object_type, typed in by_type.items():
        existing = _existing_keys(object_type, sorted({row.object_id for row in typed}))
        new.extend(
            row
            for row in typed
            if (row.object_id, row.kind, row.due_at, row.recipient_id) not in existing
        )
    # ignore_conflicts: a concurrent sweep may have inserted the same row since we looked.
    Notification.objects.bulk_create(new, ignore_conflicts=True, batch_size=1000)
    return len(new)


def claim_for_enqueue(
    model: type[Notification | WebhookDelivery],
    *,
    pending: str,
    now: datetime,
    ids: Sequence[int] | None = None,
) -> list[int]:
    """Mark pending rows as enqueued now and return their ids; two callers never get one row."""
    stale = models.Q(enqueued_at__isnull=True) | models.Q(enqueued_at__lt=now - REENQUEUE_AFTER)
    qs = model.objects.filter(stale, status=pending)
    if ids is not None:
        qs = qs.filter(pk__in=list(ids))
    claimed = list(
        qs.select_for_update(skip_locked=True)
        .order_by("pk")
        .values_list("pk", flat=True)[:ENQUEUE_BATCH]
    )
    if claimed:
        model.objects.filter(pk__in=claimed).update(enqueued_at=now)
    return claimed


def _send_each(task_name: str, ids: Sequence[int]) -> None:
    with current_app.producer_or_acquire() as producer:
        for pk in ids:
            # The reprs given: Celery's safe repr of the arguments is a quarter of the cost.
            current_app.send_task(
                task_name, args=(pk,), producer=producer, argsrepr=f"({pk},)", kwargsrepr="{}"
            )


def dispatch_on_commit(task_name: str, ids: Sequence[int]) -> None:
    """Enqueue task ``task_name`` with each id once the transaction commits, on one broker
    connection.

    Robust: if the broker is down the rows stay pending and a later sweep enqueues them again.
    """
    if not ids:
        return
    batch = tuple(ids)
    transaction.on_commit(lambda: _send_each(task_name, batch), robust=True)


def notifications_enqueue_pending(*, now: datetime, ids: Sequence[int] | None = None) -> list[int]:
    """Claim the pending notifications (of ``ids``, or all) and enqueue their sends on commit."""
    claimed = claim_for_enqueue(Notification, pending=NotificationStatus.PENDING, now=now, ids=ids)
    dispatch_on_commit(SEND_TASK, claimed)
    return claimed


def webhook_deliveries_enqueue_pending(*, now: datetime) -> list[int]:
    """Claim the pending webhook deliveries and enqueue their POSTs on commit."""
    claimed = claim_for_enqueue(WebhookDelivery, pending=DeliveryStatus.PENDING, now=now)
    dispatch_on_commit(WEBHOOK_TASK, claimed)
    return claimed
