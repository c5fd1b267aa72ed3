"""Notifications (in-app and email), per-user preferences, calendar tokens and lab webhooks.

A reminder is owed by the state of the database (an open stage run or bench task and the clock),
never by a remembered event: the sweep in ``services`` turns what is owed into ``Notification``
rows, and the unique constraint on (object, kind, due time, recipient) is what makes each one be
sent at most once. Each row records its own delivery: status, attempts, last error, sent time.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from protocol_tracker.core.scoping import LabScopedQuerySet


class NotificationKind(models.TextChoices):
    DUE_SOON = "due_soon", _("Due soon")
    DUE = "due", _("Due now")
    OVERDUE = "overdue", _("Overdue")
    ESCALATION = "escalation", _("Escalation")
    DIGEST = "digest", _("Daily digest")
    QC_FAILED = "qc_failed", _("Out of spec")
    LOT_RECALLED = "lot_recalled", _("Material lot recalled")


# Kinds about a stage run or task occurrence that stop being owed once the work is done.
WORK_KINDS = frozenset(
    {
        NotificationKind.DUE_SOON,
        NotificationKind.DUE,
        NotificationKind.OVERDUE,
        NotificationKind.ESCALATION,
    }
)


class NotificationStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")
    CANCELLED = "cancelled", _("Cancelled (no longer owed)")


OPEN_NOTIFICATION_STATUSES = (NotificationStatus.PENDING, NotificationStatus.SENDING)


class NotificationObject(models.TextChoices):
    STAGE_RUN = "stage_run", _("Stage run")
    TASK_OCCURRENCE = "task_occurrence", _("Bench task")
    QC_RESULT = "qc_result", _("QC result")
    LAB = "lab", _("Lab")
    CALIBRATION = "calibration", _("Equipment calibration")
    MAINTENANCE = "maintenance", _("Equipment maintenance")
    MATERIAL_LOT = "material_lot", _("Material lot")


class Notification(models.Model):
    """One message to one person about one object at one due time, in-app and (maybe) by email."""

    ALLOWED_TRANSITIONS = {
        NotificationStatus.PENDING: {
            NotificationStatus.SENDING,
            NotificationStatus.CANCELLED,
            NotificationStatus.FAILED,
        },
        NotificationStatus.SENDING: {
            NotificationStatus.SENT,
            NotificationStatus.PENDING,
            NotificationStatus.FAILED,
            NotificationStatus.CANCELLED,
        },
        NotificationStatus.SENT: set(),
        NotificationStatus.FAILED: {NotificationStatus.PENDING},
        NotificationStatus.CANCELLED: set(),
    }

    lab = models.ForeignKey("labs.Lab", on_delete=models.PROTECT, related_name="notifications")
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    kind = models.CharField(max_length=16, choices=NotificationKind.choices)
    object_type = models.CharField(max_length=20, choices=NotificationObject.choices)
    object_id = models.PositiveBigIntegerField()
    due_at = models.DateTimeField(
        help_text=_("The due time this is about (for a digest: the local digest hour, in UTC).")
    )
    run = models.ForeignKey(
        "runs.Run", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    context = models.JSONField(
        default=dict,
        blank=True,
        help_text=_("What the message names (run and donor codes, stage, task): no personal data."),
    )
    status = models.CharField(
        max_length=10, choices=NotificationStatus.choices, default=NotificationStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    emailed = models.BooleanField(default=False)
    created_at = models.DateTimeField()
    enqueued_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)

    objects = LabScopedQuerySet.as_manager()
    lab_field = "lab"

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["object_type", "object_id", "kind", "due_at", "recipient"],
                name="notification_once",
            ),
        ]
        indexes = [
            # The sweep reads only undelivered rows: its cost follows them, not the table.
            models.Index(
                fields=["enqueued_at"],
                name="notification_open_idx",
                condition=models.Q(status__in=["pending", "sending"]),
            ),
            models.Index(fields=["recipient", "-id"], name="notification_inbox_idx"),
            models.Index(fields=["lab", "status"], name="notification_lab_status_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.object_type}:{self.object_id} → {self.recipient_id}"

    def can_transition_to(self, status: str) -> bool:
        return status in self.ALLOWED_TRANSITIONS.get(self.status, set())

    @property
    def is_read(self) -> bool:
        return self.read_at is not None


class Language(models.TextChoices):
    EN = "en", _("English")
    ZH_HANS = "zh-hans", _("Simplified Chinese")


class NotificationPreference(models.Model):
    """A person's choices: email on or off per kind, the daily digest, the language."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_preference"
    )
    language = models.CharField(max_length=10, choices=Language.choices, default=Language.EN)
    email_due_soon = models.BooleanField(default=True)
    email_due = models.BooleanField(default=True)
    email_overdue = models.BooleanField(default=True)
    email_escalation = models.BooleanField(default=True)
    email_qc_failed = models.BooleanField(default=True)
    digest = models.BooleanField(default=True, help_text=_("Receive the daily digest email."))
    updated_at = models.DateTimeField(auto_now=True)

    EMAIL_FIELDS = (
        "email_due_soon",
        "email_due",
        "email_overdue",
        "email_escalation",
        "email_qc_failed",
    )

    def __str__(self) -> str:
        return f"preferences of {self.user_id}"

    def wants_email(self, kind: str) -> bool:
        if kind == NotificationKind.DIGEST:
            return self.digest
        return bool(getattr(self, f"email_{kind}", True))


class CalendarToken(models.Model):
    """The secret in a person's calendar feed URL; revoking it kills the URL (a new one follows)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="calendar_tokens"
    )
    secret = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["user"],
                condition=models.Q(revoked_at__isnull=True),
                name="calendar_token_one_active",
            ),
        ]

    def __str__(self) -> str:
        return f"calendar token of {self.user_id} ({'revoked' if self.revoked_at else 'active'})"


class WebhookEvent(models.TextChoices):
    STAGE_DUE = "stage.due", _("Stage due")
    STAGE_OVERDUE = "stage.overdue", _("Stage overdue")
    QC_FAILED = "qc.failed", _("QC result out of spec")
    DEVIATION_OPENED = "deviation.opened", _("Deviation opened")
    RUN_RELEASED = "run.released", _("Run released")


class Webhook(models.Model):
    """A lab's outbound HTTP endpoint: each subscribed event is POSTed, signed with ``secret``."""

    lab = models.ForeignKey("labs.Lab", on_delete=models.PROTECT, related_name="webhooks")
    url = models.URLField(max_length=500)
    events = models.JSONField(default=list, help_text=_("Event names this endpoint receives."))
    secret = models.CharField(
        max_length=128, blank=True, help_text=_("Signs each POST; left empty, one is generated.")
    )
    active = models.BooleanField(default=True)
    description = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = LabScopedQuerySet.as_manager()
    lab_field = "lab"

    class Meta:
        ordering = ["lab", "id"]

    def __str__(self) -> str:
        return f"{self.url} ({self.lab.slug})"

    def wants(self, event: str) -> bool:
        return self.active and event in (self.events or [])


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    SENDING = "sending", _("Sending")
    DELIVERED = "delivered", _("Delivered")
    FAILED = "failed", _("Failed")


class WebhookDelivery(models.Model):
    """One event for one webhook, delivered once; every attempt's response is logged."""

    webhook = models.ForeignKey(Webhook, on_delete=models.PROTECT, related_name="deliveries")
    event = models.CharField(max_length=32, choices=WebhookEvent.choices)
    event_id = models.CharField(max_length=200)
    payload = models.JSONField()
    status = models.CharField(
        max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    responses = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField()
    enqueued_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    objects = LabScopedQuerySet.as_manager()
    lab_field = "webhook__lab"

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["webhook", "event_id"], name="webhook_delivery_once"),
        ]
        indexes = [
            models.Index(
                fields=["enqueued_at"],
                name="webhook_delivery_open_idx",
                condition=models.Q(status__in=["pending", "sending"]),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event} {self.event_id} → webhook {self.webhook_id}"
