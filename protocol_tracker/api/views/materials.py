"""Materials, material lots (receipt, release, recall, where used) and equipment (register,
calibration and maintenance records, status); and the lots and equipment a stage run used.

Thin: validate, call one service or selector, serialize. People only (instrument tokens get
403); another lab's objects are 404s, and a body naming one is a 400 on that field.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response

from labs.models import CAN_MANAGE, CAN_REVIEW, CAN_WORK
from protocol_tracker.api.idempotency import idempotent
from protocol_tracker.api.parsers import LimitedJSONParser
from protocol_tracker.api.serializers.materials import (
    CalibrationCreateSerializer,
    CalibrationSerializer,
    EquipmentCreateSerializer,
    EquipmentSerializer,
    EquipmentStatusSerializer,
    LotCoaSerializer,
    LotRecallSerializer,
    LotReceiveSerializer,
    LotReleaseSerializer,
    LotSerializer,
    LotUsageSerializer,
    MaintenanceCreateSerializer,
    MaintenanceSerializer,
    MaterialCreateSerializer,
    MaterialSerializer,
    UsageOutSerializer,
    UsageSerializer,
    lot_uses,
)
from protocol_tracker.api.views.base import LabScopedViewSet
from protocol_tracker.api.views.protocols import lab_for_create
from protocol_tracker.equipment import selectors as equipment_selectors
from protocol_tracker.equipment import services as equipment_services
from protocol_tracker.equipment.models import CalibrationRecord, Equipment
from protocol_tracker.materials import selectors as material_selectors
from protocol_tracker.materials import services as material_services
from protocol_tracker.materials.models import Material, MaterialLot
from protocol_tracker.recalls.services import lot_recall
from protocol_tracker.usage import selectors as usage_selectors
from protocol_tracker.usage import services as usage_services
from protocol_tracker.usage.models import EquipmentUse, LotConsumption

PARSERS = [LimitedJSONParser, MultiPartParser, FormParser]


def _location(kind: str, pk: int) -> dict:
    return {"Location": f"/api/v1/{kind}/{pk}/"}


def _file(data, name: str) -> tuple[bytes | None, str]:
    upload = data.get(name)
    return (upload.read(), upload.name) if upload is not None else (None, "")


@extend_schema_view(
    list=extend_schema(summary="The materials catalogues of your labs"),
    retrieve=extend_schema(summary="One material"),
)
class MaterialViewSet(LabScopedViewSet):
    model = Material
    selector = staticmethod(material_selectors.materials_for_user)
    serializer_class = MaterialSerializer
    serializers = {"create": MaterialCreateSerializer}
    filter_backends: list = []
    action_roles = {"create": CAN_MANAGE}

    @extend_schema(
        request=MaterialCreateSerializer,
        responses={201: MaterialSerializer},
        summary="Add a material to the catalogue (reviewer or lab admin)",
    )
    @idempotent
    def create(self, request):
        data = self.validated()
        lab = lab_for_create(request, data.pop("lab", None), CAN_MANAGE)
        material = material_services.material_create(lab=lab, actor=request.user, **data)
        return self.output(
            self.get_queryset().get(pk=material.pk),
            MaterialSerializer,
            status_code=status.HTTP_201_CREATED,
            headers=_location("materials", material.pk),
        )


@extend_schema_view(
    list=extend_schema(
        summary="Material lots of your labs (?status=, ?material=), first expiry first"
    ),
    retrieve=extend_schema(summary="One lot"),
)
class MaterialLotViewSet(LabScopedViewSet):
    model = MaterialLot
    serializer_class = LotSerializer
    serializers = {
        "create": LotReceiveSerializer,
        "release": LotReleaseSerializer,
        "recall": LotRecallSerializer,
        "coa": LotCoaSerializer,
    }
    filter_backends: list = []
    parser_classes = PARSERS
    action_roles = {
        "create": CAN_WORK,
        "release": CAN_REVIEW,
        "recall": CAN_REVIEW,
        "coa": CAN_WORK,
    }

    def get_queryset(self):
        params = self.request.query_params
        material = params.get("material")
        return material_selectors.lots_for_user(
            self.request.user,
            status=params.get("status") or None,
            material_id=int(material) if material and material.isdigit() else None,
        )

    def _out(self, lot, status_code=status.HTTP_200_OK, headers=None):
        return self.output(
            self.get_queryset().get(pk=lot.pk),
            LotSerializer,
            status_code=status_code,
            headers=headers,
        )

    @extend_schema(
        request={
            "multipart/form-data": LotReceiveSerializer,
            "application/json": LotReceiveSerializer,
        },
        responses={201: LotSerializer},
        summary="Receive a lot into quarantine (with its CoA file, multipart)",
    )
    @idempotent
    def create(self, request):
        data = self.validated()
        material = data["material"]
        self.require_role_in(material.lab_id)
        coa, coa_name = _file(data, "coa")
        lot = material_services.lot_receive(
            material=material,
            lot_number=data["lot_number"],
            expiry_date=data["expiry_date"],
            quantity=data["quantity"],
            unit=data["unit"] or None,
            received_at=data["received_at"],
            coa=coa,
            coa_filename=coa_name,
            notes=data["notes"],
            actor=request.user,
        )
        return self._out(lot, status.HTTP_201_CREATED, _location("material-lots", lot.pk))

    @extend_schema(
        request=LotReleaseSerializer,
        responses=LotSerializer,
        summary="Release the lot with your signature (reviewer; not its receiver)",
    )
    @action(detail=True, methods=["post"])
    def release(self, request, pk=None):
        lot = self.get_object()
        data = self.validated()
        return self._out(
            material_services.lot_release(
                lot=lot, actor=request.user, password=data["password"], statement=data["statement"]
            )
        )

    @extend_schema(
        request=LotRecallSerializer,
        responses=LotUsageSerializer,
        summary="Recall the lot (reviewer, signed): every run that used it is flagged, "
        "gets a deviation, and the reviewers are told",
    )
    @action(detail=True, methods=["post"])
    def recall(self, request, pk=None):
        lot = self.get_object()
        data = self.validated()
        lot_recall(lot=lot, actor=request.user, password=data["password"], reason=data["reason"])
        return self._usage(lot)

    @extend_schema(
        request={"multipart/form-data": LotCoaSerializer},
        responses=LotSerializer,
        summary="Attach the certificate of analysis (quarantine only)",
    )
    @action(detail=True, methods=["post"])
    def coa(self, request, pk=None):
        lot = self.get_object()
        data, name = _file(self.validated(), "coa")
        return self._out(
            material_services.lot_coa_attach(lot=lot, data=data, filename=name, actor=request.user)
        )

    @extend_schema(
        responses=LotUsageSerializer,
        summary="Where used: every run and stage run that drew the lot (one query)",
    )
    @action(detail=True, methods=["get"])
    def usage(self, request, pk=None):
        return self._usage(self.get_object())

    def _usage(self, lot):
        rows = usage_selectors.lot_where_used(lot=lot)
        body = {"lot": lot.pk, "runs": len({r["run_id"] for r in rows}), "uses": rows}
        return Response(LotUsageSerializer(body).data)


@extend_schema_view(
    list=extend_schema(summary="Equipment of your labs, with whether each may be used now"),
    retrieve=extend_schema(summary="One piece of equipment"),
)
class EquipmentViewSet(LabScopedViewSet):
    model = Equipment
    serializer_class = EquipmentSerializer
    serializers = {
        "create": EquipmentCreateSerializer,
        "set_status": EquipmentStatusSerializer,
        "maintenance": MaintenanceCreateSerializer,
    }
    filter_backends: list = []
    parser_classes = PARSERS
    action_roles = {
        "create": CAN_MANAGE,
        "calibrate": CAN_WORK,
        "maintenance": CAN_WORK,
        "set_status": CAN_WORK,
    }

    def get_queryset(self):
        params = self.request.query_params
        return equipment_selectors.equipment_for_user(
            self.request.user, kind=params.get("kind") or None, status=params.get("status") or None
        )

    def _out(self, equipment, status_code=status.HTTP_200_OK, headers=None):
        return self.output(
            self.get_queryset().get(pk=equipment.pk),
            EquipmentSerializer,
            status_code=status_code,
            headers=headers,
        )

    @extend_schema(
        request=EquipmentCreateSerializer,
        responses={201: EquipmentSerializer},
        summary="Add equipment to the register (reviewer or lab admin)",
    )
    @idempotent
    def create(self, request):
        data = self.validated()
        lab = lab_for_create(request, data.pop("lab", None), CAN_MANAGE)
        equipment = equipment_services.equipment_create(lab=lab, actor=request.user, **data)
        return self._out(equipment, status.HTTP_201_CREATED, _location("equipment", equipment.pk))

    @extend_schema(
        request=None,
        responses=CalibrationSerializer(many=True),
        summary="Its calibration records, newest first",
    )
    @action(detail=True, methods=["get"])
    def calibrations(self, request, pk=None):
        equipment = self.get_object()
        records = CalibrationRecord.objects.for_user(request.user).filter(equipment=equipment)
        return Response(
            CalibrationSerializer(records.order_by("-performed_at", "-id"), many=True).data
        )

    @extend_schema(
        request={
            "multipart/form-data": CalibrationCreateSerializer,
            "application/json": CalibrationCreateSerializer,
        },
        responses={201: CalibrationSerializer},
        summary="Record a calibration (with its certificate, multipart)",
    )
    @calibrations.mapping.post
    @idempotent
    def calibrate(self, request, pk=None):
        return self._record(self.get_object(), CalibrationCreateSerializer)

    @extend_schema(
        request={
            "multipart/form-data": MaintenanceCreateSerializer,
            "application/json": MaintenanceCreateSerializer,
        },
        responses={201: MaintenanceSerializer},
        summary="Record maintenance",
    )
    @action(detail=True, methods=["post"])
    @idempotent
    def maintenance(self, request, pk=None):
        return self._record(self.get_object(), MaintenanceCreateSerializer)

    def _record(self, equipment, serializer_class):
        data = self.validated(serializer_class)
        certificate, name = _file(data, "certificate")
        common = {
            "equipment": equipment,
            "performed_at": data["performed_at"],
            "performed_by": data["performed_by"],
            "next_due": data["next_due"],
            "notes": data["notes"],
            "certificate": certificate,
            "certificate_filename": name,
            "supersedes": data["supersedes"],
            "reason": data["reason"],
            "actor": self.request.user,
        }
        if serializer_class is CalibrationCreateSerializer:
            record = equipment_services.calibration_record_add(passed=data["passed"], **common)
            out = CalibrationSerializer(record).data
        else:
            record = equipment_services.maintenance_record_add(kind=data["kind"], **common)
            out = MaintenanceSerializer(record).data
        return Response(out, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=EquipmentStatusSerializer,
        responses=EquipmentSerializer,
        summary="Take out of service (anyone who works), return to service or "
        "retire (reviewer or lab admin)",
    )
    @action(detail=True, methods=["post"], url_path="status")
    def set_status(self, request, pk=None):
        equipment = self.get_object()
        data = self.validated()
        return self._out(
            equipment_services.equipment_status_set(
                equipment=equipment,
                status=data["status"],
                reason=data["reason"],
                actor=request.user,
            )
        )


class StageUsageActions:
    """``/stage-runs/{id}/usage/``: GET what the stage run used; POST the lots and equipment
    used (a stage in progress; the same gates as its completion)."""

    @extend_schema(
        request=None,
        responses=UsageOutSerializer,
        summary="The lots and equipment the stage run used",
    )
    @action(detail=True, methods=["get"])
    def usage(self, request, pk=None):
        stage_run = self.get_object()  # type: ignore[attr-defined]
        body = {
            "consumptions": LotConsumption.objects.for_user(request.user)
            .filter(stage_run=stage_run)
            .select_related("lot")
            .order_by("id"),
            "equipment_uses": EquipmentUse.objects.for_user(request.user)
            .filter(stage_run=stage_run)
            .select_related("equipment")
            .order_by("id"),
            "warnings": [],
        }
        return Response(UsageOutSerializer(body).data)

    @extend_schema(
        request=UsageSerializer,
        responses={201: UsageOutSerializer},
        summary="Record lots and equipment used by a stage in progress",
    )
    @usage.mapping.post
    @idempotent
    def record_usage(self, request, pk=None):
        stage_run = self.get_object()  # type: ignore[attr-defined]
        data = self.validated(UsageSerializer)  # type: ignore[attr-defined]
        recorded = usage_services.stage_usage_record(
            stage_run=stage_run,
            actor=request.user,
            lots=lot_uses(data["lots"]),
            equipment=data["equipment"],
        )
        body = {
            "consumptions": recorded.consumptions,
            "equipment_uses": recorded.uses,
            "warnings": recorded.warnings,
        }
        return Response(UsageOutSerializer(body).data, status=status.HTTP_201_CREATED)
