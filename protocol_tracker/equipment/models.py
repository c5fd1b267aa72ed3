"""The lab's equipment and its calibration and maintenance records.

Calibration and maintenance are dates on the lab's calendar: equipment is in calibration until
the start of its calibration due date (lab time zone), like a lot that expires. A piece that
needs calibration (an interval is set) and has never passed one is out of calibration; a failed
calibration puts it out at once. Records are append-only: a correction is a new record that
``supersedes`` the wrong one, with a reason.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from protocol_tracker.core.scoping import LabScopedQuerySet
from protocol_tracker.protocols.models import EquipmentKind


class EquipmentStatus(models.TextChoices):
    IN_SERVICE = "in_service", _("In service")
    OUT_OF_SERVICE = "out_of_service", _("Out of service")
    RETIRED = "retired", _("Retired")


class Equipment(models.Model):
    ALLOWED_TRANSITIONS = {
        EquipmentStatus.IN_SERVICE: {EquipmentStatus.OUT_OF_SERVICE, EquipmentStatus.RETIRED},
        EquipmentStatus.OUT_OF_SERVICE: {EquipmentStatus.IN_SERVICE, EquipmentStatus.RETIRED},
        EquipmentStatus.RETIRED: set(),
    }

    lab = models.ForeignKey("labs.Lab", on_delete=models.PROTECT, related_name="equipment")
    code = models.CharField(max_length=64, help_text=_("The asset tag on the equipment."))
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=32, choices=EquipmentKind.choices)
    make = models.CharField(max_length=100, blank=True)
    model = models.CharField(max_length=100, blank=True)
    serial = models.CharField(max_length=100, blank=True)
    location = models.CharField(max_length=200, blank=True)
    instrument = models.OneToOneField(
        "labs.Instrument",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="equipment",
        help_text=_("The instrument (API client) this equipment is, for analysers."),
    )
    status = models.CharField(
        max_length=16, choices=EquipmentStatus.choices, default=EquipmentStatus.IN_SERVICE
    )
    status_reason = models.TextField(blank=True)
    calibration_interval_days = models.PositiveIntegerField(
        null=True, blank=True, help_text=_("Empty: this equipment needs no calibration.")
    )
    maintenance_interval_days = models.PositiveIntegerField(null=True, blank=True)
    calibration_due = models.DateField(
        null=True, blank=True, help_text=_("In calibration until the start of this date.")
    )
    maintenance_due = models.DateField(null=True, blank=True)
    reminder_lead_days = models.PositiveSmallIntegerField(
        default=14, help_text=_("'Due soon' reminders this many days before a due date.")
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = LabScopedQuerySet.as_manager()
    lab_field = "lab"

    class Meta:
        ordering = ["lab", "kind", "code"]
        verbose_name_plural = "equipment"
        constraints = [
            models.UniqueConstraint(fields=["lab", "code"], name="equipment_code_unique_in_lab"),
            models.CheckConstraint(
                condition=models.Q(calibration_interval_days__gt=0)
                | models.Q(calibration_interval_days__isnull=True),
                name="equipment_calibration_interval_positive",
            ),
            models.CheckConstraint(
                condition=models.Q(maintenance_interval_days__gt=0)
                | models.Q(maintenance_interval_days__isnull=True),
                name="equipment_maintenance_interval_positive",
            ),
        ]
        indexes = [
            models.Index(fields=["calibration_due"], name="equipment_calibration_due_idx"),
            models.Index(fields=["maintenance_due"], name="equipment_maintenance_due_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"

    def can_transition_to(self, status: str) -> bool:
        return status in self.ALLOWED_TRANSITIONS.get(self.status, set())

    @property
    def needs_calibration(self) -> bool:
        return self.calibration_interval_days is not None or self.calibration_due is not None


def certificate_path(instance: CalibrationRecord | MaintenanceRecord, filename: str) -> str:
    return (
        f"equipment/{instance.lab_id}/{instance.certificate_sha256[:2]}/"
        f"{instance.certificate_sha256}"
    )


class ServiceRecord(models.Model):
    """What calibration and maintenance records share: when, by whom, the certificate, the
    next due date, and the correction chain."""

    lab = models.ForeignKey("labs.Lab", on_delete=models.PROTECT, related_name="+")
    equipment = models.ForeignKey(Equipment, on_delete=models.PROTECT, related_name="+")
    performed_at = models.DateTimeField()
    performed_by = models.CharField(
        max_length=200, help_text=_("Who did it: an engineer, a service company.")
    )
    certificate = models.FileField(upload_to=certificate_path, blank=True)
    certificate_filename = models.CharField(max_length=200, blank=True)
    certificate_sha256 = models.CharField(max_length=64, blank=True)
    next_due = models.DateField(null=True, blank=True)
    notes = models.TextField(blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    recorded_at = models.DateTimeField(auto_now_add=True)
    reason = models.TextField(blank=True, help_text=_("Why this record corrects the one before."))

    objects = LabScopedQuerySet.as_manager()
    lab_field = "lab"

    class Meta:
        abstract = True
        ordering = ["-performed_at", "-id"]


class CalibrationRecord(ServiceRecord):
    equipment = models.ForeignKey(Equipment, on_delete=models.PROTECT, related_name="calibrations")
    passed = models.BooleanField()
    supersedes = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="superseded_by"
    )

    class Meta(ServiceRecord.Meta):
        pass

    def __str__(self) -> str:
        return f"calibration of {self.equipment_id} on {self.performed_at:%Y-%m-%d}"


class MaintenanceKind(models.TextChoices):
    PREVENTIVE = "preventive", _("Preventive")
    CORRECTIVE = "corrective", _("Corrective (repair)")


class MaintenanceRecord(ServiceRecord):
    equipment = models.ForeignKey(Equipment, on_delete=models.PROTECT, related_name="maintenance")
    kind = models.CharField(max_length=12, choices=MaintenanceKind.choices)
    supersedes = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="superseded_by"
    )

    class Meta(ServiceRecord.Meta):
        pass

    def __str__(self) -> str:
        return f"maintenance of {self.equipment_id} on {self.performed_at:%Y-%m-%d}"
