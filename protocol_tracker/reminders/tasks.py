"""Celery tasks for reminders: thin interfaces over ``services``.

Stable names, id-only arguments, time limits. The send tasks retry only transient failures
(SMTP and connection errors, failed webhook attempts) with exponential backoff; the service
marks the row failed on the last attempt, so nothing is silently dropped. Everything is
idempotent on redelivery (``acks_late`` is on): the services claim their row first.
"""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from protocol_tracker.reminders import services

logger = logging.getLogger(__name__)

MAX_RETRIES = 5
_BACKOFF_CAP_SECONDS = 600


def backoff_seconds(retries: int) -> int:
    """Seconds before retry number ``retries + 1``: the base doubled each time, capped."""
    return min(_BACKOFF_CAP_SECONDS, settings.REMINDER_RETRY_SECONDS * 2**retries)


@shared_task(name="reminders.sweep", time_limit=120, soft_time_limit=100, ignore_result=True)
def reminders_sweep_task() -> dict:
    now = timezone.now()
    result = services.reminders_sweep(now=now)
    caught_up = services.qc_failures_catch_up(now=now)
    recalls = services.lot_recalls_catch_up(now=now)
    return {
        "qc_failures_caught_up": len(caught_up),
        "recalls_caught_up": len(recalls),
        "created": result.created,
        "enqueued": len(result.notification_ids),
        "webhooks": len(result.delivery_ids),
        "abandoned": result.abandoned,
    }


@shared_task(name="reminders.digests", time_limit=120, soft_time_limit=100, ignore_result=True)
def digests_sweep_task() -> dict:
    result = services.digests_sweep(now=timezone.now())
    return {"created": result.created, "enqueued": len(result.notification_ids)}


@shared_task(
    bind=True,
    name="reminders.send",
    max_retries=MAX_RETRIES,
    time_limit=60,
    soft_time_limit=45,
    ignore_result=True,
)
def notification_send_task(self, notification_id: int) -> None:
    final = self.request.retries >= self.max_retries
    try:
        services.notification_send(notification_id=notification_id, final_attempt=final)
    except services.PermanentSendError as exc:
        logger.error("notification %s failed for good: %s", notification_id, exc)
    except services.TRANSIENT_SEND_ERRORS as exc:
        logger.warning("notification %s: attempt failed (%s); retrying", notification_id, exc)
        raise self.retry(exc=exc, countdown=backoff_seconds(self.request.retries)) from None


@shared_task(
    bind=True,
    name="reminders.webhook",
    max_retries=MAX_RETRIES,
    time_limit=60,
    soft_time_limit=45,
    ignore_result=True,
)
def webhook_deliver_task(self, delivery_id: int) -> None:
    final = self.request.retries >= self.max_retries
    try:
        services.webhook_deliver(delivery_id=delivery_id, final_attempt=final)
    except services.WebhookDeliveryFailed as exc:
        raise self.retry(exc=exc, countdown=backoff_seconds(self.request.retries)) from None


@shared_task(name="reminders.qc_failed", time_limit=60, soft_time_limit=45, ignore_result=True)
def qc_failed_notify(result_id: int) -> int:
    """Notify the lab's reviewers at once of an out-of-spec result (and emit ``qc.failed``)."""
    return len(services.qc_failure_notify(result_id=result_id))


@shared_task(
    name="reminders.deviation_opened", time_limit=60, soft_time_limit=45, ignore_result=True
)
def deviation_opened_notify(deviation_id: int) -> int:
    return services.deviation_opened_emit(deviation_id=deviation_id)


@shared_task(name="reminders.run_released", time_limit=60, soft_time_limit=45, ignore_result=True)
def run_released_notify(run_id: int) -> int:
    return services.run_released_emit(run_id=run_id)


@shared_task(name="reminders.lot_recalled", time_limit=60, soft_time_limit=45, ignore_result=True)
def lot_recalled_notify(lot_id: int) -> int:
    """Notify the lab's reviewers at once that a material lot was recalled."""
    return len(services.lot_recall_notify(lot_id=lot_id))
