"""The reviewers' daily digest: one row per reviewer per local date, at the lab's digest hour."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction

from labs.models import Lab, Role
from protocol_tracker.reminders.models import (
    Notification,
    NotificationKind,
    NotificationObject,
    NotificationPreference,
)
from protocol_tracker.reminders.schedule import digest_instants_owed
from protocol_tracker.reminders.selectors import members_by_lab
from protocol_tracker.reminders.services.claims import (
    insert_missing,
    notifications_enqueue_pending,
)
from protocol_tracker.reminders.services.sweep import SweepResult


@transaction.atomic
def digests_sweep(*, now: datetime) -> SweepResult:
    """Create each reviewer's daily digest once per local date, at the lab's local digest hour."""
    rows: list[Notification] = []
    lab_instants: list[tuple[Lab, datetime]] = []
    for lab in Lab.objects.order_by("pk"):
        lab_instants.extend(
            (lab, instant)
            for instant in digest_instants_owed(now=now, tz=lab.tz, hour=lab.digest_hour)
        )
    if lab_instants:
        members = members_by_lab({lab.pk for lab, _ in lab_instants})
        opted_out = set(
            NotificationPreference.objects.filter(digest=False).values_list("user_id", flat=True)
        )
        for lab, instant in lab_instants:
            local_date = instant.astimezone(lab.tz).date().isoformat()
            rows.extend(
                Notification(
                    lab_id=lab.pk,
                    recipient_id=user_id,
                    kind=NotificationKind.DIGEST,
                    object_type=NotificationObject.LAB,
                    object_id=lab.pk,
                    due_at=instant,
                    context={"lab": lab.name, "date": local_date},
                    created_at=now,
                )
                for user_id in members.get((lab.pk, Role.REVIEWER), [])
                if user_id not in opted_out
            )
    result = SweepResult(created=insert_missing(rows))
    result.notification_ids = notifications_enqueue_pending(now=now)
    return result
