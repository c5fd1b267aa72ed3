"""Chain of identity and custody: scans, hand-offs, shipments, label prints, the vault."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from protocol_tracker.api.serializers.common import PasswordField, ScopedPrimaryKeyField
from protocol_tracker.custody.models import (
    Condition,
    HandOff,
    IdentityScan,
    Item,
    ItemKind,
    LoggerFile,
    ScanMethod,
    Shipment,
    ShipmentKind,
)
from protocol_tracker.identity.labels import TEMPLATES
from protocol_tracker.identity.models import IdentifierKind, LabelFormat, LabelPrint
from protocol_tracker.protocols.models import CheckpointTemplate
from protocol_tracker.runs.models import Run, StageRun

# --- items and scans -----------------------------------------------------------------------


class ItemSerializer(serializers.ModelSerializer):
    coi = serializers.CharField(source="coi.value", read_only=True)
    run_code = serializers.CharField(source="run.code", read_only=True)

    class Meta:
        model = Item
        fields = ["id", "run", "run_code", "coi", "kind", "item_id", "description", "created_at"]
        read_only_fields = fields


class IdentityScanCreateSerializer(serializers.Serializer):
    stage_run = ScopedPrimaryKeyField(model=StageRun)
    checkpoint = ScopedPrimaryKeyField(
        model=CheckpointTemplate, help_text="An identity checkpoint."
    )
    scanned = serializers.CharField(
        max_length=600,
        trim_whitespace=False,
        help_text="What the scanner typed (COI/item id), or what was typed by hand.",
    )
    method = serializers.ChoiceField(choices=ScanMethod.choices, default=ScanMethod.SCANNER)
    item = serializers.CharField(
        max_length=32,
        required=False,
        allow_blank=True,
        default="",
        help_text="The item id expected here, when the person picked one.",
    )
    witness = serializers.CharField(
        max_length=150,
        required=False,
        allow_blank=True,
        default="",
        help_text="Username of the second person (typed entries; two-person checkpoints).",
    )
    witness_password = PasswordField(required=False, allow_blank=True, default="")


class IdentityScanSerializer(serializers.ModelSerializer):
    checkpoint_key = serializers.CharField(source="checkpoint.key", read_only=True)
    item = serializers.CharField(source="item.item_id", read_only=True, default=None)
    deviation = serializers.SerializerMethodField()
    stage_blocked = serializers.SerializerMethodField()
    witness = serializers.CharField(
        source="witness_signature.signer_name", read_only=True, default=None
    )

    class Meta:
        model = IdentityScan
        fields = [
            "id",
            "run",
            "stage_run",
            "checkpoint",
            "checkpoint_key",
            "scanned",
            "method",
            "verdict",
            "reason",
            "expected_coi",
            "item",
            "qc_result",
            "deviation",
            "stage_blocked",
            "witness",
            "scanned_by",
            "scanned_at",
        ]
        read_only_fields = fields

    @extend_schema_field({"type": "integer", "nullable": True})
    def get_deviation(self, scan):
        deviations = list(scan.qc_result.deviations.all())
        return deviations[0].pk if deviations else None

    @extend_schema_field(serializers.BooleanField())
    def get_stage_blocked(self, scan) -> bool:
        return not scan.passed


# --- hand-offs ------------------------------------------------------------------------------


class HandOffSerializer(serializers.ModelSerializer):
    item_id = serializers.CharField(source="item.item_id", read_only=True)

    class Meta:
        model = HandOff
        fields = [
            "id",
            "run",
            "item",
            "item_id",
            "shipment",
            "from_party",
            "from_location",
            "to_party",
            "to_location",
            "sent_by",
            "sent_at",
            "sent_scan",
            "received_by",
            "received_at",
            "received_scan",
            "condition",
            "temperature_c",
            "note",
        ]
        read_only_fields = fields


class HandOffCreateSerializer(serializers.Serializer):
    item = serializers.CharField(max_length=32, help_text="The item id on the label.")
    from_party = serializers.CharField(max_length=200)
    from_location = serializers.CharField(max_length=200)
    to_party = serializers.CharField(max_length=200)
    to_location = serializers.CharField(max_length=200)
    sent_at = serializers.DateTimeField()
    scanned = serializers.CharField(max_length=600, trim_whitespace=False)
    shipment = ScopedPrimaryKeyField(model=Shipment, required=False, allow_null=True)
    note = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class HandOffReceiveSerializer(serializers.Serializer):
    received_at = serializers.DateTimeField()
    scanned = serializers.CharField(max_length=600, trim_whitespace=False)
    condition = serializers.ChoiceField(choices=Condition.choices)
    temperature_c = serializers.FloatField(required=False, allow_null=True, default=None)
    note = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


# --- shipments ------------------------------------------------------------------------------


class LoggerFileSerializer(serializers.ModelSerializer):
    class Meta:
        model = LoggerFile
        fields = [
            "id",
            "filename",
            "size_bytes",
            "sha256",
            "readings",
            "first_at",
            "last_at",
            "min_c",
            "max_c",
            "minutes_outside",
            "excursions",
            "gaps",
            "notes",
            "deviation",
            "uploaded_by",
            "uploaded_at",
        ]
        read_only_fields = fields


class ShipmentSerializer(serializers.ModelSerializer):
    logger_files = LoggerFileSerializer(many=True, read_only=True)
    draw_to_receipt_hours = serializers.SerializerMethodField()

    class Meta:
        model = Shipment
        fields = [
            "id",
            "run",
            "kind",
            "status",
            "courier",
            "tracking",
            "origin",
            "destination",
            "range_min_c",
            "range_max_c",
            "drawn_at",
            "packed_at",
            "shipped_at",
            "received_at",
            "draw_to_receipt_hours",
            "logger_files",
            "created_by",
            "created_at",
        ]
        read_only_fields = fields

    @extend_schema_field({"type": "number", "nullable": True})
    def get_draw_to_receipt_hours(self, shipment):
        if shipment.drawn_at is None or shipment.received_at is None:
            return None
        return round((shipment.received_at - shipment.drawn_at).total_seconds() / 3600, 2)


class ShipmentCreateSerializer(serializers.Serializer):
    run = ScopedPrimaryKeyField(model=Run)
    kind = serializers.ChoiceField(choices=ShipmentKind.choices)
    courier = serializers.CharField(max_length=200)
    tracking = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    origin = serializers.CharField(max_length=200)
    destination = serializers.CharField(max_length=200)
    range_min_c = serializers.FloatField(help_text="e.g. 2 for 2-8 °C, 15 for 15-25 °C.")
    range_max_c = serializers.FloatField()
    drawn_at = serializers.DateTimeField(required=False, allow_null=True, default=None)
    packed_at = serializers.DateTimeField()
    shipped_at = serializers.DateTimeField(required=False, allow_null=True, default=None)


class ShipmentReceiveSerializer(serializers.Serializer):
    received_at = serializers.DateTimeField()
    shipped_at = serializers.DateTimeField(required=False, allow_null=True, default=None)


class LoggerUploadSerializer(serializers.Serializer):
    file = serializers.FileField(
        allow_empty_file=False,
        help_text="The data logger's CSV export (time, temperature; BOM, ';', decimal commas "
        "and time-zone suffixes are read).",
    )


# --- labels ---------------------------------------------------------------------------------


class LabelPrintSerializer(serializers.ModelSerializer):
    used = serializers.IntegerField(source="used_total", read_only=True)
    destroyed = serializers.IntegerField(source="destroyed_total", read_only=True)
    unaccounted = serializers.SerializerMethodField()
    coi = serializers.CharField(source="coi.value", read_only=True, default=None)
    items = serializers.SerializerMethodField()

    class Meta:
        model = LabelPrint
        fields = [
            "id",
            "coi",
            "subject_type",
            "subject_id",
            "template",
            "output",
            "sheet",
            "copies",
            "label_count",
            "items",
            "with_patient_identifiers",
            "reprint_of",
            "reason",
            "document_sha256",
            "printed_by",
            "printed_at",
            "used",
            "destroyed",
            "unaccounted",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.IntegerField())
    def get_unaccounted(self, record) -> int:
        return record.label_count - record.used_total - record.destroyed_total

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_items(self, record) -> list[str]:
        return [label.get("title", "") for label in record.labels]


class LabelPrintCreateSerializer(serializers.Serializer):
    template = serializers.ChoiceField(choices=[(k, k) for k in TEMPLATES])
    count = serializers.IntegerField(
        min_value=1, max_value=500, required=False, help_text="New items to label."
    )
    kind = serializers.ChoiceField(choices=ItemKind.choices, required=False)
    items = serializers.ListField(
        child=serializers.CharField(max_length=32),
        required=False,
        max_length=500,
        help_text="Item ids whose labels are reprinted (with reprint_of and reason).",
    )
    copies = serializers.IntegerField(min_value=1, max_value=100, default=1)
    format = serializers.ChoiceField(choices=LabelFormat.choices, default=LabelFormat.PDF)
    sheet = serializers.ChoiceField(choices=[("roll", "roll"), ("a4", "a4")], default="roll")
    reprint_of = ScopedPrimaryKeyField(model=LabelPrint, required=False, allow_null=True)
    reason = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")
    with_patient_identifiers = serializers.BooleanField(default=False)


class LabelReconcileSerializer(serializers.Serializer):
    used = serializers.IntegerField(min_value=0, max_value=100000, default=0)
    destroyed = serializers.IntegerField(min_value=0, max_value=100000, default=0)
    reason = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


# --- the vault and computed results ---------------------------------------------------------


class PatientIdentifiersSerializer(serializers.Serializer):
    values = serializers.DictField(
        child=serializers.CharField(max_length=200),
        help_text=f"Kind -> value; kinds: {', '.join(IdentifierKind.values)}.",
    )
    reason = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class PatientIdentifierKindsSerializer(serializers.Serializer):
    coi = serializers.CharField()
    kinds = serializers.ListField(child=serializers.CharField(), help_text="On record (no values).")


class RevealSerializer(serializers.Serializer):
    purpose = serializers.CharField(max_length=300, help_text="Why you read them (audited).")


class RevealedSerializer(serializers.Serializer):
    coi = serializers.CharField()
    identifiers = serializers.DictField(child=serializers.CharField())


class ComputedResultCreateSerializer(serializers.Serializer):
    stage_run = ScopedPrimaryKeyField(model=StageRun)
    checkpoint = ScopedPrimaryKeyField(
        model=CheckpointTemplate, help_text="A checkpoint computed from the run's records."
    )
