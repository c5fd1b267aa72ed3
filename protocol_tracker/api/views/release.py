"""The release review in the API: a run's exceptions and their acknowledgement, the stored
batch record and certificate of analysis (PDF), grouped dispositions, and QC exports."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from labs.models import CAN_REVIEW, Lab
from labs.selectors import labs_for_user
from protocol_tracker.api.idempotency import idempotent
from protocol_tracker.api.permissions import LabRolePermission
from protocol_tracker.api.principals import actor_of, is_person
from protocol_tracker.api.schema import error_codes
from protocol_tracker.api.serializers.common import MAX_ID
from protocol_tracker.api.serializers.release import (
    AcknowledgeSerializer,
    DispositionGroupSerializer,
    ExportQuerySerializer,
    GroupDispositionSerializer,
    RunExceptionsSerializer,
    review_body,
)
from protocol_tracker.api.views.base import ID_PATTERN, LabScopedViewSet
from protocol_tracker.core.errors import InvalidTransition
from protocol_tracker.outcomes import selectors as outcome_selectors
from protocol_tracker.outcomes import services as outcome_services
from protocol_tracker.outcomes.documents import batch_record_pdf
from protocol_tracker.outcomes.exports import csv_lines, export_rows, xlsx_bytes
from protocol_tracker.outcomes.models import DocumentKind
from protocol_tracker.protocols.models import ProtocolTemplate
from protocol_tracker.qc import services as qc_services
from protocol_tracker.qc.models import DispositionGroup
from protocol_tracker.runs import selectors as run_selectors
from protocol_tracker.runs.models import Run
from protocol_tracker.signatures.selectors import signature_id_subquery

PDF = {(200, "application/pdf"): OpenApiResponse(OpenApiTypes.BINARY, description="The PDF.")}
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
EXPORT = {
    (200, "text/csv"): OpenApiResponse(OpenApiTypes.BINARY, description="CSV (UTF-8, BOM)."),
    (200, XLSX): OpenApiResponse(OpenApiTypes.BINARY, description="Excel workbook."),
}


def pdf_response(content: bytes, filename: str, sha256: str | None = None) -> HttpResponse:
    response = HttpResponse(bytes(content), content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    if sha256:
        response["X-Content-SHA256"] = sha256
    return response


class RunReleaseViewSet(viewsets.GenericViewSet):
    """Actions on a run's release review, routed under ``/runs/{id}/`` beside
    :class:`~protocol_tracker.api.views.runs.RunViewSet` (no list or detail route of its own)."""

    permission_classes = [LabRolePermission]
    lookup_value_regex = ID_PATTERN
    action_roles = {"acknowledge": CAN_REVIEW}
    instrument_actions: frozenset = frozenset()

    def get_queryset(self):
        return run_selectors.runs_visible_to(actor_of(self.request))

    def get_serializer_class(self):
        return AcknowledgeSerializer

    def _run(self) -> Run:
        raw = self.kwargs.get("pk")
        if raw is None or not str(raw).isdigit() or int(raw) > MAX_ID:
            raise Http404
        run = super().get_object()
        return run_selectors.run_for_user(run_id=run.pk, user=self.request.user)

    def validated(self) -> dict:
        serializer = AcknowledgeSerializer(data=self.request.data)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    @extend_schema(responses=RunExceptionsSerializer, summary="The run's review by exception")
    @action(detail=True, methods=["get"])
    def exceptions(self, request, pk=None):
        review = outcome_selectors.run_review(self._run())
        return Response(RunExceptionsSerializer(review_body(review)).data)

    @extend_schema(
        request=AcknowledgeSerializer,
        responses={201: RunExceptionsSerializer},
        summary="Acknowledge exceptions of the run (reviewer; with a comment if you like)",
    )
    @action(detail=True, methods=["post"], url_path="exceptions/acknowledge")
    @idempotent
    def acknowledge(self, request, pk=None):
        run = self._run()
        data = self.validated()
        outcome_services.exceptions_acknowledge(
            run=run, keys=data["keys"], actor=request.user, comment=data["comment"]
        )
        review = outcome_selectors.run_review(run)
        return Response(
            RunExceptionsSerializer(review_body(review)).data, status=status.HTTP_201_CREATED
        )

    @extend_schema(
        responses=PDF,
        summary="The batch record (PDF): as stored at the release, else a marked preview",
    )
    @action(detail=True, methods=["get"], url_path="batch-record")
    def batch_record(self, request, pk=None):
        run = self._run()
        stored = outcome_selectors.release_document(run=run, kind=DocumentKind.BATCH_RECORD)
        if stored is not None:
            return pdf_response(stored.content, stored.filename, stored.sha256)
        preview = batch_record_pdf(
            run,
            review=outcome_selectors.run_review(run),
            release=None,
            generated_at=timezone.now(),
            language=run.lab.language,
        )
        return pdf_response(preview.content, f"batch-record-{run.pk}-preview.pdf")

    @extend_schema(responses=PDF, summary="The certificate of analysis (PDF) of a released lot")
    @action(detail=True, methods=["get"])
    @error_codes(extra=("409",))
    def certificate(self, request, pk=None):
        run = self._run()
        stored = outcome_selectors.release_document(run=run, kind=DocumentKind.CERTIFICATE)
        if stored is None:
            raise InvalidTransition(
                f"run {run.code} is {run.status}: a certificate of analysis exists once the "
                "lot is released",
                code="not_released",
            )
        return pdf_response(stored.content, stored.filename, stored.sha256)


@extend_schema_view(
    list=extend_schema(summary="Grouped dispositions of your labs"),
    retrieve=extend_schema(summary="One grouped disposition with the deviations it closed"),
)
class DispositionGroupViewSet(LabScopedViewSet):
    model = DispositionGroup
    serializer_class = DispositionGroupSerializer
    serializers = {"create": GroupDispositionSerializer}
    action_roles = {"create": CAN_REVIEW}

    def base_queryset(self):
        return (
            DispositionGroup.objects.select_related("signed_by")
            .prefetch_related("deviations")
            .annotate(signature=signature_id_subquery(DispositionGroup))
        )

    @extend_schema(
        request=GroupDispositionSerializer,
        responses={201: DispositionGroupSerializer},
        summary="Sign one disposition for several minor deviations of one run and one kind",
    )
    @idempotent
    def create(self, request):
        data = self.validated()
        group = qc_services.deviation_disposition_group(
            deviations=data["deviations"],
            decision=data["decision"],
            justification=data["justification"],
            password=data["password"],
            actor=request.user,
        )
        fresh = self.base_queryset().get(pk=group.pk)
        return self.output(
            fresh,
            DispositionGroupSerializer,
            status_code=status.HTTP_201_CREATED,
            headers={"Location": f"/api/v1/disposition-groups/{group.pk}/"},
        )


class QCExportView(APIView):
    """QC results of a run, a protocol version or a date range as CSV or Excel."""

    @extend_schema(
        parameters=[ExportQuerySerializer],
        responses=EXPORT,
        summary="Export QC results (CSV or Excel; formulas escaped)",
    )
    @error_codes(extra=("404",))
    def get(self, request):
        if not is_person(request):
            raise PermissionDenied("Instrument tokens may not export.")
        query = ExportQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        data = query.validated_data
        lab = self._lab(request, data)
        start = end = None
        if data.get("measured_from"):
            start = datetime.combine(data["measured_from"], time.min, tzinfo=lab.tz)
        if data.get("measured_to"):
            end = datetime.combine(data["measured_to"] + timedelta(days=1), time.min, lab.tz)
        rows = export_rows(
            outcome_selectors.qc_results_for_export(
                user=request.user,
                lab_id=lab.pk,
                run_id=data.get("run"),
                protocol_id=data.get("protocol"),
                measured_from=start,
                measured_to=end,
            ),
            tz=lab.tz,
        )
        name = "qc-results-" + "-".join(
            f"{k}{data[k]}"
            for k in ("run", "protocol", "measured_from", "measured_to")
            if k in data
        )
        if data["output"] == "xlsx":
            response = HttpResponse(xlsx_bytes(rows), content_type=XLSX)
            response["Content-Disposition"] = f'attachment; filename="{name}.xlsx"'
            return response
        streaming = StreamingHttpResponse(csv_lines(rows), content_type="text/csv; charset=utf-8")
        streaming["Content-Disposition"] = f'attachment; filename="{name}.csv"'
        return streaming

    @staticmethod
    def _lab(request, data) -> Lab:
        """The lab the export reads (its time zone frames the dates): the run's or the
        protocol's, else the caller's only lab or the one named; another lab's is a 404."""
        user = request.user
        if data.get("run"):
            run = Run.objects.for_user(user).select_related("lab").filter(pk=data["run"]).first()
            if run is None:
                raise Http404
            return run.lab
        if data.get("protocol"):
            protocol = (
                ProtocolTemplate.objects.for_user(user)
                .select_related("lab")
                .filter(pk=data["protocol"])
                .first()
            )
            if protocol is None:
                raise Http404
            return protocol.lab
        labs = list(labs_for_user(user))
        wanted = request.query_params.get("lab")
        if wanted:
            match = [lab for lab in labs if str(lab.pk) == wanted]
            if not match:
                raise Http404
            return match[0]
        if len(labs) != 1:
            raise ValidationError({"lab": ["Required: you belong to several labs."]})
        return labs[0]
