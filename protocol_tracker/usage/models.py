"""What ties materials and equipment to a run: a lot drawn for a stage run or a bench task, and
equipment a stage run was worked with. Append-only: each row is what happened, with what the
rules said at that moment (days to the lot's expiry, the equipment's calibration due date and
warnings), so the batch record and the exception list read them as they were.

``run`` is stored on every row so that "where used" (every run and stage run that drew a lot) is
one indexed query.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from protocol_tracker.core.scoping import LabScopedQuerySet
from protocol_tracker.materials.models import QUANTITY


class LotConsumption(models.Model):
    lab = models.ForeignKey("labs.Lab", on_delete=models.PROTECT, related_name="+")
    lot = models.ForeignKey(
        "materials.MaterialLot", on_delete=models.PROTECT, related_name="consumptions"
    )
    run = models.ForeignKey("runs.Run", on_delete=models.PROTECT, related_name="lot_consumptions")
    stage_run = models.ForeignKey(
        "runs.StageRun", on_delete=models.PROTECT, related_name="lot_consumptions"
    )
    task_occurrence = models.ForeignKey(
        "runs.TaskOccurrence",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="lot_consumptions",
    )
    material_code = models.CharField(
        max_length=64, help_text=_("The bill-of-materials line this lot filled.")
    )
    quantity = models.DecimalField(**QUANTITY)
    unit = models.CharField(max_length=8)
    quantity_in_lot_unit = models.DecimalField(**QUANTITY)
    purpose = models.CharField(
        max_length=16,
        default="stage",
        help_text=_("stage, task or freeze: what the lot was drawn for."),
    )
    consumed_at = models.DateTimeField()
    consumed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    days_to_expiry = models.IntegerField(help_text=_("Days from the use to the lot's expiry."))
    near_expiry = models.BooleanField(default=False)
    warning = models.CharField(max_length=300, blank=True)

    objects = LabScopedQuerySet.as_manager()
    lab_field = "lab"

    class Meta:
        ordering = ["consumed_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(quantity__gt=0) & models.Q(quantity_in_lot_unit__gt=0),
                name="consumption_quantity_positive",
            ),
        ]
        indexes = [
            models.Index(fields=["lot", "run"], name="consumption_lot_run_idx"),
            models.Index(fields=["run", "id"], name="consumption_run_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} {self.unit} of lot {self.lot_id} for run {self.run_id}"


class EquipmentUse(models.Model):
    lab = models.ForeignKey("labs.Lab", on_delete=models.PROTECT, related_name="+")
    equipment = models.ForeignKey(
        "equipment.Equipment", on_delete=models.PROTECT, related_name="uses"
    )
    run = models.ForeignKey("runs.Run", on_delete=models.PROTECT, related_name="equipment_uses")
    stage_run = models.ForeignKey(
        "runs.StageRun", on_delete=models.PROTECT, related_name="equipment_uses"
    )
    kind = models.CharField(max_length=32, help_text=_("The equipment's kind when it was used."))
    used_at = models.DateTimeField()
    used_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    calibration_due = models.DateField(
        null=True, blank=True, help_text=_("The calibration due date when it was used.")
    )
    warning = models.CharField(max_length=500, blank=True)

    objects = LabScopedQuerySet.as_manager()
    lab_field = "lab"

    class Meta:
        ordering = ["used_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["stage_run", "equipment"], name="equipment_use_once_per_stage_run"
            ),
        ]
        indexes = [models.Index(fields=["run", "id"], name="equipment_use_run_idx")]

    def __str__(self) -> str:
        return f"equipment {self.equipment_id} for stage run {self.stage_run_id}"
