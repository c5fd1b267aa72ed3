"""The run-bound chain of identity and custody: labelled items, identity scans, hand-offs,
shipments and their temperature loggers.

Append-only in spirit: a scan, a hand-off's sending and its receipt, a logger file are each
written once; a shipment's times and judgement are filled in as it travels (audited).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from protocol_tracker.core.scoping import LabScopedQuerySet


class ItemKind(models.TextChoices):
    BLOOD_TUBE = "blood_tube", _("Blood tube")
    VIAL = "vial", _("Vial")
    VESSEL = "vessel", _("Culture vessel")
    BAG = "bag", _("Bag")
    SAMPLE = "sample", _("Sample")
    SHIPPER = "shipper", _("Shipper")
    DOCUMENT = "document", _("Document")


# The letter an item id starts with (identity.codes.item_id_format).
ITEM_LETTER = {
    ItemKind.BLOOD_TUBE: "T",
    ItemKind.VIAL: "V",
    ItemKind.VESSEL: "F",
    ItemKind.BAG: "B",
    ItemKind.SAMPLE: "S",
    ItemKind.SHIPPER: "P",
    ItemKind.DOCUMENT: "D",
}


class Item(models.Model):
    """One labelled thing of a run: it carries the run's COI (its donor's) on its label."""

    lab = models.ForeignKey("labs.Lab", on_delete=models.PROTECT, related_name="+")
    run = models.ForeignKey("runs.Run", on_delete=models.PROTECT, related_name="custody_items")
    coi = models.ForeignKey("identity.Coi", on_delete=models.PROTECT, related_name="items")
    kind = models.CharField(max_length=12, choices=ItemKind.choices)
    item_id = models.CharField(max_length=32)
    description = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = LabScopedQuerySet.as_manager()
    lab_field = "lab"

    class Meta:
        ordering = ["run", "item_id"]
        constraints = [
            models.UniqueConstraint(fields=["item_id"], name="custody_item_id_unique"),
        ]

    def __str__(self) -> str:
        return self.item_id


class ScanVerdict(models.TextChoices):
    MATCH = "match", _("Match")
    MISMATCH = "mismatch", _("Mismatch")
    UNREADABLE = "unreadable", _("Unreadable or mistyped")


class ScanMethod(models.TextChoices):
    SCANNER = "scanner", _("Barcode scanner")
    CAMERA = "camera", _("Camera")
    MANUAL = "manual", _("Typed by hand (witnessed)")


class IdentityScan(models.Model):
    """A label scanned at an identity checkpoint, the verdict and why; the QC result it
    recorded (and through it the deviation a failure opened)."""

    lab = models.ForeignKey("labs.Lab", on_delete=models.PROTECT, related_name="+")
    run = models.ForeignKey("runs.Run", on_delete=models.PROTECT, related_name="identity_scans")
    stage_run = models.ForeignKey(
        "runs.StageRun", on_delete=models.PROTECT, related_name="identity_scans"
    )
    checkpoint = models.ForeignKey(
        "protocols.CheckpointTemplate", on_delete=models.PROTECT, related_name="+"
    )
    scanned = models.CharField(max_length=600, help_text=_("As scanned, controls spelt out."))
    method = models.CharField(max_length=8, choices=ScanMethod.choices)
    expected_coi = models.CharField(max_length=64)
    expected_item = models.ForeignKey(
        Item, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    item = models.ForeignKey(
        Item, null=True, blank=True, on_delete=models.PROTECT, related_name="scans"
    )
    verdict = models.CharField(max_length=12, choices=ScanVerdict.choices)
    reason = models.CharField(max_length=300, blank=True)
    qc_result = models.OneToOneField(
        "qc.QCResult", on_delete=models.PROTECT, related_name="identity_scan"
    )
    witness_signature = models.OneToOneField(
        "signatures.Signature", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    scanned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    scanned_at = models.DateTimeField(auto_now_add=True)

    objects = LabScopedQuerySet.as_manager()
    lab_field = "lab"

    class Meta:
        ordering = ["scanned_at", "id"]

    def __str__(self) -> str:
        return f"scan {self.pk}: {self.verdict}"

    @property
    def passed(self) -> bool:
        return self.verdict == ScanVerdict.MATCH


class Condition(models.TextChoices):
    INTACT = "intact", _("Intact")
    DAMAGED = "damaged", _("Damaged")
    LEAKING = "leaking", _("Leaking")
    UNLABELLED = "unlabelled", _("Label missing or unreadable")


class HandOff(models.Model):
    """Material changing hands or place: sent (from whom, where, when, scanned) and received
    (by whom, where, when, condition, temperature, scanned)."""

    lab = models.ForeignKey("labs.Lab", on_delete=models.PROTECT, related_name="+")
    run = models.ForeignKey("runs.Run", on_delete=models.PROTECT, related_name="handoffs")
    item = models.ForeignKey(Item, on_delete=models.PROTECT, related_name="handoffs")
    shipment = models.ForeignKey(
        "Shipment", null=True, blank=True, on_delete=models.PROTECT, related_name="handoffs"
    )
    from_party = models.CharField(max_length=200)
    from_location = models.CharField(max_length=200)
    to_party = models.CharField(max_length=200)
    to_location = models.CharField(max_length=200)
    sent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    sent_at = models.DateTimeField()
    sent_scan = models.CharField(max_length=600)
    received_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    received_at = models.DateTimeField(null=True, blank=True)
    received_scan = models.CharField(max_length=600, blank=True)
    condition = models.CharField(max_length=12, choices=Condition.choices, blank=True)
    temperature_c = models.FloatField(null=True, blank=True)
    note = models.TextField(blank=True)

    objects = LabScopedQuerySet.as_manager()
    lab_field = "lab"

    class Meta:
        ordering = ["sent_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(received_at__isnull=True)
                | models.Q(received_at__gte=models.F("sent_at")),
                name="handoff_received_after_sent",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.item_id}: {self.from_location} → {self.to_location}"

    @property
    def is_received(self) -> bool:
        return self.received_at is not None


class ShipmentKind(models.TextChoices):
    BLOOD = "blood", _("Blood to the lab")
    PRODUCT = "product", _("Product to the clinic")
    OTHER = "other", _("Other")


class ShipmentStatus(models.TextChoices):
    PACKED = "packed", _("Packed")
    SHIPPED = "shipped", _("In transit")
    RECEIVED = "received", _("Received")


class Shipment(models.Model):
    """A shipment of a run's material with its temperature range and data-logger record."""

    ALLOWED_TRANSITIONS = {
        ShipmentStatus.PACKED: {ShipmentStatus.SHIPPED, ShipmentStatus.RECEIVED},
        ShipmentStatus.SHIPPED: {ShipmentStatus.RECEIVED},
        ShipmentStatus.RECEIVED: set(),
    }

    lab = models.ForeignKey("labs.Lab", on_delete=models.PROTECT, related_name="+")
    run = models.ForeignKey("runs.Run", on_delete=models.PROTECT, related_name="shipments")
    kind = models.CharField(max_length=8, choices=ShipmentKind.choices)
    status = models.CharField(
        max_length=10, choices=ShipmentStatus.choices, default=ShipmentStatus.PACKED
    )
    courier = models.CharField(max_length=200)
    tracking = models.CharField(max_length=100, blank=True)
    origin = models.CharField(max_length=200)
    destination = models.CharField(max_length=200)
    range_min_c = models.FloatField()
    range_max_c = models.FloatField()
    drawn_at = models.DateTimeField(
        null=True, blank=True, help_text=_("Blood draw time (a blood shipment).")
    )
    packed_at = models.DateTimeField()
    shipped_at = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = LabScopedQuerySet.as_manager()
    lab_field = "lab"

    class Meta:
        ordering = ["-packed_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(range_min_c__lt=models.F("range_max_c")),
                name="shipment_range_ordered",
            ),
        ]

    def __str__(self) -> str:
        return f"SH-{self.pk} {self.get_kind_display()}"

    def can_transition_to(self, status: str) -> bool:
        return status in self.ALLOWED_TRANSITIONS.get(self.status, set())


def logger_path(instance: LoggerFile, filename: str) -> str:
    return f"loggers/{instance.lab_id}/{instance.sha256[:2]}/{instance.sha256}.csv"


class LoggerFile(models.Model):
    """A temperature data-logger export, kept as it came (SHA-256), and what it showed."""

    lab = models.ForeignKey("labs.Lab", on_delete=models.PROTECT, related_name="+")
    shipment = models.ForeignKey(Shipment, on_delete=models.PROTECT, related_name="logger_files")
    filename = models.CharField(max_length=255)
    size_bytes = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    file = models.FileField(upload_to=logger_path)
    readings = models.PositiveIntegerField()
    first_at = models.DateTimeField()
    last_at = models.DateTimeField()
    min_c = models.FloatField()
    max_c = models.FloatField()
    minutes_outside = models.FloatField()
    excursions = models.JSONField(default=list)
    gaps = models.JSONField(default=list)
    notes = models.JSONField(default=list, help_text=_("What was tolerated while reading it."))
    series = models.JSONField(default=list, help_text=_("Downsampled (time, °C) for the plot."))
    deviation = models.ForeignKey(
        "qc.Deviation", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    uploaded_at = models.DateTimeField(auto_now_add=True)

    objects = LabScopedQuerySet.as_manager()
    lab_field = "lab"

    class Meta:
        ordering = ["uploaded_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["shipment", "sha256"], name="logger_file_once"),
        ]

    def __str__(self) -> str:
        return f"{self.filename} ({self.sha256[:12]})"

    @property
    def in_range(self) -> bool:
        return not self.excursions and not self.gaps
