"""Reads for reminders: a person's notifications and preferences, calendar items, the digest."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Q, QuerySet

from labs.models import CAN_ADMINISTER, Lab, Membership, Role
from protocol_tracker.core.actors import Person
from protocol_tracker.core.scoping import lab_ids_for_user
from protocol_tracker.equipment.selectors import equipment_falling_due
from protocol_tracker.qc.models import Deviation, DeviationStatus
from protocol_tracker.reminders.models import (
    CalendarToken,
    Notification,
    NotificationPreference,
    NotificationStatus,
    WebhookDelivery,
)
from protocol_tracker.runs.models import (
    OPEN_STAGE_STATUSES,
    WORKING_RUN_STATUSES,
    Run,
    RunStatus,
    StageRun,
    StageStatus,
    TaskOccurrence,
)

CALENDAR_PAST = timedelta(days=30)
CALENDAR_LIMIT = 2000


def notifications_for_user(user: Person, *, unread: bool | None = None) -> QuerySet[Notification]:
    """The user's in-app notifications, newest first (not those cancelled before delivery)."""
    if not getattr(user, "is_authenticated", False) or getattr(user, "pk", None) is None:
        return Notification.objects.none()
    qs = (
        Notification.objects.for_user(user)
        .filter(recipient=user)
        .exclude(status=NotificationStatus.CANCELLED)
        .select_related("lab")
        .order_by("-id")
    )
    if unread is True:
        qs = qs.filter(read_at__isnull=True)
    elif unread is False:
        qs = qs.filter(read_at__isnull=False)
    return qs


def unread_count_for_user(user: Person) -> int:
    return notifications_for_user(user, unread=True).count()


def failed_notifications_for_user(user: Person) -> QuerySet[Notification]:
    """Failed sends in the labs ``user`` administers (for the admin and the web UI)."""
    return (
        Notification.objects.for_user(user, roles=CAN_ADMINISTER)
        .filter(status=NotificationStatus.FAILED)
        .select_related("lab", "recipient")
        .order_by("-id")
    )


def webhook_deliveries_for_user(user: Person) -> QuerySet[WebhookDelivery]:
    return (
        WebhookDelivery.objects.for_user(user, roles=CAN_ADMINISTER)
        .select_related("webhook__lab")
        .order_by("-id")
    )


def notification_preference_for(user: Person) -> NotificationPreference:
    """The user's preferences, or the defaults (unsaved) when they never set any."""
    preference = NotificationPreference.objects.filter(user=user).first()
    return preference or NotificationPreference(user=user)


def members_by_lab(lab_ids: Iterable[int]) -> dict[tuple[int, str], list[int]]:
    """(lab id, role) → active user ids, for technicians and reviewers of ``lab_ids``."""
    members: dict[tuple[int, str], list[int]] = defaultdict(list)
    rows = (
        Membership.objects.filter(
            lab_id__in=list(lab_ids),
            role__in=[Role.TECHNICIAN, Role.REVIEWER],
            user__is_active=True,
        )
        .order_by("user_id")
        .values_list("lab_id", "role", "user_id")
    )
    for lab_id, role, user_id in rows:
        members[(lab_id, role)].append(user_id)
    return members


# --- calendar ------------------------------------------------------------------------------


def calendar_token_for(user: Person) -> CalendarToken | None:
    """The user's active calendar token, or None when they have not created a calendar link."""
    if getattr(user, "pk", None) is None:
        return None
    return CalendarToken.objects.filter(user=user, revoked_at__isnull=True).first()


def calendar_user_for_token(token: str):
    """The active user a calendar secret belongs to, or None (unknown, revoked, inactive)."""
    row = (
        CalendarToken.objects.select_related("user")
        .filter(secret=token, revoked_at__isnull=True, user__is_active=True)
        .first()
    )
    return row.user if row else None


def _mine(user: Person, prefix: str = "") -> Q:
    """Work that is the user's: assigned to them, or unassigned in a lab where they are a
    technician (the same people the reminders go to)."""
    technician_labs = lab_ids_for_user(user, roles=[Role.TECHNICIAN])
    return (
        Q(**{f"{prefix}assignee": user})
        | Q(**{f"{prefix}assignee__isnull": True, f"{prefix}run__assignee": user})
        | Q(
            **{
                f"{prefix}assignee__isnull": True,
                f"{prefix}run__assignee__isnull": True,
                f"{prefix}run__lab__in": technician_labs,
            }
        )
    )


_PLANNED_STAGE_STATUSES = (StageStatus.PENDING, *OPEN_STAGE_STATUSES)
_LIVE_RUN_STATUSES = (RunStatus.PLANNED, *WORKING_RUN_STATUSES)


def calendar_stage_runs_for_user(user: Person, *, now: datetime) -> QuerySet[StageRun]:
    """Stage runs not yet done that are the user's, planned or open, oldest due first."""
    return (
        StageRun.objects.for_user(user)
        .filter(
            _mine(user),
            status__in=_PLANNED_STAGE_STATUSES,
            run__status__in=_LIVE_RUN_STATUSES,
            due_at__gte=now - CALENDAR_PAST,
        )
        .select_related("run__donor", "run__lab", "stage")
        .order_by("due_at", "id")[:CALENDAR_LIMIT]
    )


def calendar_tasks_for_user(user: Person, *, now: datetime) -> QuerySet[TaskOccurrence]:
    """Open bench tasks of the user's stage runs, oldest due first."""
    return (
        TaskOccurrence.objects.for_user(user)
        .filter(
            _mine(user, "stage_run__"),
            done_at__isnull=True,
            skipped=False,
            stage_run__status__in=_PLANNED_STAGE_STATUSES,
            stage_run__run__status__in=_LIVE_RUN_STATUSES,
            due_at__gte=now - CALENDAR_PAST,
        )
        .select_related("task", "stage_run__run__donor", "stage_run__run__lab", "stage_run__stage")
        .order_by("due_at", "id")[:CALENDAR_LIMIT]
    )


# --- the reviewers' digest -----------------------------------------------------------------


@dataclass(frozen=True)
class Digest:
    lab: Lab
    open_deviations: list
    awaiting_release: list
    overdue_stage_runs: list
    overdue_tasks: list
    equipment_due: list = field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        return not (
            self.open_deviations
            or self.awaiting_release
            or self.overdue_stage_runs
            or self.overdue_tasks
            or self.equipment_due
        )


DIGEST_LIMIT = 50
# Equipment whose calibration or maintenance falls due within this many days is in the digest.
EQUIPMENT_DIGEST_DAYS = 14


def digest_for_lab(*, lab: Lab, now: datetime) -> Digest:
    """What a reviewer of ``lab`` needs to see today: open deviations, runs awaiting release,
    overdue work, equipment whose calibration or maintenance falls due within two weeks or is
    overdue. Each list is capped at ``DIGEST_LIMIT`` rows."""
    deviations = list(
        Deviation.objects.for_lab(lab)
        .exclude(status=DeviationStatus.CLOSED)
        .select_related("run__donor", "stage_run__stage")
        .order_by("opened_at", "id")[:DIGEST_LIMIT]
    )
    awaiting = list(
        Run.objects.for_lab(lab)
        .filter(status=RunStatus.COMPLETED)
        .select_related("donor")
        .order_by("completed_at", "id")[:DIGEST_LIMIT]
    )
    overdue_stages = list(
        StageRun.objects.for_lab(lab)
        .filter(
            status__in=OPEN_STAGE_STATUSES, due_at__lt=now, run__status__in=WORKING_RUN_STATUSES
        )
        .select_related("run__donor", "stage")
        .order_by("due_at", "id")[:DIGEST_LIMIT]
    )
    overdue_tasks = list(
        TaskOccurrence.objects.for_lab(lab)
        .filter(
            done_at__isnull=True,
            skipped=False,
            due_at__lt=now,
            stage_run__status__in=OPEN_STAGE_STATUSES,
            stage_run__run__status__in=WORKING_RUN_STATUSES,
        )
        .select_related("task", "stage_run__run__donor", "stage_run__stage")
        .order_by("due_at", "id")[:DIGEST_LIMIT]
    )
    equipment_due = list(
        equipment_falling_due(lab=lab, now=now, within_days=EQUIPMENT_DIGEST_DAYS)[:DIGEST_LIMIT]
    )
    return Digest(lab, deviations, awaiting, overdue_stages, overdue_tasks, equipment_due)
