"""Vials and vessels of a run: freezes, thaws, custody transfers, splits, observations.

A freeze of N vials makes N vial rows in free positions (an occupied position is refused: the
partial unique index below is what two racing freezes meet). A thaw or a withdrawal checks a vial
out after its label was scanned; a thaw seeds a vessel at the vial's passage. A transfer moves a
stored vial to another free position, as a custody hand-off. A split of a vessel 1:k makes k child
vessels at passage n + 1. Every vial and vessel carries its donor (the chain of identity) and its
``coi`` (the donor's code as printed on its label). Nothing is deleted: a vial ends thawed,
withdrawn or discarded, a vessel split, harvested or discarded; each movement is a row.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from protocol_tracker.core.scoping import LabScopedQuerySet


class BankTier(models.TextChoices):
    MASTER = "master", _("Master cell bank")
    WORKING = "working", _("Working cell bank")
    NONE = "none", _("Not banked (in-process)")


def profile_path(instance: Freeze, filename: str) -> str:
    return f"freezing/{instance.lab_id}/{instance.profile_sha256[:2]}/{instance.profile_sha256}"


class Freeze(models.Model):
    """One cryopreservation of a run's cells into ``vial_count`` vials."""

    lab = models.ForeignKey("labs.Lab", on_delete=models.PROTECT, related_name="+")
    run = models.ForeignKey("runs.Run", on_delete=models.PROTECT, related_name="freezes")
    stage_run = models.ForeignKey("runs.StageRun", on_delete=models.PROTECT, related_name="freezes")
    frozen_at = models.DateTimeField()
    frozen_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    vial_count = models.PositiveSmallIntegerField()
    cells_per_vial = models.FloatField()
    volume_ml = models.DecimalField(max_digits=8, decimal_places=3, null=True, blank=True)
    passage = models.PositiveIntegerField()
    bank = models.CharField(max_length=8, choices=BankTier.choices, default=BankTier.NONE)
    contents = models.CharField(
        max_length=200, help_text=_("What the vials hold, e.g. iPSC clone 3.")
    )
    medium_consumption = models.ForeignKey(
        "usage.LotConsumption",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("The freeze medium lot drawn (where-used shows the freeze's stage)."),
    )
    freezer = models.ForeignKey(
        "equipment.Equipment", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    profile = models.FileField(upload_to=profile_path, blank=True)
    profile_filename = models.CharField(max_length=200, blank=True)
    profile_sha256 = models.CharField(max_length=64, blank=True)
    note = models.TextField(blank=True)

    objects = LabScopedQuerySet.as_manager()
    lab_field = "lab"

    class Meta:
        ordering = ["-frozen_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(vial_count__gte=1) & models.Q(cells_per_vial__gt=0),
                name="freeze_counts_positive",
            ),
        ]

    def __str__(self) -> str:
        return f"freeze of {self.vial_count} vials of run {self.run_id}"


class VialStatus(models.TextChoices):
    STORED = "stored", _("Stored")
    RESERVED = "reserved", _("Reserved")
    THAWED = "thawed", _("Thawed")
    WITHDRAWN = "withdrawn", _("Withdrawn")
    DISCARDED = "discarded", _("Discarded")


IN_STORAGE = (VialStatus.STORED, VialStatus.RESERVED)


class Vial(models.Model):
    ALLOWED_TRANSITIONS = {
        VialStatus.STORED: {
            VialStatus.RESERVED,
            VialStatus.THAWED,
            VialStatus.WITHDRAWN,
            VialStatus.DISCARDED,
        },
        VialStatus.RESERVED: {
            VialStatus.STORED,
            VialStatus.THAWED,
            VialStatus.WITHDRAWN,
            VialStatus.DISCARDED,
        },
        VialStatus.THAWED: set(),
        VialStatus.WITHDRAWN: set(),
        VialStatus.DISCARDED: set(),
    }

    lab = models.ForeignKey("labs.Lab", on_delete=models.PROTECT, related_name="+")
    code = models.CharField(max_length=80, help_text=_("The label's code; what is scanned."))
    donor = models.ForeignKey("runs.Donor", on_delete=models.PROTECT, related_name="vials")
    coi = models.CharField(max_length=64, help_text=_("The donor's code on the label."))
    run = models.ForeignKey(
        "runs.Run",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="vials",
        help_text=_("The run it was frozen from (empty for vials imported from before)."),
    )
    freeze = models.ForeignKey(
        Freeze, null=True, blank=True, on_delete=models.PROTECT, related_name="vials"
    )
    passage = models.PositiveIntegerField()
    cells_per_vial = models.FloatField()
    contents = models.CharField(max_length=200)
    bank = models.CharField(max_length=8, choices=BankTier.choices, default=BankTier.NONE)
    position = models.ForeignKey(
        "inventory.Position", on_delete=models.PROTECT, related_name="vials"
    )
    status = models.CharField(max_length=10, choices=VialStatus.choices, default=VialStatus.STORED)
    frozen_at = models.DateTimeField()
    reserved_for = models.CharField(max_length=200, blank=True)
    checked_out_at = models.DateTimeField(null=True, blank=True)
    checked_out_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    objects = LabScopedQuerySet.as_manager()
    lab_field = "lab"

    class Meta:
        ordering = ["code"]
        constraints = [
            models.UniqueConstraint(fields=["lab", "code"], name="vial_code_unique_in_lab"),
            # One vial in a position at a time: what two racing freezes meet.
            models.UniqueConstraint(
                fields=["position"],
                condition=models.Q(status__in=["stored", "reserved"]),
                name="vial_one_per_position",
            ),
            models.CheckConstraint(
                condition=models.Q(cells_per_vial__gt=0), name="vial_cells_positive"
            ),
        ]
        indexes = [
            models.Index(
                fields=["lab", "run", "bank"],
                name="vial_stock_idx",
                condition=models.Q(status__in=["stored", "reserved"]),
            ),
        ]

    def __str__(self) -> str:
        return self.code

    def can_transition_to(self, status: str) -> bool:
        return status in self.ALLOWED_TRANSITIONS.get(self.status, set())

    @property
    def in_storage(self) -> bool:
        return self.status in IN_STORAGE


class MovementKind(models.TextChoices):
    FREEZE = "freeze", _("Frozen in")
    IMPORT = "import", _("Imported")
    TRANSFER = "transfer", _("Transferred")
    RESERVE = "reserve", _("Reserved")
    UNRESERVE = "unreserve", _("Reservation released")
    THAW = "thaw", _("Thawed")
    WITHDRAW = "withdraw", _("Withdrawn")
    DISCARD = "discard", _("Discarded")


class VialMovement(models.Model):
    """The custody log of a vial: every time it moved or changed hands (append-only)."""

    lab = models.ForeignKey("labs.Lab", on_delete=models.PROTECT, related_name="+")
    vial = models.ForeignKey(Vial, on_delete=models.PROTECT, related_name="movements")
    kind = models.CharField(max_length=10, choices=MovementKind.choices)
    at = models.DateTimeField()
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    received_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("Who took it over (a custody hand-off)."),
    )
    from_position = models.ForeignKey(
        "inventory.Position", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    to_position = models.ForeignKey(
        "inventory.Position", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    scanned_code = models.CharField(max_length=200, blank=True)
    reason = models.TextField(blank=True)

    objects = LabScopedQuerySet.as_manager()
    lab_field = "lab"

    class Meta:
        ordering = ["vial", "at", "id"]

    def __str__(self) -> str:
        return f"{self.vial_id} {self.kind} at {self.at:%Y-%m-%d %H:%M}"


class VesselKind(models.TextChoices):
    T25 = "t25", _("T25 flask")
    T75 = "t75", _("T75 flask")
    T175 = "t175", _("T175 flask")
    WELL_6 = "well_6", _("6-well plate")
    WELL_12 = "well_12", _("12-well plate")
    WELL_24 = "well_24", _("24-well plate")
    DISH_10CM = "dish_10cm", _("10 cm dish")
    SUSPENSION = "suspension", _("Suspension vessel")


# Growth areas (cm²) commonly quoted by vessel makers (GK); the technician may give another.
GROWTH_AREA_CM2 = {
    VesselKind.T25: 25,
    VesselKind.T75: 75,
    VesselKind.T175: 175,
    VesselKind.WELL_6: 9.5 * 6,
    VesselKind.WELL_12: 3.8 * 12,
    VesselKind.WELL_24: 1.9 * 24,
    VesselKind.DISH_10CM: 55,
}


class VesselStatus(models.TextChoices):
    IN_CULTURE = "in_culture", _("In culture")
    SPLIT = "split", _("Split")
    HARVESTED = "harvested", _("Harvested")
    DISCARDED = "discarded", _("Discarded")


class Vessel(models.Model):
    lab = models.ForeignKey("labs.Lab", on_delete=models.PROTECT, related_name="+")
    code = models.CharField(max_length=80)
    run = models.ForeignKey("runs.Run", on_delete=models.PROTECT, related_name="vessels")
    donor = models.ForeignKey("runs.Donor", on_delete=models.PROTECT, related_name="vessels")
    coi = models.CharField(max_length=64)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    source_vial = models.OneToOneField(
        Vial, null=True, blank=True, on_delete=models.PROTECT, related_name="seeded_vessel"
    )
    passage = models.PositiveIntegerField()
    kind = models.CharField(max_length=12, choices=VesselKind.choices)
    surface_area_cm2 = models.FloatField(null=True, blank=True)
    seeded_at = models.DateTimeField()
    seeded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    cells_seeded = models.FloatField(null=True, blank=True)
    seeding_density = models.FloatField(
        null=True, blank=True, help_text=_("Cells per cm² at seeding.")
    )
    status = models.CharField(
        max_length=12, choices=VesselStatus.choices, default=VesselStatus.IN_CULTURE
    )
    closed_at = models.DateTimeField(null=True, blank=True)
    split_ratio = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text=_("k of the 1:k split that ended it.")
    )
    note = models.TextField(blank=True)

    objects = LabScopedQuerySet.as_manager()
    lab_field = "lab"

    class Meta:
        ordering = ["run", "seeded_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["lab", "code"], name="vessel_code_unique_in_lab"),
        ]

    def __str__(self) -> str:
        return self.code


class VesselObservation(models.Model):
    lab = models.ForeignKey("labs.Lab", on_delete=models.PROTECT, related_name="+")
    vessel = models.ForeignKey(Vessel, on_delete=models.PROTECT, related_name="observations")
    at = models.DateTimeField()
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    confluence_percent = models.FloatField(null=True, blank=True)
    viable_cells = models.FloatField(null=True, blank=True)
    viability_percent = models.FloatField(null=True, blank=True)
    note = models.TextField(blank=True)

    objects = LabScopedQuerySet.as_manager()
    lab_field = "lab"

    class Meta:
        ordering = ["vessel", "at", "id"]

    def __str__(self) -> str:
        return f"observation of {self.vessel_id} at {self.at:%Y-%m-%d %H:%M}"
