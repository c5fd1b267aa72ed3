"""Cell-bank storage: tank → rack → box → position.

A box has a geometry (rows × columns, e.g. 9×9, 10×10); its positions are rows of their own,
made with the box, so that a freeze can lock the positions it fills and a race for one position
has exactly one winner (the vial table's partial unique index is the last word). Rows are
lettered (A, B, …), columns numbered from 1: position ``A1`` is top left. Every row carries its
lab, so a box map is read with one indexed filter.
"""

from __future__ import annotations

import string

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from protocol_tracker.core.scoping import LabScopedQuerySet

MAX_BOX_SIDE = 26  # rows are lettered A-Z


class StorageKind(models.TextChoices):
    LN2_VAPOUR = "ln2_vapour", _("LN2 vapour phase")
    LN2_LIQUID = "ln2_liquid", _("LN2 liquid phase")
    FREEZER_80 = "freezer_80", _("-80 °C freezer")


class Tank(models.Model):
    lab = models.ForeignKey("labs.Lab", on_delete=models.PROTECT, related_name="tanks")
    code = models.CharField(max_length=32)
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=12, choices=StorageKind.choices)
    location = models.CharField(max_length=200, blank=True)
    equipment = models.ForeignKey(
        "equipment.Equipment",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="tanks",
        help_text=_("The tank in the equipment register (its maintenance and alarms)."),
    )
    is_active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = LabScopedQuerySet.as_manager()
    lab_field = "lab"

    class Meta:
        ordering = ["lab", "code"]
        constraints = [
            models.UniqueConstraint(fields=["lab", "code"], name="tank_code_unique_in_lab"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


class Rack(models.Model):
    lab = models.ForeignKey("labs.Lab", on_delete=models.PROTECT, related_name="+")
    tank = models.ForeignKey(Tank, on_delete=models.PROTECT, related_name="racks")
    code = models.CharField(max_length=32)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = LabScopedQuerySet.as_manager()
    lab_field = "lab"

    class Meta:
        ordering = ["tank", "code"]
        constraints = [
            models.UniqueConstraint(fields=["tank", "code"], name="rack_code_unique_in_tank"),
        ]

    def __str__(self) -> str:
        return f"{self.tank.code}/{self.code}"


class Box(models.Model):
    lab = models.ForeignKey("labs.Lab", on_delete=models.PROTECT, related_name="+")
    rack = models.ForeignKey(Rack, on_delete=models.PROTECT, related_name="boxes")
    code = models.CharField(max_length=32)
    rows = models.PositiveSmallIntegerField()
    columns = models.PositiveSmallIntegerField()
    label = models.CharField(max_length=200, blank=True, help_text=_("What the box holds."))
    created_at = models.DateTimeField(auto_now_add=True)

    objects = LabScopedQuerySet.as_manager()
    lab_field = "lab"

    class Meta:
        ordering = ["rack", "code"]
        verbose_name_plural = "boxes"
        constraints = [
            models.UniqueConstraint(fields=["rack", "code"], name="box_code_unique_in_rack"),
            models.CheckConstraint(
                condition=models.Q(rows__gte=1, rows__lte=MAX_BOX_SIDE)
                & models.Q(columns__gte=1, columns__lte=MAX_BOX_SIDE),
                name="box_geometry_in_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.rack}/{self.code}"

    @property
    def capacity(self) -> int:
        return self.rows * self.columns


def position_name(row: int, column: int) -> str:
    """``A1`` for row 1, column 1."""
    return f"{string.ascii_uppercase[row - 1]}{column}"


class Position(models.Model):
    """One slot of a box. Occupied when a stored or reserved vial is in it; ``reserved_*`` holds
    a free position for a planned freeze (a freeze that does not name it skips it)."""

    lab = models.ForeignKey("labs.Lab", on_delete=models.PROTECT, related_name="+")
    box = models.ForeignKey(Box, on_delete=models.PROTECT, related_name="positions")
    row = models.PositiveSmallIntegerField()
    column = models.PositiveSmallIntegerField()
    reserved_at = models.DateTimeField(null=True, blank=True)
    reserved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reserved_for = models.CharField(max_length=200, blank=True)

    objects = LabScopedQuerySet.as_manager()
    lab_field = "lab"

    class Meta:
        ordering = ["box", "row", "column"]
        constraints = [
            models.UniqueConstraint(fields=["box", "row", "column"], name="position_unique_in_box"),
        ]

    def __str__(self) -> str:
        return f"{self.box}/{self.name}"

    @property
    def name(self) -> str:
        return position_name(self.row, self.column)

    @property
    def is_reserved(self) -> bool:
        return self.reserved_at is not None
