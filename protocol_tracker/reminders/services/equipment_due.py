"""Calibration and maintenance falling due: the same engine as stage and task reminders.

A piece of in-service equipment whose calibration (or maintenance) is due on day D is owed, on
the lab's clock: ``due_soon`` from D minus its lead days, ``due`` from the start of D (when
equipment that needs calibration stops being usable) and ``overdue`` from the start of D + 1.
Each is a notification row unique on (object, kind, due time, recipient): sent once each, however
often the sweep runs, and caught up after an outage with the phase that fits the clock. A new
calibration moves D, so the reminders of the old date are no longer owed (cancelled at send).
Recipients: the lab's reviewers and lab admins, who keep the register.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, time, timedelta

from django.db.models import Q

from labs.models import Lab, Membership, Role
from protocol_tracker.equipment.models import Equipment, EquipmentStatus
from protocol_tracker.reminders.models import Notification, NotificationObject
from protocol_tracker.reminders.schedule import CATCH_UP, Timing

# Overdue from the day after the due date; equipment reminders never escalate (they already go to
# the people who keep the register).
_WINDOW_LATE = timedelta(days=1)
_NO_ESCALATION = timedelta(days=36500)
MAX_LEAD_DAYS = 365
_FIELDS: dict[str, str] = {
    NotificationObject.CALIBRATION: "calibration_due",
    NotificationObject.MAINTENANCE: "maintenance_due",
}


def due_instant(lab: Lab, day) -> datetime:
    """The start of ``day`` on ``lab``'s clock, in UTC (part of the notification's key)."""
    return datetime.combine(day, time(0), tzinfo=lab.tz).astimezone(UTC)


def equipment_timing(equipment: Equipment, object_type: str) -> Timing | None:
    day = getattr(equipment, _FIELDS[object_type])
    if day is None:
        return None
    return Timing(
        due_instant(equipment.lab, day),
        timedelta(days=equipment.reminder_lead_days),
        _WINDOW_LATE,
        _NO_ESCALATION,
    )


def _keepers(lab_ids: set[int]) -> dict[int, list[int]]:
    keepers: dict[int, list[int]] = defaultdict(list)
    for lab_id, user_id in (
        Membership.objects.filter(
            lab_id__in=list(lab_ids),
            role__in=[Role.REVIEWER, Role.LAB_ADMIN],
            user__is_active=True,
        )
        .order_by("user_id")
        .values_list("lab_id", "user_id")
    ):
        keepers[lab_id].append(user_id)
    return keepers


def equipment_due_rows(now: datetime) -> list[Notification]:
    """The equipment reminders owed at ``now`` (unsaved rows; the sweep inserts the missing)."""
    # A lead is at most MAX_LEAD_DAYS (the register's rule): one indexed range read, no
    # aggregate first; the phase of each piece is then computed on its lab's clock.
    latest = (now + timedelta(days=MAX_LEAD_DAYS + 1)).date()
    earliest = (now - CATCH_UP - timedelta(days=2)).date()
    pieces = list(
        Equipment.objects.filter(status=EquipmentStatus.IN_SERVICE)
        .filter(
            Q(calibration_due__range=(earliest, latest))
            | Q(maintenance_due__range=(earliest, latest))
        )
        .select_related("lab")
        .order_by("pk")
    )
    keepers = _keepers({p.lab_id for p in pieces})
    rows: list[Notification] = []
    for piece in pieces:
        for object_type, field in _FIELDS.items():
            timing = equipment_timing(piece, object_type)
            if timing is None or now - timing.due_at > CATCH_UP:
                continue
            phase = timing.phase(now)
            if phase is None:
                continue
            context = {
                "equipment": piece.name,
                "code": piece.code,
                "due_date": getattr(piece, field).isoformat(),
                "what": "calibration"
                if object_type == NotificationObject.CALIBRATION
                else "maintenance",
            }
            rows.extend(
                Notification(
                    lab_id=piece.lab_id,
                    recipient_id=user_id,
                    kind=phase,
                    object_type=object_type,
                    object_id=piece.pk,
                    due_at=timing.due_at,
                    context=context,
                    created_at=now,
                )
                for user_id in keepers.get(piece.lab_id, [])
            )
    return rows


def equipment_stale_reason(notification: Notification, now: datetime) -> str:
    """Why an equipment reminder is no longer owed at ``now`` ('' when it still is)."""
    piece = Equipment.objects.select_related("lab").filter(pk=notification.object_id).first()
    if piece is None or piece.status != EquipmentStatus.IN_SERVICE:
        return "The equipment is no longer in service."
    timing = equipment_timing(piece, notification.object_type)
    if timing is None or timing.due_at != notification.due_at:
        return "The due date moved (a new calibration or maintenance was recorded)."
    if not timing.is_current(notification.kind, now):
        return "Superseded by a later reminder."
    return ""


def equipment_kinds() -> frozenset[str]:
    return frozenset(_FIELDS)


__all__ = [
    "due_instant",
    "equipment_due_rows",
    "equipment_kinds",
    "equipment_stale_reason",
    "equipment_timing",
]
