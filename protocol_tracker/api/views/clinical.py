"""Recipients, visits, CGM imports and the outcome picture: reads plus one service per action."""

from __future__ import annotations

from django.db import transaction
from django.http import Http404
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response

from protocol_tracker.api.idempotency import idempotent
from protocol_tracker.api.serializers.clinical import (
    CGMImportCreateSerializer,
    CGMImportSerializer,
    CorrectValueSerializer,
    FormulationCreateSerializer,
    FormulationSerializer,
    OutcomesSerializer,
    RecipientCreateSerializer,
    RecipientSerializer,
    TargetSetSerializer,
    TherapyEventCreateSerializer,
    TherapyEventSerializer,
    ValuesSerializer,
    VisitCreateSerializer,
    VisitSerializer,
    VisitValueSerializer,
)
from protocol_tracker.api.views.base import LabScopedViewSet
from protocol_tracker.api.views.protocols import lab_for_create
from protocol_tracker.clinical import selectors
from protocol_tracker.clinical import services as clinical
from protocol_tracker.clinical.models import Recipient, Visit, VisitValue
from protocol_tracker.clinical.services.common import CAN_FORMULATE, CAN_RECORD_CLINICAL


@extend_schema_view(
    list=extend_schema(summary="Recipients of your labs (pseudonymous: the donor's code)"),
    retrieve=extend_schema(summary="A recipient: the formulated product and the baseline visit"),
)
class RecipientViewSet(LabScopedViewSet):
    model = Recipient
    selector = staticmethod(selectors.recipients_for_user)
    serializer_class = RecipientSerializer
    serializers = {
        "create": RecipientCreateSerializer,
        "formulation": FormulationCreateSerializer,
        "targets": TargetSetSerializer,
        "therapy_events": TherapyEventCreateSerializer,
    }
    filter_backends: list = []
    action_roles = {
        "create": CAN_RECORD_CLINICAL,
        "formulation": CAN_FORMULATE,
        "targets": CAN_RECORD_CLINICAL,
        "therapy_events": CAN_RECORD_CLINICAL,
    }

    def _fresh(self, recipient):
        return self.get_queryset().get(pk=recipient.pk)

    @extend_schema(
        request=RecipientCreateSerializer,
        responses={201: RecipientSerializer},
        summary="Open a donor's clinical record (autologous: the donor is the recipient)",
    )
    @idempotent
    def create(self, request):
        data = self.validated()
        lab = lab_for_create(request, data.get("lab"), CAN_RECORD_CLINICAL)
        recipient = clinical.recipient_create(
            lab=lab,
            donor=data["donor"],
            cgm_target_set=data["cgm_target_set"],
            actor=request.user,
        )
        return self.output(
            self._fresh(recipient),
            RecipientSerializer,
            status_code=status.HTTP_201_CREATED,
            headers={"Location": f"/api/v1/recipients/{recipient.pk}/"},
        )

    @extend_schema(
        request=FormulationCreateSerializer,
        responses={201: FormulationSerializer},
        summary="Record the product as formulated: weight, volume, dose and expiry",
    )
    @action(detail=True, methods=["post"])
    @idempotent
    def formulation(self, request, pk=None):
        recipient = self.get_object()
        data = self.validated()
        formulation = clinical.formulation_record(
            recipient=recipient,
            run=data["run"],
            weight_kg=data["weight_kg"],
            volume_ml=data["volume_ml"],
            dose_cells=data.get("dose_cells"),
            dose_ieq=data.get("dose_ieq"),
            route=data["route"],
            expires_at=data["expires_at"],
            reason=data["reason"],
            actor=request.user,
        )
        return self.output(formulation, FormulationSerializer, status_code=status.HTTP_201_CREATED)

    @extend_schema(
        request=TargetSetSerializer,
        responses=RecipientSerializer,
        summary="Choose the CGM target set (standard, or older/high-risk), with a reason",
    )
    @action(detail=True, methods=["post"])
    def targets(self, request, pk=None):
        recipient = self.get_object()
        data = self.validated()
        clinical.recipient_target_set(
            recipient=recipient,
            cgm_target_set=data["cgm_target_set"],
            reason=data["reason"],
            actor=request.user,
        )
        return self.output(self._fresh(recipient), RecipientSerializer)

    @extend_schema(
        request=TherapyEventCreateSerializer,
        responses={201: TherapyEventSerializer},
        summary="Record insulin stopped/restarted or an oral agent withdrawn/started",
    )
    @action(detail=True, methods=["post"], url_path="therapy-events")
    @idempotent
    def therapy_events(self, request, pk=None):
        recipient = self.get_object()
        data = self.validated()
        event = clinical.therapy_event_record(
            recipient=recipient,
            kind=data["kind"],
            on_date=data["on_date"],
            drug=data["drug"],
            note=data["note"],
            actor=request.user,
        )
        return self.output(event, TherapyEventSerializer, status_code=status.HTTP_201_CREATED)

    @extend_schema(
        responses=OutcomesSerializer,
        summary="The outcome picture: series, events and the Igls class per visit",
    )
    @action(detail=True, methods=["get"])
    def outcomes(self, request, pk=None):
        return Response(selectors.recipient_outcomes(self.get_object()))


@extend_schema_view(
    list=extend_schema(summary="Baseline and follow-up visits with their current values"),
    retrieve=extend_schema(summary="A visit and its values"),
)
class VisitViewSet(LabScopedViewSet):
    model = Visit
    selector = staticmethod(selectors.visits_for_user)
    serializer_class = VisitSerializer
    serializers = {
        "create": VisitCreateSerializer,
        "values": ValuesSerializer,
        "correct_value": CorrectValueSerializer,
        "cgm_import": CGMImportCreateSerializer,
    }
    filter_backends: list = []
    action_roles = {
        "create": CAN_RECORD_CLINICAL,
        "values": CAN_RECORD_CLINICAL,
        "correct_value": CAN_RECORD_CLINICAL,
        "cgm_import": CAN_RECORD_CLINICAL,
    }

    def get_queryset(self):
        queryset = super().get_queryset()
        recipient = self.request.query_params.get("recipient")
        if self.action == "list" and recipient:
            if not recipient.isdigit():
                raise Http404
            queryset = queryset.filter(recipient_id=int(recipient))
        return queryset

    def _fresh(self, visit):
        return self.get_queryset().get(pk=visit.pk)

    @extend_schema(
        request=VisitCreateSerializer,
        responses={201: VisitSerializer},
        summary="A baseline (before the transplant) or follow-up visit, with values",
    )
    @idempotent
    def create(self, request):
        data = self.validated()
        recipient = data["recipient"]
        self.require_role_in(recipient.lab_id)
        with transaction.atomic():  # the visit and its values, all or nothing
            visit = clinical.visit_create(
                recipient=recipient,
                run=data["run"],
                kind=data["kind"],
                visit_date=data["visit_date"],
                label=data["label"],
                note=data["note"],
                actor=request.user,
            )
            if data["values"]:
                clinical.visit_values_record(visit=visit, values=data["values"], actor=request.user)
        return self.output(
            self._fresh(visit),
            VisitSerializer,
            status_code=status.HTTP_201_CREATED,
            headers={"Location": f"/api/v1/visits/{visit.pk}/"},
        )

    @extend_schema(
        request=ValuesSerializer,
        responses={201: VisitSerializer},
        summary="Record values (each with its unit; either unit system), all or none",
    )
    @action(detail=True, methods=["post"])
    @idempotent
    def values(self, request, pk=None):
        visit = self.get_object()
        data = self.validated()
        clinical.visit_values_record(visit=visit, values=data["values"], actor=request.user)
        return self.output(self._fresh(visit), VisitSerializer, status_code=201)

    @extend_schema(
        request=CorrectValueSerializer,
        responses={201: VisitValueSerializer},
        summary="Correct a value: a new value supersedes it, with a reason",
    )
    @action(detail=True, methods=["post"], url_path="correct-value")
    @idempotent
    def correct_value(self, request, pk=None):
        visit = self.get_object()
        data = self.validated()
        try:
            value = VisitValue.objects.get(pk=data["value"], visit=visit)
        except VisitValue.DoesNotExist:
            raise Http404 from None
        corrected = clinical.visit_value_correct(
            value=value,
            new_value=data["new_value"],
            unit=data["unit"],
            reason=data["reason"],
            actor=request.user,
        )
        return self.output(corrected, VisitValueSerializer, status_code=201)

    @extend_schema(
        request={"multipart/form-data": CGMImportCreateSerializer},
        responses={201: CGMImportSerializer},
        summary="Import a CGM export (Dexcom Clarity or LibreView CSV): the metrics in the answer",
    )
    @action(detail=True, methods=["post"], url_path="cgm-import", parser_classes=[MultiPartParser])
    @idempotent
    def cgm_import(self, request, pk=None):
        visit = self.get_object()
        data = self.validated()
        upload = data["file"]
        record = clinical.cgm_import(
            visit=visit,
            data=upload.read(),
            filename=upload.name,
            device_timezone=data["device_timezone"],
            declared_unit=data.get("unit") or None,
            actor=request.user,
        )
        return self.output(record, CGMImportSerializer, status_code=status.HTTP_201_CREATED)
