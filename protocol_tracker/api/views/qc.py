"""QC results (one, bulk, corrections), deviations and instrument file uploads."""

from __future__ import annotations

import re

from django.utils.dateparse import parse_datetime
from django.utils.timezone import is_naive, make_aware
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response

from labs.models import CAN_REVIEW, CAN_WORK
from protocol_tracker.api.filters import DeviationFilter, QCResultFilter
from protocol_tracker.api.idempotency import idempotency_key, idempotent
from protocol_tracker.api.principals import actor_of, instrument_of, scope
from protocol_tracker.api.serializers.common import MAX_ID
from protocol_tracker.api.serializers.qc import (
    BULK_MAX_RESULTS,
    DeviationCreateSerializer,
    DeviationSerializer,
    DispositionSerializer,
    InstrumentUploadCreateSerializer,
    InstrumentUploadSerializer,
    InvestigateSerializer,
    QCResultBulkOutSerializer,
    QCResultBulkSerializer,
    QCResultCorrectSerializer,
    QCResultCreateSerializer,
    QCResultSerializer,
)
from protocol_tracker.api.views.base import LabScopedViewSet, LeanColumns
from protocol_tracker.core.errors import RowErrors
from protocol_tracker.protocols.models import CheckpointTemplate
from protocol_tracker.qc import selectors as qc_selectors
from protocol_tracker.qc import services as qc_services
from protocol_tracker.qc.models import Deviation, InstrumentUpload, QCResult, UploadStatus
from protocol_tracker.qc.services.formats import IngestTargets
from protocol_tracker.qc.services.uploads import instrument_upload_receive
from protocol_tracker.runs.models import StageRun

_ROW_STATES = (None, "pending", "invalid")
_KEY_RE = re.compile(r"^[-a-zA-Z0-9_]{1,64}\Z")


@extend_schema_view(
    list=extend_schema(summary="QC results (filter by run, stage run, checkpoint, verdict)"),
    retrieve=extend_schema(summary="One QC result with the spec it was judged by"),
)
class QCResultViewSet(LabScopedViewSet):
    model = QCResult
    selector = staticmethod(qc_selectors.qc_results_visible_to)
    serializer_class = QCResultSerializer
    serializers = {
        "create": QCResultCreateSerializer,
        "bulk": QCResultBulkSerializer,
        "correct": QCResultCorrectSerializer,
    }
    filterset_class = QCResultFilter
    instrument_actions = frozenset({"list", "retrieve", "create", "bulk"})
    action_roles = {"create": CAN_WORK, "bulk": CAN_WORK, "correct": CAN_WORK}

    def _created(self, result):
        fresh = self.get_queryset().get(pk=result.pk)
        return self.output(
            fresh,
            QCResultSerializer,
            status_code=status.HTTP_201_CREATED,
            headers={"Location": f"/api/v1/qc-results/{result.pk}/"},
        )

    @extend_schema(
        request=QCResultCreateSerializer,
        responses={201: QCResultSerializer},
        summary="Record a QC result (people, or an instrument allowed the assay)",
    )
    @idempotent
    def create(self, request):
        data = self.validated()
        stage_run = data["stage_run"]
        self.require_role_in(stage_run.run.lab_id)
        result = qc_services.qc_result_record(
            stage_run=stage_run,
            checkpoint=data["checkpoint"],
            value=data.get("value"),
            unit=data.get("unit"),
            measured_at=data["measured_at"],
            actor=actor_of(request),
            comment=data["comment"],
            idempotency_key=idempotency_key(request) or "",
            state=data.get("state"),
        )
        return self._created(result)

    @extend_schema(
        request=QCResultBulkSerializer,
        responses={201: QCResultBulkOutSerializer},
        summary="Record up to 5,000 results, all or nothing",
        description="Every row is checked first; if any row is bad nothing is "
        "recorded and the 400 lists `rows`: {index, field, message}.",
    )
    @action(detail=False, methods=["post"])
    @idempotent
    def bulk(self, request):
        rows = resolve_checkpoint_keys(parse_bulk_rows(request.data), request)
        results = qc_services.qc_results_record_bulk(rows=rows, actor=actor_of(request))
        body = {
            "count": len(results),
            "results": [
                {
                    "id": r.pk,
                    "stage_run": r.stage_run_id,
                    "checkpoint": r.checkpoint_id,
                    "verdict": r.verdict,
                }
                for r in results
            ],
        }
        return Response(body, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=QCResultCorrectSerializer,
        responses={201: QCResultSerializer},
        summary="Correct a result: a new result supersedes it, with a reason",
    )
    @action(detail=True, methods=["post"])
    @idempotent
    def correct(self, request, pk=None):
        result = self.get_object()
        data = self.validated()
        new = qc_services.qc_result_correct(
            result=result,
            value=data.get("value"),
            unit=data.get("unit"),
            measured_at=data["measured_at"],
            reason=data["reason"],
            actor=request.user,
        )
        return self._created(new)


def parse_bulk_rows(body) -> list[dict]:
    """Validate ``{"results": [...]}`` row by row without a serializer per row.

    The rules are those of ``QCResultRowSerializer`` (which documents them); every problem is
    reported as {index, field, message} and nothing is recorded if there is any.
    """
    if not isinstance(body, dict) or not isinstance(body.get("results"), list):
        raise ValidationError({"results": [_("A list of results is required.")]})
    items = body["results"]
    if not items:
        raise ValidationError({"results": [_("At least one result is required.")]})
    if len(items) > BULK_MAX_RESULTS:
        raise ValidationError(
            {
                "results": [
                    _("At most %(max)d results per request, got %(n)d.")
                    % {"max": BULK_MAX_RESULTS, "n": len(items)}
                ]
            }
        )
    errors: list[dict] = []
    rows: list[dict] = []
    for index, item in enumerate(items):
        row_errors = len(errors)

        def fail(field, message, index=index):
            errors.append({"index": index, "field": field, "message": str(message)})

        if not isinstance(item, dict):
            fail(None, _("Each result must be an object."))
            continue
        row: dict = {}
        names = ["stage_run", "checkpoint"]
        key = item.get("checkpoint_key")
        if item.get("checkpoint") is None and key is not None:
            names = ["stage_run"]
            if not isinstance(key, str) or not _KEY_RE.match(key):
                fail("checkpoint_key", _("A checkpoint key (letters, digits, - and _)."))
            else:
                row["checkpoint_key"] = key
        for name in names:
            ref = item.get(name)
            if isinstance(ref, bool) or not isinstance(ref, int) or not 1 <= ref <= MAX_ID:
                fail(name, _("An id (a whole number) is required."))
            else:
                row[name] = ref
        value = item.get("value")
        if value is not None and (
            not isinstance(value, bool | int | float | str)
            or (isinstance(value, str) and len(value) > 10000)
        ):
            fail("value", _("Must be a number, a boolean or text (at most 10,000 characters)."))
        row["value"] = value
        unit = item.get("unit")
        if unit is not None and (not isinstance(unit, str) or len(unit) > 32):
            fail("unit", _("Must be text of at most 32 characters."))
        row["unit"] = unit or None
        raw_time = item.get("measured_at")
        moment = parse_datetime(raw_time) if isinstance(raw_time, str) else None
        if moment is None:
            fail("measured_at", _("A date and time in ISO 8601 is required."))
        else:
            row["measured_at"] = make_aware(moment) if is_naive(moment) else moment
        comment = item.get("comment", "")
        if comment is None:
            comment = ""
        if not isinstance(comment, str) or len(comment) > 5000:
            fail("comment", _("Must be text of at most 5,000 characters."))
        row["comment"] = comment
        state = item.get("state")
        if state not in _ROW_STATES:
            fail("state", _("Must be 'pending', 'invalid' or null."))
        row["state"] = state
        if len(errors) == row_errors:
            rows.append(row)
    if errors:
        raise RowErrors(
            f"{len({e['index'] for e in errors})} of {len(items)} results are invalid; "
            "nothing was recorded",
            rows=errors,
        )
    return rows


def resolve_checkpoint_keys(rows: list[dict], request) -> list[dict]:
    """Rows that name their checkpoint by key get its id (two queries, scoped to the caller);
    a key the row's stage does not have is a row error (and another lab's stage run resolves
    nothing, as the service will say)."""
    keyed = [row for row in rows if "checkpoint_key" in row]
    if not keyed:
        return rows
    stages = dict(
        scope(StageRun.objects.all(), request)
        .filter(pk__in={row["stage_run"] for row in keyed})
        .values_list("pk", "stage_id")
    )
    by_key = {
        (stage_id, key): pk
        for pk, stage_id, key in CheckpointTemplate.objects.filter(
            stage_id__in=set(stages.values()), key__in={row["checkpoint_key"] for row in keyed}
        ).values_list("pk", "stage_id", "key")
    }
    errors = []
    for index, row in enumerate(rows):
        if "checkpoint_key" not in row:
            continue
        key = row.pop("checkpoint_key")
        found = by_key.get((stages.get(row["stage_run"]), key))
        if found is None:
            errors.append(
                {
                    "index": index,
                    "field": "checkpoint_key",
                    "message": f"no checkpoint '{key}' in this stage run's stage",
                }
            )
        row["checkpoint"] = found or 0
    if errors:
        raise RowErrors(
            f"{len(errors)} of {len(rows)} results are invalid; nothing was recorded", rows=errors
        )
    return rows


DEVIATION_LEAN = LeanColumns(
    {
        name: f"{name}_id"
        if name in ("lab", "run", "stage_run", "qc_result", "opened_by", "closed_by")
        else name
        for name in DeviationSerializer.Meta.fields
    }
)


@extend_schema_view(
    list=extend_schema(summary="Deviations (filter by run, status, open)"),
    retrieve=extend_schema(summary="One deviation"),
)
class DeviationViewSet(LabScopedViewSet):
    model = Deviation
    selector = staticmethod(qc_selectors.deviations_for_user)
    serializer_class = DeviationSerializer
    serializers = {
        "create": DeviationCreateSerializer,
        "investigate": InvestigateSerializer,
        "disposition": DispositionSerializer,
    }
    filterset_class = DeviationFilter
    lean = DEVIATION_LEAN
    action_roles = {"create": CAN_WORK, "investigate": CAN_WORK, "disposition": CAN_REVIEW}

    @extend_schema(
        request=DeviationCreateSerializer,
        responses={201: DeviationSerializer},
        summary="Report a deviation by hand",
    )
    @idempotent
    def create(self, request):
        data = self.validated()
        run = data["run"]
        self.require_role_in(run.lab_id)
        deviation = qc_services.deviation_open(
            run=run,
            kind=data["kind"],
            title=data["title"],
            actor=request.user,
            stage_run=data.get("stage_run"),
            qc_result=data.get("qc_result"),
            severity=data["severity"],
            description=data["description"],
        )
        return self.output(
            deviation,
            DeviationSerializer,
            status_code=status.HTTP_201_CREATED,
            headers={"Location": f"/api/v1/deviations/{deviation.pk}/"},
        )

    @extend_schema(
        request=InvestigateSerializer,
        responses=DeviationSerializer,
        summary="Record an investigation step (phase I, phase II, conclusion)",
    )
    @action(detail=True, methods=["post"])
    def investigate(self, request, pk=None):
        deviation = self.get_object()
        data = self.validated()
        deviation = qc_services.deviation_investigate(
            deviation=deviation,
            phase=data["phase"],
            findings=data["findings"],
            actor=request.user,
        )
        return self.output(deviation, DeviationSerializer)

    @extend_schema(
        request=DispositionSerializer,
        responses=DeviationSerializer,
        summary="Close with a signed decision: accept, retest or reject",
    )
    @action(detail=True, methods=["post"])
    def disposition(self, request, pk=None):
        deviation = self.get_object()
        data = self.validated()
        deviation = qc_services.deviation_disposition(
            deviation=deviation,
            decision=data["decision"],
            justification=data["justification"],
            password=data["password"],
            actor=request.user,
        )
        return self.output(deviation, DeviationSerializer)


@extend_schema_view(
    list=extend_schema(summary="Instrument uploads and their parse status"),
    retrieve=extend_schema(summary="An upload's status (poll this after a 202)"),
)
class InstrumentUploadViewSet(LabScopedViewSet):
    model = InstrumentUpload
    serializer_class = InstrumentUploadSerializer
    serializers = {"create": InstrumentUploadCreateSerializer}
    filter_backends: list = []
    instrument_actions = frozenset({"list", "retrieve", "create"})
    action_roles = {"create": CAN_WORK}

    parser_classes = [MultiPartParser]

    def base_queryset(self):
        return InstrumentUpload.objects.select_related("raw_file")

    def retrieve(self, request, *args, **kwargs):
        upload = self.get_object()
        headers = (
            {"Retry-After": "1"}
            if upload.status in (UploadStatus.RECEIVED, UploadStatus.PARSING)
            else None
        )
        return Response(self.get_serializer(upload).data, headers=headers)

    @extend_schema(
        request={"multipart/form-data": InstrumentUploadCreateSerializer},
        responses={
            201: InstrumentUploadSerializer,
            202: OpenApiResponse(
                InstrumentUploadSerializer,
                description="Large file: parsing in the background; "
                "poll `Location` (the status URL).",
            ),
        },
        summary="Upload an instrument file (FCS or CSV) with the results it supports",
    )
    @idempotent
    def create(self, request):
        data = self.validated()
        upload = data["file"]
        stage_run, instrument = data.get("stage_run"), data.get("instrument")
        record = instrument_upload_receive(
            actor=actor_of(request),
            data=upload.read(),
            filename=upload.name,
            content_type=getattr(upload, "content_type", "") or "",
            targets=IngestTargets(
                stage_run=stage_run,
                checkpoint=data.get("checkpoint"),
                instrument=instrument_of(request) or instrument,
                value=data.get("value") or None,
                unit=data.get("unit") or "",
                measured_at=data.get("measured_at"),
                comment=data.get("comment") or "",
            ),
        )
        inline = record.status != UploadStatus.RECEIVED
        record = self.base_queryset().get(pk=record.pk)
        location = {"Location": f"/api/v1/instrument-uploads/{record.pk}/"}
        return self.output(
            record,
            InstrumentUploadSerializer,
            status_code=status.HTTP_201_CREATED if inline else status.HTTP_202_ACCEPTED,
            headers=location,
        )
