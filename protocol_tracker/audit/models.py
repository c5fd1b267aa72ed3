"""The append-only, hash-chained audit trail."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from protocol_tracker.core.scoping import LabScopedQuerySet


class AuditEventQuerySet(LabScopedQuerySet):
    def update(self, **kwargs):  # pragma: no cover - the guard is the point
        raise PermissionError("audit events are append-only")

    def delete(self):
        raise PermissionError("audit events are append-only")


class AuditEvent(models.Model):
    """Who did what to which GMP record, when and why, with the values before and after.

    Each event stores the SHA-256 of its own content chained to the previous event's hash, so
    ``manage.py verify_audit`` can prove the trail unbroken. On PostgreSQL a trigger also refuses
    UPDATE and DELETE on this table.
    """

    # No single-column indexes on lab and run: the composite (lab, id) and (run, id) indexes
    # serve those lookups, and every index slows the append that bulk ingestion makes.
    lab = models.ForeignKey(
        "labs.Lab",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor_instrument = models.ForeignKey(
        "labs.Instrument", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor_label = models.CharField(max_length=200)
    action = models.CharField(max_length=64)
    object_type = models.CharField(max_length=64)
    object_id = models.CharField(max_length=64)
    object_repr = models.CharField(max_length=300, blank=True)
    run = models.ForeignKey(
        "runs.Run",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="audit_events",
        help_text="The run this event belongs to, for the per-run audit trail.",
        db_index=False,
    )
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    reason = models.TextField(blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField()
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    objects = AuditEventQuerySet.as_manager()
    lab_field = "lab"

    class Meta:
        ordering = ["id"]
        constraints = [
            # A constraint rather than unique=True: no extra LIKE index on PostgreSQL.
            models.UniqueConstraint(fields=["hash"], name="audit_hash_unique"),
        ]
        indexes = [
            models.Index(fields=["object_type", "object_id"], name="audit_object_idx"),
            models.Index(fields=["run", "id"], name="audit_run_idx"),
            models.Index(fields=["lab", "id"], name="audit_lab_idx"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.actor_label} {self.action} {self.object_type}:{self.object_id}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise PermissionError("audit events are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError("audit events are append-only")
