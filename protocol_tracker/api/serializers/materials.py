"""Materials and lots, equipment and its records, and the lots and equipment a stage or a bench
task used."""

from __future__ import annotations

from django.utils import timezone
from rest_framework import serializers

from labs.models import Lab
from protocol_tracker.api.serializers.common import (
    PasswordField,
    ScopedPrimaryKeyField,
    SparseFieldsMixin,
)
from protocol_tracker.api.serializers.runs import NoteSerializer
from protocol_tracker.equipment.models import (
    CalibrationRecord,
    Equipment,
    EquipmentStatus,
    MaintenanceKind,
    MaintenanceRecord,
)
from protocol_tracker.equipment.selectors import equipment_state
from protocol_tracker.materials.models import Material, MaterialKind, MaterialLot
from protocol_tracker.protocols.models import EquipmentKind
from protocol_tracker.specs.quantities import STOCK_UNITS
from protocol_tracker.usage.models import EquipmentUse, LotConsumption
from protocol_tracker.usage.services import LotUse

QUANTITY_HELP = "A positive amount (a number, or a decimal string for exactness)."


class QuantityField(serializers.CharField):
    """An amount as sent (number or decimal string); the services check and convert it."""

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("max_length", 40)
        kwargs.setdefault("help_text", QUANTITY_HELP)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if isinstance(data, bool):
            self.fail("invalid")
        return super().to_internal_value(data)


# --- materials ------------------------------------------------------------------------------


class MaterialSerializer(SparseFieldsMixin, serializers.ModelSerializer):
    released_lots = serializers.IntegerField(read_only=True)

    class Meta:
        model = Material
        fields = [
            "id",
            "lab",
            "code",
            "name",
            "kind",
            "supplier",
            "catalogue_number",
            "unit",
            "storage",
            "expiry_warning_days",
            "is_active",
            "released_lots",
            "created_at",
        ]
        read_only_fields = fields


class MaterialCreateSerializer(serializers.Serializer):
    lab = ScopedPrimaryKeyField(model=Lab, required=False, help_text="When you work in several.")
    code = serializers.CharField(max_length=64, help_text="What protocols' bills name it by.")
    name = serializers.CharField(max_length=200)
    kind = serializers.ChoiceField(choices=MaterialKind.choices)
    unit = serializers.ChoiceField(choices=[(u, u) for u in STOCK_UNITS])
    supplier = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    catalogue_number = serializers.CharField(
        max_length=100, required=False, allow_blank=True, default=""
    )
    storage = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    expiry_warning_days = serializers.IntegerField(
        min_value=0, max_value=365, required=False, allow_null=True, default=None
    )


class LotSerializer(SparseFieldsMixin, serializers.ModelSerializer):
    material_code = serializers.CharField(source="material.code", read_only=True)
    material_name = serializers.CharField(source="material.name", read_only=True)
    quantity_received = serializers.DecimalField(max_digits=18, decimal_places=6, read_only=True)
    quantity_remaining = serializers.DecimalField(max_digits=18, decimal_places=6, read_only=True)

    class Meta:
        model = MaterialLot
        fields = [
            "id",
            "lab",
            "material",
            "material_code",
            "material_name",
            "lot_number",
            "code",
            "expiry_date",
            "status",
            "status_reason",
            "unit",
            "quantity_received",
            "quantity_remaining",
            "received_at",
            "received_by",
            "coa_filename",
            "coa_sha256",
            "released_at",
            "released_by",
            "release_signature",
        ]
        read_only_fields = fields


class LotReceiveSerializer(serializers.Serializer):
    material = ScopedPrimaryKeyField(model=Material)
    lot_number = serializers.CharField(max_length=64)
    expiry_date = serializers.DateField(help_text="Expired from the start of this date, lab time.")
    quantity = QuantityField()
    unit = serializers.CharField(max_length=16, required=False, allow_blank=True, default="")
    received_at = serializers.DateTimeField(required=False, allow_null=True, default=None)
    notes = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")
    coa = serializers.FileField(required=False, help_text="Certificate of analysis (multipart).")


class LotReleaseSerializer(serializers.Serializer):
    password = PasswordField()
    statement = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")


class LotRecallSerializer(serializers.Serializer):
    password = PasswordField()
    reason = serializers.CharField(max_length=1000)


class LotCoaSerializer(serializers.Serializer):
    coa = serializers.FileField()


class LotUsageRowSerializer(serializers.Serializer):
    """One use of a lot: the run and stage run (or bench task) that drew it."""

    id = serializers.IntegerField()
    run = serializers.IntegerField(source="run_id")
    run_code = serializers.CharField(source="run__code")
    run_status = serializers.CharField(source="run__status")
    run_flagged = serializers.BooleanField(source="run__flagged")
    donor_code = serializers.CharField(source="run__donor__code")
    stage_run = serializers.IntegerField(source="stage_run_id")
    stage_key = serializers.CharField(source="stage_run__stage__key")
    stage_name = serializers.CharField(source="stage_run__stage__name")
    task_occurrence = serializers.IntegerField(source="task_occurrence_id", allow_null=True)
    task_name = serializers.CharField(source="task_occurrence__task__name", allow_null=True)
    purpose = serializers.CharField()
    quantity = serializers.DecimalField(max_digits=18, decimal_places=6)
    unit = serializers.CharField()
    consumed_at = serializers.DateTimeField()
    consumed_by = serializers.CharField(source="consumed_by__username")
    near_expiry = serializers.BooleanField()


class LotUsageSerializer(serializers.Serializer):
    lot = serializers.IntegerField()
    runs = serializers.IntegerField(help_text="How many runs used the lot.")
    uses = LotUsageRowSerializer(many=True)


# --- equipment ------------------------------------------------------------------------------


class EquipmentSerializer(SparseFieldsMixin, serializers.ModelSerializer):
    usable = serializers.SerializerMethodField()
    problem = serializers.SerializerMethodField()
    warnings = serializers.SerializerMethodField()

    class Meta:
        model = Equipment
        fields = [
            "id",
            "lab",
            "code",
            "name",
            "kind",
            "make",
            "model",
            "serial",
            "location",
            "instrument",
            "status",
            "status_reason",
            "calibration_interval_days",
            "maintenance_interval_days",
            "calibration_due",
            "maintenance_due",
            "reminder_lead_days",
            "usable",
            "problem",
            "warnings",
        ]
        read_only_fields = fields

    def _state(self, equipment):
        cache = self.context.setdefault("_states", {})
        if equipment.pk not in cache:
            cache[equipment.pk] = equipment_state(equipment, now=timezone.now())
        return cache[equipment.pk]

    def get_usable(self, equipment) -> bool:
        return self._state(equipment).usable

    def get_problem(self, equipment) -> str:
        return self._state(equipment).problem

    def get_warnings(self, equipment) -> list[str]:
        return self._state(equipment).warnings


class EquipmentCreateSerializer(serializers.Serializer):
    lab = ScopedPrimaryKeyField(model=Lab, required=False)
    code = serializers.CharField(max_length=64, help_text="The asset tag.")
    name = serializers.CharField(max_length=200)
    kind = serializers.ChoiceField(choices=EquipmentKind.choices)
    make = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    model = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    serial = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    location = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    calibration_interval_days = serializers.IntegerField(
        required=False, allow_null=True, default=None
    )
    maintenance_interval_days = serializers.IntegerField(
        required=False, allow_null=True, default=None
    )
    reminder_lead_days = serializers.IntegerField(required=False, default=14)


class ServiceRecordSerializer(serializers.ModelSerializer):
    class Meta:
        fields = [
            "id",
            "equipment",
            "performed_at",
            "performed_by",
            "next_due",
            "notes",
            "certificate_filename",
            "certificate_sha256",
            "recorded_by",
            "recorded_at",
            "supersedes",
            "reason",
        ]
        read_only_fields = fields


class CalibrationSerializer(ServiceRecordSerializer):
    class Meta(ServiceRecordSerializer.Meta):
        model = CalibrationRecord
        fields = [*ServiceRecordSerializer.Meta.fields, "passed"]
        read_only_fields = fields


class MaintenanceSerializer(ServiceRecordSerializer):
    class Meta(ServiceRecordSerializer.Meta):
        model = MaintenanceRecord
        fields = [*ServiceRecordSerializer.Meta.fields, "kind"]
        read_only_fields = fields


class _RecordCreateSerializer(serializers.Serializer):
    performed_at = serializers.DateTimeField()
    performed_by = serializers.CharField(max_length=200)
    next_due = serializers.DateField(required=False, allow_null=True, default=None)
    notes = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")
    certificate = serializers.FileField(required=False)
    reason = serializers.CharField(
        max_length=1000,
        required=False,
        allow_blank=True,
        default="",
        help_text="Why it corrects the record it supersedes.",
    )


class CalibrationCreateSerializer(_RecordCreateSerializer):
    passed = serializers.BooleanField()
    supersedes = ScopedPrimaryKeyField(
        model=CalibrationRecord, required=False, allow_null=True, default=None
    )


class MaintenanceCreateSerializer(_RecordCreateSerializer):
    kind = serializers.ChoiceField(choices=MaintenanceKind.choices)
    supersedes = ScopedPrimaryKeyField(
        model=MaintenanceRecord, required=False, allow_null=True, default=None
    )


class EquipmentStatusSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=EquipmentStatus.choices)
    reason = serializers.CharField(max_length=1000)


# --- the lots and equipment a stage or bench task used --------------------------------------


class LotUseSerializer(serializers.Serializer):
    lot = ScopedPrimaryKeyField(model=MaterialLot)
    quantity = QuantityField(required=False, allow_null=True, default=None)
    unit = serializers.CharField(max_length=16, required=False, allow_blank=True, default="")
    material = serializers.CharField(
        max_length=64,
        required=False,
        allow_blank=True,
        default="",
        help_text="The bill line's material code (default: the lot's material).",
    )

    def to_use(self, data) -> LotUse:
        return LotUse(data["lot"], data["quantity"], data["unit"], data["material"])


class UsageSerializer(serializers.Serializer):
    lots = LotUseSerializer(many=True, required=False, default=list, max_length=100)
    equipment = serializers.ListField(
        child=ScopedPrimaryKeyField(model=Equipment),
        required=False,
        default=list,
        max_length=50,
    )


class TaskDoneSerializer(NoteSerializer):
    lots = LotUseSerializer(many=True, required=False, default=list, max_length=100)


def lot_uses(rows) -> list[LotUse]:
    return [LotUse(r["lot"], r["quantity"], r["unit"], r["material"]) for r in rows]


class ConsumptionSerializer(serializers.ModelSerializer):
    lot_code = serializers.CharField(source="lot.code", read_only=True)

    class Meta:
        model = LotConsumption
        fields = [
            "id",
            "lot",
            "lot_code",
            "run",
            "stage_run",
            "task_occurrence",
            "material_code",
            "quantity",
            "unit",
            "purpose",
            "consumed_at",
            "consumed_by",
            "days_to_expiry",
            "near_expiry",
            "warning",
        ]
        read_only_fields = fields


class EquipmentUseSerializer(serializers.ModelSerializer):
    code = serializers.CharField(source="equipment.code", read_only=True)

    class Meta:
        model = EquipmentUse
        fields = [
            "id",
            "equipment",
            "code",
            "run",
            "stage_run",
            "kind",
            "used_at",
            "used_by",
            "calibration_due",
            "warning",
        ]
        read_only_fields = fields


class UsageOutSerializer(serializers.Serializer):
    consumptions = ConsumptionSerializer(many=True)
    equipment_uses = EquipmentUseSerializer(many=True)
    warnings = serializers.ListField(child=serializers.CharField())
