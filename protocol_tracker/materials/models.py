"""Materials (the lab's catalogue) and their lots.

A lot arrives in ``quarantine`` and is used only once ``released`` by a reviewer's signature; it
becomes ``expired`` at the start of its expiry date in the lab's time zone (a lot that expires
today is expired today), ``consumed`` when it is used up, and ``recalled`` when its supplier or
QA withdraws it (from any state: a recall must reach lots already expired or used up, because
the runs that used them still carry it). Quantities are exact decimals in the lot's unit and never
fall below zero (a check constraint, and ``F()`` updates under a row lock).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from protocol_tracker.core.scoping import LabScopedQuerySet

QUANTITY = {"max_digits": 18, "decimal_places": 6}


class MaterialKind(models.TextChoices):
    MEDIUM = "medium", _("Medium")
    GROWTH_FACTOR = "growth_factor", _("Growth factor")
    SMALL_MOLECULE = "small_molecule", _("Small molecule")
    REAGENT_KIT = "reagent_kit", _("Reagent kit")
    CONSUMABLE = "consumable", _("Consumable")
    MATRIX = "matrix", _("Matrix")


class Material(models.Model):
    """A material the lab stocks. ``code`` is what protocols' bills of materials name."""

    lab = models.ForeignKey("labs.Lab", on_delete=models.PROTECT, related_name="materials")
    code = models.CharField(max_length=64)
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=20, choices=MaterialKind.choices)
    supplier = models.CharField(max_length=200, blank=True)
    catalogue_number = models.CharField(max_length=100, blank=True)
    unit = models.CharField(max_length=8, help_text=_("The unit its lots are counted in."))
    storage = models.CharField(max_length=100, blank=True, help_text=_("e.g. 2-8 °C, -20 °C."))
    expiry_warning_days = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        help_text=_("Warn when a lot is used this many days or fewer before it expires."),
    )
    is_active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = LabScopedQuerySet.as_manager()
    lab_field = "lab"

    class Meta:
        ordering = ["lab", "name", "code"]
        constraints = [
            models.UniqueConstraint(fields=["lab", "code"], name="material_code_unique_in_lab"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"

    @property
    def warning_days(self) -> int:
        if self.expiry_warning_days is not None:
            return self.expiry_warning_days
        return settings.MATERIAL_EXPIRY_WARNING_DAYS


class LotStatus(models.TextChoices):
    QUARANTINE = "quarantine", _("Quarantine")
    RELEASED = "released", _("Released")
    EXPIRED = "expired", _("Expired")
    RECALLED = "recalled", _("Recalled")
    CONSUMED = "consumed", _("Consumed")


def coa_path(instance: MaterialLot, filename: str) -> str:
    return f"coa/{instance.lab_id}/{instance.coa_sha256[:2]}/{instance.coa_sha256}.pdf"


class MaterialLot(models.Model):
    ALLOWED_TRANSITIONS = {
        LotStatus.QUARANTINE: {LotStatus.RELEASED, LotStatus.EXPIRED, LotStatus.RECALLED},
        LotStatus.RELEASED: {LotStatus.EXPIRED, LotStatus.RECALLED, LotStatus.CONSUMED},
        LotStatus.EXPIRED: {LotStatus.RECALLED},
        LotStatus.CONSUMED: {LotStatus.RECALLED},
        LotStatus.RECALLED: set(),
    }

    lab = models.ForeignKey("labs.Lab", on_delete=models.PROTECT, related_name="material_lots")
    material = models.ForeignKey(Material, on_delete=models.PROTECT, related_name="lots")
    lot_number = models.CharField(max_length=64, help_text=_("The supplier's lot number."))
    code = models.CharField(
        max_length=140, help_text=_("The label's code: material code and lot number.")
    )
    expiry_date = models.DateField()
    status = models.CharField(
        max_length=12, choices=LotStatus.choices, default=LotStatus.QUARANTINE
    )
    unit = models.CharField(max_length=8)
    quantity_received = models.DecimalField(**QUANTITY)
    quantity_remaining = models.DecimalField(**QUANTITY)
    received_at = models.DateTimeField()
    received_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    coa = models.FileField(upload_to=coa_path, blank=True)
    coa_filename = models.CharField(max_length=200, blank=True)
    coa_sha256 = models.CharField(max_length=64, blank=True)
    released_at = models.DateTimeField(null=True, blank=True)
    released_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    release_signature = models.ForeignKey(
        "signatures.Signature", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    status_changed_at = models.DateTimeField(null=True, blank=True)
    status_reason = models.TextField(blank=True, help_text=_("Why the status last changed."))
    notes = models.TextField(blank=True)

    objects = LabScopedQuerySet.as_manager()
    lab_field = "lab"

    class Meta:
        ordering = ["expiry_date", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["material", "lot_number"], name="lot_number_unique_per_material"
            ),
            models.UniqueConstraint(fields=["lab", "code"], name="lot_code_unique_in_lab"),
            models.CheckConstraint(
                condition=models.Q(quantity_received__gt=0), name="lot_quantity_received_positive"
            ),
            models.CheckConstraint(
                condition=models.Q(quantity_remaining__gte=0)
                & models.Q(quantity_remaining__lte=models.F("quantity_received")),
                name="lot_quantity_remaining_in_range",
            ),
        ]
        indexes = [
            models.Index(fields=["lab", "status", "expiry_date"], name="lot_lab_status_expiry_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.material.name} lot {self.lot_number}"

    def can_transition_to(self, status: str) -> bool:
        return status in self.ALLOWED_TRANSITIONS.get(self.status, set())
