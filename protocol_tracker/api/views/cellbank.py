"""Storage (tanks, racks, boxes and their map, positions), vials (freeze, thaw, check out,
transfer, reserve), vessels (seed, split, observe) and the inventory's import and export.

People only; another lab's objects are 404s, a body naming one is a 400 on that field.
"""

from __future__ import annotations

from django.http import HttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response

from labs.models import CAN_MANAGE, CAN_WORK
from labs.selectors import labs_for_user
from protocol_tracker.api.idempotency import idempotent
from protocol_tracker.api.permissions import LabRolePermission
from protocol_tracker.api.serializers.cellbank import (
    BoxCreateSerializer,
    BoxMapSerializer,
    BoxSerializer,
    CheckOutSerializer,
    FreezeOutSerializer,
    FreezeSerializer,
    InventoryImportOutSerializer,
    InventoryImportSerializer,
    ObserveSerializer,
    PositionSerializer,
    RackCreateSerializer,
    RackSerializer,
    ReserveSerializer,
    SplitSerializer,
    TankCreateSerializer,
    TankSerializer,
    ThawSerializer,
    TransferSerializer,
    VesselSeedSerializer,
    VesselSerializer,
    VialSerializer,
)
from protocol_tracker.api.views.base import LabScopedViewSet
from protocol_tracker.api.views.materials import PARSERS
from protocol_tracker.api.views.protocols import lab_for_create
from protocol_tracker.cellbank import selectors as bank_selectors
from protocol_tracker.cellbank import services as bank_services
from protocol_tracker.cellbank.exports import export_csv, export_xlsx
from protocol_tracker.cellbank.models import Vessel, Vial
from protocol_tracker.inventory import selectors as storage_selectors
from protocol_tracker.inventory import services as storage_services
from protocol_tracker.inventory.models import Box, Position, Tank
from protocol_tracker.usage.services import LotUse


def _location(kind: str, pk: int) -> dict:
    return {"Location": f"/api/v1/{kind}/{pk}/"}


@extend_schema_view(
    list=extend_schema(summary="Storage tanks of your labs with their racks and boxes"),
    retrieve=extend_schema(summary="One tank"),
)
class TankViewSet(LabScopedViewSet):
    model = Tank
    selector = staticmethod(storage_selectors.tanks_for_user)
    serializer_class = TankSerializer
    serializers = {"create": TankCreateSerializer, "racks": RackCreateSerializer}
    filter_backends: list = []
    action_roles = {"create": CAN_MANAGE, "racks": CAN_MANAGE}

    @extend_schema(
        request=TankCreateSerializer,
        responses={201: TankSerializer},
        summary="Add a tank (reviewer or lab admin)",
    )
    @idempotent
    def create(self, request):
        data = self.validated()
        lab = lab_for_create(request, data.pop("lab", None), CAN_MANAGE)
        tank = storage_services.tank_create(lab=lab, actor=request.user, **data)
        return self.output(
            self.get_queryset().get(pk=tank.pk),
            TankSerializer,
            status_code=status.HTTP_201_CREATED,
            headers=_location("storage/tanks", tank.pk),
        )

    @extend_schema(
        request=RackCreateSerializer,
        responses={201: RackSerializer},
        summary="Add a rack to the tank",
    )
    @action(detail=True, methods=["post"])
    @idempotent
    def racks(self, request, pk=None):
        tank = self.get_object()
        data = self.validated()
        rack = storage_services.rack_create(tank=tank, code=data["code"], actor=request.user)
        return Response(RackSerializer(rack).data, status=status.HTTP_201_CREATED)


@extend_schema_view(
    list=extend_schema(summary="Boxes of your labs"),
    retrieve=extend_schema(summary="One box"),
)
class BoxViewSet(LabScopedViewSet):
    model = Box
    selector = staticmethod(storage_selectors.boxes_for_user)
    serializer_class = BoxSerializer
    serializers = {"create": BoxCreateSerializer}
    filter_backends: list = []
    action_roles = {"create": CAN_MANAGE}

    @extend_schema(
        request=BoxCreateSerializer,
        responses={201: BoxSerializer},
        summary="Add a box of rows × columns positions to a rack",
    )
    @idempotent
    def create(self, request):
        data = self.validated()
        rack = data.pop("rack")
        self.require_role_in(rack.lab_id)
        box = storage_services.box_create(rack=rack, actor=request.user, **data)
        return self.output(
            self.get_queryset().get(pk=box.pk),
            BoxSerializer,
            status_code=status.HTTP_201_CREATED,
            headers=_location("storage/boxes", box.pk),
        )

    @extend_schema(
        responses=BoxMapSerializer,
        summary="The box map: positions as a grid, free / reserved / occupied",
    )
    @action(detail=True, methods=["get"])
    def map(self, request, pk=None):
        grid = bank_selectors.box_map(box=self.get_object())
        return Response(BoxMapSerializer(grid).data)


@extend_schema_view(
    list=extend_schema(
        summary="Positions (?box= for one box)",
        parameters=[OpenApiParameter("box", OpenApiTypes.INT)],
    ),
    retrieve=extend_schema(summary="One position"),
)
class PositionViewSet(LabScopedViewSet):
    model = Position
    serializer_class = PositionSerializer
    serializers = {"reserve": ReserveSerializer}
    filter_backends: list = []
    action_roles = {"reserve": CAN_WORK, "release": CAN_WORK}

    def get_queryset(self):
        qs = Position.objects.for_user(self.request.user).select_related("box__rack__tank")
        box = self.request.query_params.get("box")
        if box and box.isdigit():
            qs = qs.filter(box_id=int(box))
        return qs.order_by("box", "row", "column")

    @extend_schema(
        request=ReserveSerializer,
        responses=PositionSerializer,
        summary="Hold a free position for a planned freeze",
    )
    @action(detail=True, methods=["post"])
    def reserve(self, request, pk=None):
        position = self.get_object()
        data = self.validated()
        position = storage_services.position_reserve(
            position=position, reserved_for=data["reserved_for"], actor=request.user
        )
        return Response(PositionSerializer(self.get_queryset().get(pk=position.pk)).data)

    @extend_schema(request=None, responses=PositionSerializer, summary="Give up the reservation")
    @action(detail=True, methods=["post"])
    def release(self, request, pk=None):
        position = storage_services.position_release(position=self.get_object(), actor=request.user)
        return Response(PositionSerializer(self.get_queryset().get(pk=position.pk)).data)


@extend_schema_view(
    list=extend_schema(summary="Vials of your labs (?status=, ?run=, ?bank=, ?search=)"),
    retrieve=extend_schema(summary="One vial"),
)
class VialViewSet(LabScopedViewSet):
    model = Vial
    serializer_class = VialSerializer
    serializers = {
        "freeze": FreezeSerializer,
        "thaw": ThawSerializer,
        "check_out": CheckOutSerializer,
        "transfer": TransferSerializer,
        "reserve": ReserveSerializer,
    }
    filter_backends: list = []
    parser_classes = PARSERS
    action_roles = {
        name: CAN_WORK
        for name in ("freeze", "thaw", "check_out", "transfer", "reserve", "unreserve")
    }

    def get_queryset(self):
        params = self.request.query_params
        run = params.get("run")
        return bank_selectors.vials_for_user(
            self.request.user,
            status=params.get("status") or None,
            run_id=int(run) if run and run.isdigit() else None,
            bank=params.get("bank") or None,
            search=(params.get("search") or "")[:80],
        )

    def _out(self, vial):
        return Response(VialSerializer(self.get_queryset().get(pk=vial.pk)).data)

    @extend_schema(
        request={"multipart/form-data": FreezeSerializer, "application/json": FreezeSerializer},
        responses={201: FreezeOutSerializer},
        summary="Freeze N vials of a stage in progress into free positions",
    )
    @action(detail=False, methods=["post"])
    @idempotent
    def freeze(self, request):
        data = self.validated()
        stage_run = data["stage_run"]
        self.require_role_in(stage_run.run.lab_id)
        profile = data.get("profile")
        freeze = bank_services.vials_freeze(
            stage_run=stage_run,
            actor=request.user,
            count=data["count"],
            cells_per_vial=data["cells_per_vial"],
            contents=data["contents"],
            bank=data["bank"],
            medium=LotUse(data["medium_lot"], data["medium_quantity"], data["medium_unit"]),
            box=data["box"],
            positions=data["positions"],
            freezer=data["freezer"],
            volume_ml=data["volume_ml"],
            profile=profile.read() if profile is not None else None,
            profile_filename=profile.name if profile is not None else "",
            note=data["note"],
        )
        vials = self.get_queryset().filter(freeze=freeze).order_by("code")
        return Response(
            FreezeOutSerializer({"freeze": freeze.pk, "vials": vials}).data,
            status=status.HTTP_201_CREATED,
        )

    @extend_schema(
        request=ThawSerializer,
        responses={201: VesselSerializer},
        summary="Thaw the vial (its label scanned) into a vessel of a run",
    )
    @action(detail=True, methods=["post"])
    @idempotent
    def thaw(self, request, pk=None):
        vial = self.get_object()
        data = self.validated()
        vessel = bank_services.vial_thaw(vial=vial, actor=request.user, **data)
        return Response(
            VesselSerializer(vessel).data,
            status=status.HTTP_201_CREATED,
            headers=_location("vessels", vessel.pk),
        )

    @extend_schema(
        request=CheckOutSerializer,
        responses=VialSerializer,
        summary="Withdraw or discard the vial (its label scanned)",
    )
    @action(detail=True, methods=["post"], url_path="check-out")
    def check_out(self, request, pk=None):
        vial = self.get_object()
        data = self.validated()
        return self._out(bank_services.vial_check_out(vial=vial, actor=request.user, **data))

    @extend_schema(
        request=TransferSerializer,
        responses=VialSerializer,
        summary="Move the vial to a free position (a custody hand-off)",
    )
    @action(detail=True, methods=["post"])
    def transfer(self, request, pk=None):
        vial = self.get_object()
        data = self.validated()
        return self._out(bank_services.vial_transfer(vial=vial, actor=request.user, **data))

    @extend_schema(
        request=ReserveSerializer,
        responses=VialSerializer,
        summary="Set the vial aside (it stays in place)",
    )
    @action(detail=True, methods=["post"])
    def reserve(self, request, pk=None):
        vial = self.get_object()
        data = self.validated()
        return self._out(bank_services.vial_reserve(vial=vial, actor=request.user, **data))

    @extend_schema(request=None, responses=VialSerializer, summary="Release its reservation")
    @action(detail=True, methods=["post"])
    def unreserve(self, request, pk=None):
        return self._out(bank_services.vial_unreserve(vial=self.get_object(), actor=request.user))


@extend_schema_view(
    list=extend_schema(summary="Vessels of your labs (?run=, ?status=)"),
    retrieve=extend_schema(summary="One vessel"),
)
class VesselViewSet(LabScopedViewSet):
    model = Vessel
    serializer_class = VesselSerializer
    serializers = {
        "create": VesselSeedSerializer,
        "split": SplitSerializer,
        "observe": ObserveSerializer,
    }
    filter_backends: list = []
    action_roles = {"create": CAN_WORK, "split": CAN_WORK, "observe": CAN_WORK}

    def get_queryset(self):
        params = self.request.query_params
        run = params.get("run")
        return bank_selectors.vessels_for_user(
            self.request.user,
            run_id=int(run) if run and run.isdigit() else None,
            status=params.get("status") or None,
        )

    @extend_schema(
        request=VesselSeedSerializer,
        responses={201: VesselSerializer},
        summary="Seed a vessel of an active run",
    )
    @idempotent
    def create(self, request):
        data = self.validated()
        run = data.pop("run")
        self.require_role_in(run.lab_id)
        vessel = bank_services.vessel_seed(run=run, actor=request.user, **data)
        return self.output(
            vessel,
            VesselSerializer,
            status_code=status.HTTP_201_CREATED,
            headers=_location("vessels", vessel.pk),
        )

    @extend_schema(
        request=SplitSerializer,
        responses={201: VesselSerializer(many=True)},
        summary="Split 1:k into k vessels at the next passage",
    )
    @action(detail=True, methods=["post"])
    @idempotent
    def split(self, request, pk=None):
        vessel = self.get_object()
        data = self.validated()
        children = bank_services.vessel_split(vessel=vessel, actor=request.user, **data)
        return Response(VesselSerializer(children, many=True).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=ObserveSerializer,
        responses={201: ObserveSerializer},
        summary="Record confluence, counts and viability",
    )
    @action(detail=True, methods=["post"])
    @idempotent
    def observe(self, request, pk=None):
        vessel = self.get_object()
        data = self.validated()
        seen = bank_services.vessel_observe(vessel=vessel, actor=request.user, **data)
        return Response(ObserveSerializer(seen).data, status=status.HTTP_201_CREATED)


class InventoryViewSet(viewsets.ViewSet):
    """``import/`` (POST a CSV: all or nothing, per-row errors) and ``export/`` (GET CSV or
    Excel)."""

    permission_classes = [LabRolePermission]
    parser_classes = [MultiPartParser, FormParser]
    action_roles = {"import_": CAN_MANAGE}
    instrument_actions: frozenset = frozenset()

    @extend_schema(
        request={"multipart/form-data": InventoryImportSerializer},
        responses={201: InventoryImportOutSerializer},
        summary="Import an inventory CSV: materials, lots (into quarantine), vials "
        "with positions; every row checked, nothing written if any is bad",
    )
    @action(detail=False, methods=["post"], url_path="import")
    @idempotent
    def import_(self, request):
        serializer = InventoryImportSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        lab = lab_for_create(request, serializer.validated_data.get("lab"), CAN_MANAGE)
        result = bank_services.inventory_import(
            lab=lab, data=serializer.validated_data["file"].read(), actor=request.user
        )
        return Response(InventoryImportOutSerializer(result).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        parameters=[
            OpenApiParameter("lab", OpenApiTypes.INT, description="When you are in several."),
            OpenApiParameter(
                "as",
                OpenApiTypes.STR,
                enum=["csv", "xlsx"],
                description="csv (default) or xlsx (Excel)",
            ),
        ],
        responses={
            (200, "text/csv"): OpenApiTypes.BINARY,
            (
                200,
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            ): OpenApiTypes.BINARY,
        },
        summary="Export the inventory (materials, lots, vials in storage) as CSV or Excel",
    )
    @action(detail=False, methods=["get"], url_path="export")
    def export(self, request):
        labs = list(labs_for_user(request.user))
        wanted = request.query_params.get("lab")
        if wanted is not None:
            labs = [lab for lab in labs if str(lab.pk) == wanted]
            if not labs:
                raise ValidationError({"lab": ["No such lab among yours."]})
        if len(labs) != 1:
            raise ValidationError({"lab": ["Required: you are in several labs."]})
        lab = labs[0]
        kind = request.query_params.get("as", "csv")
        if kind not in ("csv", "xlsx"):
            raise ValidationError({"as": ["csv or xlsx"]})
        rows = bank_selectors.inventory_export_rows(lab=lab)
        stamp = timezone.now().astimezone(lab.tz).strftime("%Y%m%d-%H%M")
        if kind == "xlsx":
            body = export_xlsx(rows, bank_selectors.EXPORT_COLUMNS)
            content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        else:
            body = export_csv(rows, bank_selectors.EXPORT_COLUMNS)
            content_type = "text/csv; charset=utf-8"
        response = HttpResponse(body, content_type=content_type)
        response["Content-Disposition"] = (
            f'attachment; filename="inventory-{lab.slug}-{stamp}.{kind}"'
        )
        return response
