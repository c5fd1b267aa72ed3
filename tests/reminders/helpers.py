"""Run the sweep and the sends in this process, at a given time (no broker involved)."""

from __future__ import annotations

from datetime import datetime

import time_machine

from protocol_tracker.reminders.models import Notification
from protocol_tracker.reminders.services import (
    SweepResult,
    digests_sweep,
    notification_send,
    reminders_sweep,
)


def send_all(ids) -> None:
    for pk in ids:
        notification_send(notification_id=pk)


def sweep_and_send(now: datetime, *, send: bool = True) -> SweepResult:
    with time_machine.travel(now, tick=False):
        result = reminders_sweep(now=now)
        if send:
            send_all(result.notification_ids)
    return result


def digest_and_send(now: datetime) -> SweepResult:
    with time_machine.travel(now, tick=False):
        result = digests_sweep(now=now)
        send_all(result.notification_ids)
    return result


def rows(**filters) -> list[tuple]:
    """(kind, recipient username, status) of the notifications, in id order."""
    return list(
        Notification.objects.filter(**filters)
        .order_by("id")
        .values_list("kind", "recipient__username", "status")
    )
