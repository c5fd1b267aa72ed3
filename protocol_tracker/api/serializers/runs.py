"""Donors, runs, stage runs and bench task occurrences."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from labs.models import Lab
from protocol_tracker.api.serializers.common import (
    ColleagueField,
    PasswordField,
    ScopedPrimaryKeyField,
    SparseFieldsMixin,
)
from protocol_tracker.protocols.models import ProtocolTemplate, StageKind
from protocol_tracker.qc.models import Deviation, Disposition, QCResult
from protocol_tracker.runs.models import (
    ConsentScope,
    Donor,
    Run,
    RunStatus,
    StageRun,
    TaskOccurrence,
)
from protocol_tracker.signatures.models import Signature


def result_value(result):
    """A result's value as recorded: number, boolean or text (None while pending)."""
    if result.value_number is not None:
        return result.value_number
    if result.value_bool is not None:
        return result.value_bool
    return result.value_text or None


# --- donors ---------------------------------------------------------------------------------


class DonorSerializer(SparseFieldsMixin, serializers.ModelSerializer):
    consent = serializers.BooleanField(source="consent_given", read_only=True)
    coi = serializers.CharField(
        source="coi.value",
        read_only=True,
        allow_null=True,
        default=None,
        help_text="The chain-of-identity identifier issued at enrolment.",
    )

    class Meta:
        model = Donor
        fields = [
            "id",
            "lab",
            "code",
            "coi",
            "consent",
            "consent_scope",
            "consent_version",
            "created_at",
        ]
        read_only_fields = fields


class DonorCreateSerializer(serializers.Serializer):
    lab = ScopedPrimaryKeyField(
        model=Lab, required=False, help_text="Needed when you work in several labs."
    )
    code = serializers.CharField(max_length=32, help_text="A pseudonym, never a name.")
    consent = serializers.BooleanField(help_text="Whether the donor's consent is recorded.")
    consent_scope = serializers.ListField(
        child=serializers.ChoiceField(choices=ConsentScope.choices),
        required=False,
        default=list,
        max_length=len(ConsentScope.choices),
    )
    consent_version = serializers.CharField(
        max_length=64, required=False, allow_blank=True, default=""
    )


# --- runs -----------------------------------------------------------------------------------


class RunListSerializer(SparseFieldsMixin, serializers.ModelSerializer):
    """The lean list shape (the list endpoint builds it from one ``.values()`` query)."""

    protocol_code = serializers.CharField(source="protocol.code", read_only=True)
    protocol_name = serializers.CharField(source="protocol.name", read_only=True)
    protocol_version = serializers.IntegerField(source="protocol.version", read_only=True)
    donor_code = serializers.CharField(source="donor.code", read_only=True)
    coi = serializers.CharField(
        source="donor.coi.value",
        read_only=True,
        allow_null=True,
        default=None,
        help_text="The donor's chain-of-identity identifier (every run of the donor carries it).",
    )

    class Meta:
        model = Run
        fields = [
            "id",
            "lab",
            "code",
            "status",
            "protocol",
            "protocol_code",
            "protocol_name",
            "protocol_version",
            "donor",
            "donor_code",
            "coi",
            "parent",
            "assignee",
            "passage",
            "planned_start",
            "started_at",
            "completed_at",
            "closed_at",
            "conditional_release",
            "flagged",
            "created_at",
        ]
        read_only_fields = fields


class ResultBriefSerializer(serializers.ModelSerializer):
    checkpoint_key = serializers.CharField(source="checkpoint.key", read_only=True)
    value = serializers.SerializerMethodField()

    class Meta:
        model = QCResult
        fields = [
            "id",
            "checkpoint",
            "checkpoint_key",
            "value",
            "unit",
            "verdict",
            "measured_at",
            "raw_file",
        ]
        read_only_fields = fields

    @extend_schema_field(
        {"oneOf": [{"type": "number"}, {"type": "boolean"}, {"type": "string"}], "nullable": True}
    )
    def get_value(self, result):
        return result_value(result)


class StageRunBriefSerializer(serializers.ModelSerializer):
    key = serializers.CharField(source="stage.key", read_only=True)
    name = serializers.CharField(source="stage.name", read_only=True)
    kind = serializers.ChoiceField(source="stage.kind", choices=StageKind.choices, read_only=True)
    current_results = ResultBriefSerializer(
        many=True, read_only=True, help_text="Results no correction has superseded."
    )

    class Meta:
        model = StageRun
        fields = [
            "id",
            "stage",
            "key",
            "name",
            "kind",
            "order",
            "status",
            "planned_start",
            "due_at",
            "started_at",
            "completed_at",
            "assignee",
            "current_results",
        ]
        read_only_fields = fields


class DeviationBriefSerializer(serializers.ModelSerializer):
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
            "kind",
            "severity",
            "status",
            "title",
            "stage_run",
            "qc_result",
            "disposition",
            "opened_at",
            "closed_at",
        ]
        read_only_fields = fields


class SignatureBriefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Signature
        fields = [
            "id",
            "signer",
            "signer_name",
            "meaning",
            "object_type",
            "object_id",
            "statement",
            "signed_at",
        ]
        read_only_fields = fields


class RunDetailSerializer(RunListSerializer):
    stage_runs = StageRunBriefSerializer(many=True, read_only=True)
    children = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    deviations = DeviationBriefSerializer(many=True, read_only=True)
    signatures = SignatureBriefSerializer(many=True, read_only=True)

    class Meta(RunListSerializer.Meta):
        fields = [
            *RunListSerializer.Meta.fields,
            "root",
            "pending_tests",
            "flag_reason",
            "created_by",
            "children",
            "stage_runs",
            "deviations",
            "signatures",
        ]
        read_only_fields = fields


class RunCreateSerializer(serializers.Serializer):
    protocol = ScopedPrimaryKeyField(
        model=ProtocolTemplate, help_text="A published protocol version (id)."
    )
    donor = ScopedPrimaryKeyField(model=Donor)
    parent = ScopedPrimaryKeyField(
        model=Run,
        required=False,
        allow_null=True,
        help_text="The run this one descends from (lineage).",
    )
    planned_start = serializers.DateTimeField(required=False, allow_null=True)
    code = serializers.CharField(
        max_length=64, required=False, help_text="Defaults to <donor>-<PROTOCOL>-<n>."
    )
    assignee = ColleagueField(required=False, allow_null=True)


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=5000)


class ReleaseSerializer(serializers.Serializer):
    password = PasswordField()
    audit_trail_reviewed = serializers.BooleanField(
        help_text="You attest that you reviewed the batch's audit trail (part of the release's "
        "meaning); must be true."
    )
    pending_tests = serializers.ListField(
        child=serializers.CharField(max_length=64),
        required=False,
        default=list,
        max_length=200,
        help_text="Checkpoint keys still pending: a conditional release.",
    )


class RejectSerializer(serializers.Serializer):
    password = PasswordField()
    reason = serializers.CharField(max_length=5000)


class LineageNodeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    code = serializers.CharField()
    status = serializers.ChoiceField(choices=RunStatus.choices)
    parent = serializers.IntegerField(allow_null=True)
    protocol = serializers.IntegerField()
    protocol_code = serializers.CharField()
    passage = serializers.IntegerField()
    depth = serializers.IntegerField()


class LineageSerializer(serializers.Serializer):
    run = serializers.IntegerField()
    root = serializers.IntegerField()
    donor_code = serializers.CharField()
    nodes = LineageNodeSerializer(many=True, help_text="The whole tree, parents before children.")


# --- stage runs -----------------------------------------------------------------------------


class StageRunSerializer(SparseFieldsMixin, serializers.ModelSerializer):
    run_code = serializers.CharField(source="run.code", read_only=True)
    key = serializers.CharField(source="stage.key", read_only=True)
    name = serializers.CharField(source="stage.name", read_only=True)
    kind = serializers.ChoiceField(source="stage.kind", choices=StageKind.choices, read_only=True)

    class Meta:
        model = StageRun
        fields = [
            "id",
            "run",
            "run_code",
            "stage",
            "key",
            "name",
            "kind",
            "order",
            "status",
            "planned_start",
            "due_at",
            "started_at",
            "started_by",
            "completed_at",
            "completed_by",
            "assignee",
            "notes",
        ]
        read_only_fields = fields


class NoteSerializer(serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=5000)


class AssignSerializer(serializers.Serializer):
    assignee = ColleagueField(
        allow_null=True, help_text="A user who works in the lab, or null to unassign."
    )


# --- bench tasks ----------------------------------------------------------------------------


class TaskOccurrenceSerializer(SparseFieldsMixin, serializers.ModelSerializer):
    run = serializers.IntegerField(source="stage_run.run_id", read_only=True)
    resolution = serializers.CharField(
        read_only=True,
        help_text="How it was closed at its stage's completion: done_late, skipped, "
        "not_applicable; empty otherwise.",
    )
    key = serializers.CharField(source="task.key", read_only=True)
    name = serializers.CharField(source="task.name", read_only=True)
    is_open = serializers.BooleanField(read_only=True)

    class Meta:
        model = TaskOccurrence
        fields = [
            "id",
            "run",
            "stage_run",
            "task",
            "key",
            "name",
            "due_at",
            "done_at",
            "done_by",
            "skipped",
            "note",
            "resolution",
            "resolution_reason",
            "resolved_by",
            "resolved_at",
            "is_open",
        ]
        read_only_fields = fields
