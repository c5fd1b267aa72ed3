"""QC results, deviations, raw files and instrument uploads."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from labs.models import Instrument
from protocol_tracker.api.exceptions import problem_body
from protocol_tracker.api.serializers.common import (
    PasswordField,
    QCValueField,
    ScopedPrimaryKeyField,
    SparseFieldsMixin,
)
from protocol_tracker.api.serializers.runs import result_value
from protocol_tracker.protocols.models import CheckpointTemplate
from protocol_tracker.qc.models import (
    Deviation,
    DeviationKind,
    DeviationSeverity,
    Disposition,
    InstrumentUpload,
    QCResult,
    RawFile,
    UploadStatus,
    Verdict,
)
from protocol_tracker.runs.models import Run, StageRun

BULK_MAX_RESULTS = 5000


class QCResultSerializer(SparseFieldsMixin, serializers.ModelSerializer):
    run = serializers.IntegerField(source="stage_run.run_id", read_only=True)
    checkpoint_key = serializers.CharField(source="checkpoint.key", read_only=True)
    value = serializers.SerializerMethodField(help_text="The value as recorded.")
    superseded_by = serializers.SerializerMethodField()

    class Meta:
        model = QCResult
        fields = [
            "id",
            "run",
            "stage_run",
            "checkpoint",
            "checkpoint_key",
            "value",
            "value_number",
            "value_bool",
            "value_text",
            "unit",
            "value_in_spec_unit",
            "verdict",
            "spec_snapshot",
            "measured_at",
            "recorded_at",
            "recorded_by",
            "recorded_by_instrument",
            "raw_file",
            "supersedes",
            "superseded_by",
            "reason",
            "comment",
            "passage",
        ]
        read_only_fields = fields

    @extend_schema_field(
        {"oneOf": [{"type": "number"}, {"type": "boolean"}, {"type": "string"}], "nullable": True}
    )
    def get_value(self, result):
        return result_value(result)

    def get_superseded_by(self, result) -> int | None:
        try:
            return result.superseded_by.pk
        except QCResult.superseded_by.RelatedObjectDoesNotExist:
            return None


class CheckpointByKeyMixin:
    """``checkpoint`` (an id) or ``checkpoint_key`` (the checkpoint's key in the stage run's
    protocol: what an instrument is configured with, the same across protocol versions)."""

    def validate(self, attrs):
        attrs = super().validate(attrs)  # type: ignore[misc]
        key = attrs.pop("checkpoint_key", None)
        stage_run = attrs.get("stage_run")
        if attrs.get("checkpoint") is None and key:
            found = (
                CheckpointTemplate.objects.filter(stage_id=stage_run.stage_id, key=key).first()
                if stage_run is not None
                else None
            )
            if found is None:
                raise serializers.ValidationError(
                    {"checkpoint_key": [f"No checkpoint '{key}' in this stage run's stage."]}
                )
            attrs["checkpoint"] = found
        return attrs


class QCResultCreateSerializer(CheckpointByKeyMixin, serializers.Serializer):
    stage_run = ScopedPrimaryKeyField(model=StageRun)
    checkpoint = ScopedPrimaryKeyField(
        model=CheckpointTemplate, required=False, help_text="Or give `checkpoint_key`."
    )
    checkpoint_key = serializers.SlugField(
        max_length=64,
        required=False,
        help_text="The checkpoint's key in the stage's protocol (instead of its id).",
    )
    value = QCValueField(
        required=False,
        allow_null=True,
        help_text="Number, boolean or text; omit for a pending result.",
    )
    unit = serializers.CharField(
        max_length=32,
        required=False,
        allow_blank=True,
        allow_null=True,
        help_text="Defaults to the checkpoint's unit.",
    )
    measured_at = serializers.DateTimeField()
    comment = serializers.CharField(max_length=5000, required=False, allow_blank=True, default="")
    state = serializers.ChoiceField(
        choices=[("pending", "pending"), ("invalid", "invalid")],
        required=False,
        allow_null=True,
        help_text="'pending': sample taken, result awaited; 'invalid': assay controls failed.",
    )

    def validate(self, attrs):
        attrs = super().validate(attrs)
        if attrs.get("checkpoint") is None:
            raise serializers.ValidationError(
                {"checkpoint": ["Give checkpoint or checkpoint_key."]}
            )
        return attrs


class QCResultRowSerializer(serializers.Serializer):
    """One row of ``bulk/``: the same fields as a single result (ids as numbers; the checkpoint
    by id or by ``checkpoint_key``)."""

    stage_run = serializers.IntegerField(min_value=1)
    checkpoint = serializers.IntegerField(min_value=1, required=False)
    checkpoint_key = serializers.SlugField(max_length=64, required=False)
    value = QCValueField(required=False, allow_null=True)
    unit = serializers.CharField(max_length=32, required=False, allow_blank=True, allow_null=True)
    measured_at = serializers.DateTimeField()
    comment = serializers.CharField(max_length=5000, required=False, allow_blank=True)
    state = serializers.ChoiceField(
        choices=[("pending", "pending"), ("invalid", "invalid")], required=False, allow_null=True
    )


class QCResultBulkSerializer(serializers.Serializer):
    results = serializers.ListField(
        child=QCResultRowSerializer(), min_length=1, max_length=BULK_MAX_RESULTS
    )


class QCResultBulkItemSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    stage_run = serializers.IntegerField()
    checkpoint = serializers.IntegerField()
    verdict = serializers.ChoiceField(choices=Verdict.choices)


class QCResultBulkOutSerializer(serializers.Serializer):
    """The recorded results in row order (a replayed row returns the existing result)."""

    count = serializers.IntegerField()
    results = QCResultBulkItemSerializer(many=True)


class QCResultCorrectSerializer(serializers.Serializer):
    value = QCValueField(allow_null=True)
    unit = serializers.CharField(max_length=32, required=False, allow_blank=True, allow_null=True)
    measured_at = serializers.DateTimeField()
    reason = serializers.CharField(max_length=5000, help_text="Why the result is corrected.")


# --- deviations -----------------------------------------------------------------------------


class DeviationSerializer(SparseFieldsMixin, serializers.ModelSerializer):
    disposition = serializers.ChoiceField(
        choices=Disposition.choices,
        allow_blank=True,
        read_only=True,
        help_text="Empty until closed.",
    )

    class Meta:
        model = Deviation
        fields = [
            "id",
            "lab",
            "run",
            "stage_run",
            "qc_result",
            "kind",
            "severity",
            "status",
            "title",
            "description",
            "phase1_findings",
            "phase2_findings",
            "root_cause",
            "disposition",
            "justification",
            "opened_by",
            "opened_at",
            "closed_by",
            "closed_at",
        ]
        read_only_fields = fields


class DeviationCreateSerializer(serializers.Serializer):
    run = ScopedPrimaryKeyField(model=Run)
    stage_run = ScopedPrimaryKeyField(model=StageRun, required=False, allow_null=True)
    qc_result = ScopedPrimaryKeyField(model=QCResult, required=False, allow_null=True)
    kind = serializers.ChoiceField(choices=DeviationKind.choices, default=DeviationKind.MANUAL)
    severity = serializers.ChoiceField(
        choices=DeviationSeverity.choices, default=DeviationSeverity.MAJOR
    )
    title = serializers.CharField(max_length=300)
    description = serializers.CharField(
        max_length=10000, required=False, allow_blank=True, default=""
    )


class InvestigateSerializer(serializers.Serializer):
    phase = serializers.ChoiceField(
        choices=[("phase1", "phase1"), ("phase2", "phase2"), ("conclusion", "conclusion")],
        help_text="phase1: laboratory investigation; phase2: full-scale; conclusion: root cause.",
    )
    findings = serializers.CharField(max_length=10000)


class DispositionSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(choices=Disposition.choices)
    justification = serializers.CharField(max_length=10000)
    password = PasswordField()


# --- raw files and uploads ------------------------------------------------------------------


class RawFileSerializer(serializers.ModelSerializer):
    class Meta:
        model = RawFile
        fields = [
            "id",
            "kind",
            "filename",
            "content_type",
            "size_bytes",
            "sha256",
            "metadata",
            "status",
            "error",
            "uploaded_at",
        ]
        read_only_fields = fields


class ProblemField(serializers.JSONField):
    """A failure kept as a domain error record, shown as problem details."""

    def to_representation(self, value):
        return problem_body(value) if value is not None else None


class InstrumentUploadSerializer(SparseFieldsMixin, serializers.ModelSerializer):
    raw_file = RawFileSerializer(read_only=True)
    results = serializers.ListField(
        source="result_ids",
        child=serializers.IntegerField(),
        read_only=True,
        help_text="Ids of the QC results recorded.",
    )
    status = serializers.ChoiceField(choices=UploadStatus.choices, read_only=True)
    error = ProblemField(
        read_only=True, allow_null=True, help_text="Why parsing failed: {detail, errors, rows}."
    )
    status_url = serializers.SerializerMethodField()

    class Meta:
        model = InstrumentUpload
        fields = [
            "id",
            "lab",
            "status",
            "status_url",
            "filename",
            "kind",
            "size_bytes",
            "params",
            "raw_file",
            "results",
            "error",
            "created_at",
            "finished_at",
        ]
        read_only_fields = fields

    def get_status_url(self, upload) -> str:
        return f"/api/v1/instrument-uploads/{upload.pk}/"


class InstrumentUploadCreateSerializer(CheckpointByKeyMixin, serializers.Serializer):
    file = serializers.FileField(
        allow_empty_file=False,
        help_text="An FCS 2.0-3.2 file, or a CSV export read with the instrument's mapping.",
    )
    stage_run = ScopedPrimaryKeyField(
        model=StageRun,
        required=False,
        help_text="FCS: required. CSV: optional; without it each row's sample id is a run code.",
    )
    instrument = ScopedPrimaryKeyField(
        model=Instrument,
        required=False,
        help_text="CSV uploaded by a person: the instrument whose export (and column mapping) "
        "it is. An instrument token uploads as itself.",
    )
    checkpoint = ScopedPrimaryKeyField(
        model=CheckpointTemplate,
        required=False,
        help_text="FCS: the checkpoint the file supports (its value is `value`, or the event "
        "count for an `event_count` metric, or the file itself for a file checkpoint).",
    )
    checkpoint_key = serializers.SlugField(
        max_length=64, required=False, help_text="Or the checkpoint's key in the stage."
    )
    value = serializers.CharField(max_length=200, required=False, allow_blank=True)
    unit = serializers.CharField(max_length=32, required=False, allow_blank=True)
    measured_at = serializers.DateTimeField(
        required=False, help_text="Defaults to the FCS acquisition time, or now for CSV."
    )
    comment = serializers.CharField(max_length=5000, required=False, allow_blank=True, default="")
