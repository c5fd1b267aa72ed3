"""Storage (tanks, racks, boxes, positions and the box map), vials and vessels."""

from __future__ import annotations

from rest_framework import serializers

from labs.models import Lab
from protocol_tracker.api.serializers.common import (
    ColleagueField,
    ScopedPrimaryKeyField,
    SparseFieldsMixin,
)
from protocol_tracker.api.serializers.materials import QuantityField
from protocol_tracker.cellbank.models import BankTier, Vessel, VesselKind, Vial
from protocol_tracker.cellbank.services import MAX_VIALS_PER_FREEZE
from protocol_tracker.equipment.models import Equipment
from protocol_tracker.inventory.models import MAX_BOX_SIDE, Box, Position, Rack, StorageKind, Tank
from protocol_tracker.inventory.selectors import location_of
from protocol_tracker.materials.models import MaterialLot
from protocol_tracker.runs.models import Run, StageRun


class BoxSummarySerializer(serializers.ModelSerializer):
    class Meta:
        model = Box
        fields = ["id", "code", "rows", "columns", "label"]
        read_only_fields = fields


class RackSerializer(serializers.ModelSerializer):
    boxes = BoxSummarySerializer(many=True, read_only=True)

    class Meta:
        model = Rack
        fields = ["id", "code", "boxes"]
        read_only_fields = fields


class TankSerializer(SparseFieldsMixin, serializers.ModelSerializer):
    racks = RackSerializer(many=True, read_only=True)

    class Meta:
        model = Tank
        fields = [
            "id",
            "lab",
            "code",
            "name",
            "kind",
            "location",
            "equipment",
            "is_active",
            "racks",
        ]
        read_only_fields = fields


class TankCreateSerializer(serializers.Serializer):
    lab = ScopedPrimaryKeyField(model=Lab, required=False)
    code = serializers.CharField(max_length=32)
    name = serializers.CharField(max_length=200)
    kind = serializers.ChoiceField(choices=StorageKind.choices)
    location = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    equipment = ScopedPrimaryKeyField(
        model=Equipment, required=False, allow_null=True, default=None
    )


class RackCreateSerializer(serializers.Serializer):
    code = serializers.CharField(max_length=32)


class BoxSerializer(SparseFieldsMixin, serializers.ModelSerializer):
    rack_code = serializers.CharField(source="rack.code", read_only=True)
    tank = serializers.IntegerField(source="rack.tank_id", read_only=True)
    tank_code = serializers.CharField(source="rack.tank.code", read_only=True)

    class Meta:
        model = Box
        fields = [
            "id",
            "lab",
            "tank",
            "tank_code",
            "rack",
            "rack_code",
            "code",
            "rows",
            "columns",
            "label",
        ]
        read_only_fields = fields


class BoxCreateSerializer(serializers.Serializer):
    rack = ScopedPrimaryKeyField(model=Rack)
    code = serializers.CharField(max_length=32)
    rows = serializers.IntegerField(min_value=1, max_value=MAX_BOX_SIDE)
    columns = serializers.IntegerField(min_value=1, max_value=MAX_BOX_SIDE)
    label = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class MapCellSerializer(serializers.Serializer):
    position = serializers.IntegerField(source="position.pk")
    name = serializers.CharField(source="position.name")
    state = serializers.CharField()
    vial = serializers.IntegerField(source="vial.pk", allow_null=True, default=None)
    vial_code = serializers.CharField(source="vial.code", allow_null=True, default=None)
    reserved_for = serializers.SerializerMethodField()

    def get_reserved_for(self, cell) -> str:
        if cell.vial is not None:
            return cell.vial.reserved_for
        return cell.position.reserved_for


class BoxMapSerializer(serializers.Serializer):
    box = BoxSerializer()
    counts = serializers.DictField(child=serializers.IntegerField())
    rows = serializers.ListField(child=MapCellSerializer(many=True))


class PositionSerializer(serializers.ModelSerializer):
    name = serializers.CharField(read_only=True)
    location = serializers.SerializerMethodField()

    class Meta:
        model = Position
        fields = ["id", "box", "row", "column", "name", "location", "reserved_at", "reserved_for"]
        read_only_fields = fields

    def get_location(self, position) -> str:
        return location_of(position)


class ReserveSerializer(serializers.Serializer):
    reserved_for = serializers.CharField(max_length=200)


# --- vials ----------------------------------------------------------------------------------


class VialSerializer(SparseFieldsMixin, serializers.ModelSerializer):
    location = serializers.SerializerMethodField()
    run_code = serializers.CharField(source="run.code", read_only=True, allow_null=True)

    class Meta:
        model = Vial
        fields = [
            "id",
            "lab",
            "code",
            "coi",
            "donor",
            "run",
            "run_code",
            "freeze",
            "passage",
            "cells_per_vial",
            "contents",
            "bank",
            "position",
            "location",
            "status",
            "frozen_at",
            "reserved_for",
            "checked_out_at",
            "checked_out_by",
        ]
        read_only_fields = fields

    def get_location(self, vial) -> str:
        return location_of(vial.position)


class FreezeSerializer(serializers.Serializer):
    stage_run = ScopedPrimaryKeyField(model=StageRun, help_text="The stage in progress.")
    count = serializers.IntegerField(min_value=1, max_value=MAX_VIALS_PER_FREEZE)
    cells_per_vial = serializers.FloatField()
    contents = serializers.CharField(max_length=200)
    bank = serializers.ChoiceField(choices=BankTier.choices, default=BankTier.NONE)
    medium_lot = ScopedPrimaryKeyField(model=MaterialLot, help_text="The freeze medium's lot.")
    medium_quantity = QuantityField()
    medium_unit = serializers.CharField(max_length=16, required=False, allow_blank=True, default="")
    box = ScopedPrimaryKeyField(
        model=Box,
        required=False,
        allow_null=True,
        default=None,
        help_text="Fill its first free positions...",
    )
    positions = serializers.ListField(
        child=ScopedPrimaryKeyField(model=Position),
        required=False,
        default=list,
        max_length=MAX_VIALS_PER_FREEZE,
        help_text="...or these positions, one per vial.",
    )
    freezer = ScopedPrimaryKeyField(model=Equipment, required=False, allow_null=True, default=None)
    volume_ml = serializers.FloatField(required=False, allow_null=True, default=None)
    note = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")
    profile = serializers.FileField(required=False, help_text="The freezing profile (multipart).")


class FreezeOutSerializer(serializers.Serializer):
    freeze = serializers.IntegerField()
    vials = VialSerializer(many=True)


class ThawSerializer(serializers.Serializer):
    scanned_code = serializers.CharField(max_length=200, help_text="What the label scan read.")
    run = ScopedPrimaryKeyField(model=Run, help_text="The run the thaw seeds.")
    vessel_kind = serializers.ChoiceField(choices=VesselKind.choices)
    cells_seeded = serializers.FloatField(required=False, allow_null=True, default=None)
    surface_area_cm2 = serializers.FloatField(required=False, allow_null=True, default=None)
    note = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class CheckOutSerializer(serializers.Serializer):
    scanned_code = serializers.CharField(max_length=200)
    status = serializers.ChoiceField(
        choices=[("withdrawn", "withdrawn"), ("discarded", "discarded")]
    )
    reason = serializers.CharField(max_length=1000)
    received_by = ColleagueField(required=False, allow_null=True, default=None)


class TransferSerializer(serializers.Serializer):
    scanned_code = serializers.CharField(max_length=200)
    to_position = ScopedPrimaryKeyField(model=Position)
    received_by = ColleagueField(required=False, allow_null=True, default=None)
    reason = serializers.CharField(max_length=1000, required=False, allow_blank=True, default="")


# --- vessels --------------------------------------------------------------------------------


class VesselSerializer(SparseFieldsMixin, serializers.ModelSerializer):
    run_code = serializers.CharField(source="run.code", read_only=True)

    class Meta:
        model = Vessel
        fields = [
            "id",
            "lab",
            "code",
            "coi",
            "run",
            "run_code",
            "parent",
            "source_vial",
            "passage",
            "kind",
            "surface_area_cm2",
            "seeded_at",
            "seeded_by",
            "cells_seeded",
            "seeding_density",
            "status",
            "split_ratio",
            "closed_at",
            "note",
        ]
        read_only_fields = fields


class VesselSeedSerializer(serializers.Serializer):
    run = ScopedPrimaryKeyField(model=Run)
    kind = serializers.ChoiceField(choices=VesselKind.choices)
    passage = serializers.IntegerField(required=False, allow_null=True, default=None)
    cells_seeded = serializers.FloatField(required=False, allow_null=True, default=None)
    surface_area_cm2 = serializers.FloatField(required=False, allow_null=True, default=None)
    note = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class SplitSerializer(serializers.Serializer):
    ratio = serializers.IntegerField(help_text="k of the 1:k split.")
    kind = serializers.ChoiceField(
        choices=VesselKind.choices, required=False, allow_null=True, default=None
    )
    cells_per_vessel = serializers.FloatField(required=False, allow_null=True, default=None)
    note = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class ObserveSerializer(serializers.Serializer):
    confluence_percent = serializers.FloatField(required=False, allow_null=True, default=None)
    viable_cells = serializers.FloatField(required=False, allow_null=True, default=None)
    viability_percent = serializers.FloatField(required=False, allow_null=True, default=None)
    note = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class InventoryImportSerializer(serializers.Serializer):
    lab = ScopedPrimaryKeyField(model=Lab, required=False)
    file = serializers.FileField(help_text="The inventory CSV (the export's columns).")


class InventoryImportOutSerializer(serializers.Serializer):
    materials = serializers.IntegerField()
    lots = serializers.IntegerField()
    vials = serializers.IntegerField()
    tanks = serializers.IntegerField()
    racks = serializers.IntegerField()
    boxes = serializers.IntegerField()
