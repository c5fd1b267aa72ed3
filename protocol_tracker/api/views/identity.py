"""Chain of identity and custody: identity scans, hand-offs, shipments and logger files, label
prints of a run (printing is a POST: every print is recorded), the vault, computed results."""

from __future__ import annotations

from django.http import Http404, HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response

from labs.models import CAN_SEE_PATIENT
from protocol_tracker.api.idempotency import idempotency_key, idempotent
from protocol_tracker.api.serializers.identity import (
    ComputedResultCreateSerializer,
    HandOffCreateSerializer,
    HandOffReceiveSerializer,
    HandOffSerializer,
    IdentityScanCreateSerializer,
    IdentityScanSerializer,
    ItemSerializer,
    LabelPrintCreateSerializer,
    LabelPrintSerializer,
    LabelReconcileSerializer,
    LoggerUploadSerializer,
    PatientIdentifierKindsSerializer,
    PatientIdentifiersSerializer,
    RevealedSerializer,
    RevealSerializer,
    ShipmentCreateSerializer,
    ShipmentReceiveSerializer,
    ShipmentSerializer,
)
from protocol_tracker.api.serializers.qc import QCResultSerializer
from protocol_tracker.api.views.base import LabScopedViewSet
from protocol_tracker.core.errors import ValidationFailed
from protocol_tracker.custody import selectors as custody_selectors
from protocol_tracker.custody import services as custody
from protocol_tracker.custody.services.common import CAN_HANDLE
from protocol_tracker.identity import selectors as identity_selectors
from protocol_tracker.identity import services as identity
from protocol_tracker.identity.services import CAN_PRINT
from protocol_tracker.qc import selectors as qc_selectors
from protocol_tracker.runs import selectors as run_selectors
from protocol_tracker.runs.models import Run


def _item(request, lab_id: int, item_id: str, field: str = "item"):
    found = custody_selectors.item_by_item_id(lab_id=lab_id, item_id=item_id) if item_id else None
    if item_id and found is None:
        raise ValidationError({field: [f"No item {item_id} in this lab."]})
    return found


@extend_schema_view(
    list=extend_schema(summary="Labelled items of your labs (vials, bags, tubes...)"),
    retrieve=extend_schema(summary="One labelled item"),
)
class ItemViewSet(LabScopedViewSet):
    selector = staticmethod(custody_selectors.items_visible_to)
    serializer_class = ItemSerializer


@extend_schema_view(
    list=extend_schema(summary="Identity scans at identity checkpoints"),
    retrieve=extend_schema(summary="One identity scan and its verdict"),
)
class IdentityScanViewSet(LabScopedViewSet):
    serializer_class = IdentityScanSerializer
    serializers = {"create": IdentityScanCreateSerializer}
    action_roles = {"create": CAN_HANDLE}

    @staticmethod
    def selector(user):
        return custody_selectors.scans_visible_to(user).prefetch_related("qc_result__deviations")

    @extend_schema(
        request=IdentityScanCreateSerializer,
        responses={201: IdentityScanSerializer},
        summary="Scan a label at an identity checkpoint: the verdict",
        description="A match passes the checkpoint. A mismatch (another donor's label, a wrong "
        "item) or an unreadable or mistyped code fails it: the stage is blocked, a critical "
        "deviation opens and the reviewers are told at once (the response names the deviation). "
        "`method: manual` (typed) and two-person checkpoints need `witness` and "
        "`witness_password`. An empty scan is a 400 and writes nothing.",
    )
    @idempotent
    def create(self, request):
        data = self.validated()
        stage_run = data["stage_run"]
        self.require_role_in(stage_run.run.lab_id)
        scan = custody.identity_scan_record(
            stage_run=stage_run,
            checkpoint=data["checkpoint"],
            scanned=data["scanned"],
            actor=request.user,
            method=data["method"],
            expected_item=_item(request, stage_run.run.lab_id, data["item"]),
            witness=data["witness"],
            witness_password=data["witness_password"],
            idempotency_key=idempotency_key(request) or "",
        )
        fresh = self.get_queryset().get(pk=scan.pk)
        return self.output(
            fresh,
            IdentityScanSerializer,
            status_code=status.HTTP_201_CREATED,
            headers={"Location": f"/api/v1/identity-scans/{scan.pk}/"},
        )


@extend_schema_view(
    list=extend_schema(summary="Custody hand-offs"),
    retrieve=extend_schema(summary="One hand-off"),
)
class HandOffViewSet(LabScopedViewSet):
    selector = staticmethod(custody_selectors.handoffs_visible_to)
    serializer_class = HandOffSerializer
    serializers = {"create": HandOffCreateSerializer, "receive": HandOffReceiveSerializer}
    action_roles = {"create": CAN_HANDLE, "receive": CAN_HANDLE}

    @extend_schema(
        request=HandOffCreateSerializer,
        responses={201: HandOffSerializer},
        summary="Hand an item over (the sending side; its label scanned)",
    )
    @idempotent
    def create(self, request):
        data = self.validated()
        # Item ids are unique in the installation; another lab's is not found.
        item = (
            custody_selectors.items_visible_to(request.user)
            .filter(item_id=data["item"].strip().upper())
            .first()
        )
        if item is None:
            raise ValidationError({"item": [f"No item {data['item']} in your labs."]})
        self.require_role_in(item.lab_id)
        handoff = custody.handoff_send(
            item=item,
            from_party=data["from_party"],
            from_location=data["from_location"],
            to_party=data["to_party"],
            to_location=data["to_location"],
            sent_at=data["sent_at"],
            scanned=data["scanned"],
            shipment=data.get("shipment"),
            note=data["note"],
            actor=request.user,
        )
        return self.output(
            self.get_queryset().get(pk=handoff.pk),
            HandOffSerializer,
            status_code=status.HTTP_201_CREATED,
            headers={"Location": f"/api/v1/handoffs/{handoff.pk}/"},
        )

    @extend_schema(
        request=HandOffReceiveSerializer,
        responses=HandOffSerializer,
        summary="Receive a handed-over item (the receiving side; its label scanned)",
    )
    @action(detail=True, methods=["post"])
    def receive(self, request, pk=None):
        handoff = self.get_object()
        data = self.validated()
        handoff = custody.handoff_receive(
            handoff=handoff,
            received_at=data["received_at"],
            scanned=data["scanned"],
            condition=data["condition"],
            temperature_c=data["temperature_c"],
            note=data["note"],
            actor=request.user,
        )
        return self.output(self.get_queryset().get(pk=handoff.pk), HandOffSerializer)


@extend_schema_view(
    list=extend_schema(summary="Shipments with their temperature loggers"),
    retrieve=extend_schema(summary="One shipment, its logger files and excursions"),
)
class ShipmentViewSet(LabScopedViewSet):
    selector = staticmethod(custody_selectors.shipments_visible_to)
    serializer_class = ShipmentSerializer
    serializers = {
        "create": ShipmentCreateSerializer,
        "receive": ShipmentReceiveSerializer,
        "logger": LoggerUploadSerializer,
    }
    action_roles = {"create": CAN_HANDLE, "receive": CAN_HANDLE, "logger": CAN_HANDLE}

    @extend_schema(
        request=ShipmentCreateSerializer,
        responses={201: ShipmentSerializer},
        summary="Record a shipment (courier, times, temperature range)",
    )
    @idempotent
    def create(self, request):
        data = self.validated()
        run = data["run"]
        self.require_role_in(run.lab_id)
        shipment = custody.shipment_create(
            run=run,
            kind=data["kind"],
            courier=data["courier"],
            tracking=data["tracking"],
            origin=data["origin"],
            destination=data["destination"],
            range_min_c=data["range_min_c"],
            range_max_c=data["range_max_c"],
            drawn_at=data["drawn_at"],
            packed_at=data["packed_at"],
            shipped_at=data["shipped_at"],
            actor=request.user,
        )
        return self.output(
            self.get_queryset().get(pk=shipment.pk),
            ShipmentSerializer,
            status_code=status.HTTP_201_CREATED,
            headers={"Location": f"/api/v1/shipments/{shipment.pk}/"},
        )

    @extend_schema(
        request=ShipmentReceiveSerializer,
        responses=ShipmentSerializer,
        summary="The shipment arrived",
    )
    @action(detail=True, methods=["post"])
    def receive(self, request, pk=None):
        shipment = self.get_object()
        data = self.validated()
        custody.shipment_receive(
            shipment=shipment,
            received_at=data["received_at"],
            shipped_at=data["shipped_at"],
            actor=request.user,
        )
        return self.output(self.get_queryset().get(pk=shipment.pk), ShipmentSerializer)

    @extend_schema(
        request={"multipart/form-data": LoggerUploadSerializer},
        responses={201: ShipmentSerializer},
        summary="Attach the data logger's CSV: kept with its SHA-256, judged against the range",
        description="An excursion outside the range, or a gap in the readings, opens a deviation "
        "linked to the shipment's run. An unreadable file is a 400 naming the row and nothing is "
        "kept.",
    )
    @action(detail=True, methods=["post"], parser_classes=[MultiPartParser])
    @idempotent
    def logger(self, request, pk=None):
        shipment = self.get_object()
        upload = request.FILES.get("file")
        if upload is None:
            raise ValidationError({"file": ["Attach the logger's CSV export as 'file'."]})
        if upload.size > custody.LOGGER_MAX_BYTES:
            raise ValidationFailed("the logger file is too large", fields={"file": ["too large"]})
        custody.shipment_logger_attach(
            shipment=shipment, data=upload.read(), filename=upload.name, actor=request.user
        )
        return self.output(
            self.get_queryset().get(pk=shipment.pk),
            ShipmentSerializer,
            status_code=status.HTTP_201_CREATED,
        )


@extend_schema_view(
    list=extend_schema(summary="Label prints (who, when, how many; reprints; reconciliation)"),
    retrieve=extend_schema(summary="One label print and how its labels are accounted for"),
)
class LabelPrintViewSet(LabScopedViewSet):
    selector = staticmethod(identity_selectors.label_prints_visible_to)
    serializer_class = LabelPrintSerializer
    serializers = {"reconcile": LabelReconcileSerializer}
    action_roles = {"reconcile": CAN_PRINT}

    @extend_schema(
        request=LabelReconcileSerializer,
        responses=LabelPrintSerializer,
        summary="Account for labels of a print: used, destroyed (with a reason)",
    )
    @action(detail=True, methods=["post"])
    def reconcile(self, request, pk=None):
        record = self.get_object()
        data = self.validated()
        identity.label_reconcile(
            label_print=record,
            used=data["used"],
            destroyed=data["destroyed"],
            reason=data["reason"],
            actor=request.user,
        )
        return self.output(self.get_queryset().get(pk=record.pk), LabelPrintSerializer)


class RunLabelsViewSet(LabScopedViewSet):
    """``/runs/{id}/labels/``: the run's label prints (GET) and printing (POST)."""

    selector = staticmethod(run_selectors.runs_visible_to)
    serializer_class = LabelPrintSerializer
    serializers = {"create": LabelPrintCreateSerializer}
    action_roles = {"create": CAN_PRINT}
    pagination_class = None

    def _run(self, pk):
        try:
            return run_selectors.run_for_user(run_id=int(pk), user=self.request.user)
        except (Run.DoesNotExist, ValueError, OverflowError):
            raise Http404 from None

    @extend_schema(
        responses=LabelPrintSerializer(many=True), summary="The run's label prints, newest first"
    )
    def list(self, request, pk=None):
        run = self._run(pk)
        prints = identity_selectors.label_prints_of_subject(
            lab=run.lab_id, subject_type=custody.RUN_SUBJECT, subject_id=run.pk
        )
        return Response(LabelPrintSerializer(prints, many=True).data)

    @extend_schema(
        request=LabelPrintCreateSerializer,
        responses={
            (201, "application/pdf"): OpenApiResponse(OpenApiTypes.BINARY, description="PDF"),
            (201, "text/plain"): OpenApiResponse(OpenApiTypes.STR, description="ZPL"),
        },
        summary="Print labels of the run's items: the PDF (or ZPL); the print is recorded",
        description="`count` new items of `kind` are registered and labelled; or `items` (with "
        "`reprint_of` and `reason`) are reprinted. Printing is a POST because every print is "
        "recorded (who, when, how many); `Location` names the print record. "
        "`Idempotency-Key`: a retry returns the same labels and records nothing more.",
    )
    def create(self, request, pk=None):
        run = self._run(pk)
        self.require_role_in(run.lab_id)
        data = self.validated()
        items = [_item(request, run.lab_id, item_id, "items") for item_id in data.get("items", [])]
        if data.get("reprint_of") is not None and data["reprint_of"].lab_id != run.lab_id:
            raise ValidationError({"reprint_of": ["Not a print of this lab."]})
        printed = custody.run_labels_print(
            run=run,
            template=data["template"],
            actor=request.user,
            count=data.get("count"),
            kind=data.get("kind"),
            items=items,
            copies=data["copies"],
            output=data["format"],
            sheet=data["sheet"],
            reprint_of=data.get("reprint_of"),
            reason=data["reason"],
            with_patient_identifiers=data["with_patient_identifiers"],
            idempotency_key=idempotency_key(request) or "",
        )
        response = HttpResponse(
            printed.document.content,
            status=status.HTTP_200_OK if printed.replayed else status.HTTP_201_CREATED,
            content_type=printed.document.content_type,
        )
        response["Content-Disposition"] = f'inline; filename="{printed.filename}"'
        response["Location"] = f"/api/v1/label-prints/{printed.record.pk}/"
        response["X-Label-Count"] = str(printed.record.label_count)
        response["X-Document-SHA256"] = printed.document.sha256
        if printed.replayed:
            response["Idempotent-Replayed"] = "true"
        return response


# The print record keeps the key (the service replays a retry without recording it again).
RunLabelsViewSet.create.idempotent = True  # type: ignore[attr-defined]


class DonorIdentifiersViewSet(LabScopedViewSet):
    """``/donors/{id}/patient-identifiers/``: the vault, for the roles that see the patient."""

    selector = staticmethod(run_selectors.donors_for_user)
    serializer_class = PatientIdentifierKindsSerializer
    serializers = {"create": PatientIdentifiersSerializer, "reveal": RevealSerializer}
    action_roles = {"create": CAN_SEE_PATIENT, "reveal": CAN_SEE_PATIENT}
    pagination_class = None

    def _coi(self, pk):
        donor = self.get_queryset().select_related("coi").filter(pk=pk).first()
        if donor is None:
            raise Http404
        if donor.coi is None:
            raise ValidationFailed("this donor has no COI", fields={"donor": ["no COI"]})
        return donor.coi

    @extend_schema(
        responses=PatientIdentifierKindsSerializer,
        summary="Which patient identifiers are on record (never their values)",
    )
    def kinds(self, request, pk=None):
        coi = self._coi(pk)
        kinds = identity_selectors.patient_identifier_kinds(coi=coi)
        return Response({"coi": coi.value, "kinds": kinds})

    @extend_schema(
        request=PatientIdentifiersSerializer,
        responses={201: PatientIdentifierKindsSerializer},
        summary="Record (or correct, with a reason) patient identifiers: clinicians",
    )
    @idempotent
    def create(self, request, pk=None):
        coi = self._coi(pk)
        data = self.validated()
        identity.patient_identifiers_record(
            coi=coi, values=data["values"], reason=data["reason"], actor=request.user
        )
        kinds = identity_selectors.patient_identifier_kinds(coi=coi)
        return Response({"coi": coi.value, "kinds": kinds}, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=RevealSerializer,
        responses=RevealedSerializer,
        summary="Read the patient identifiers (clinicians; every read audited)",
    )
    def reveal(self, request, pk=None):
        coi = self._coi(pk)
        data = self.validated()
        values = identity.patient_identifiers_read(
            coi=coi, actor=request.user, purpose=data["purpose"]
        )
        return Response({"coi": coi.value, "identifiers": values})


class ComputedResultViewSet(LabScopedViewSet):
    """``/computed-results/``: record a checkpoint computed from the run's records."""

    selector = staticmethod(qc_selectors.qc_results_visible_to)
    serializer_class = QCResultSerializer
    serializers = {"create": ComputedResultCreateSerializer}
    action_roles = {"create": CAN_HANDLE}

    @extend_schema(
        request=ComputedResultCreateSerializer,
        responses={201: QCResultSerializer},
        summary="Compute a checkpoint from the run's records (draw-to-processing, identifiers)",
    )
    @idempotent
    def create(self, request):
        data = self.validated()
        stage_run = data["stage_run"]
        self.require_role_in(stage_run.run.lab_id)
        result = custody.computed_result_record(
            stage_run=stage_run, checkpoint=data["checkpoint"], actor=request.user
        )
        return self.output(
            self.get_queryset().get(pk=result.pk),
            QCResultSerializer,
            status_code=status.HTTP_201_CREATED,
            headers={"Location": f"/api/v1/qc-results/{result.pk}/"},
        )
