"""Protocol versions: lean list, full detail (stages → tasks, checkpoints), draft creation."""

from __future__ import annotations

from rest_framework import serializers

from labs.models import Lab
from protocol_tracker.api.serializers.common import (
    HoursField,
    PasswordField,
    ScopedPrimaryKeyField,
    SparseFieldsMixin,
)
from protocol_tracker.protocols.models import (
    CheckpointTemplate,
    ProtocolTemplate,
    RecordedBy,
    StageKind,
    StageTemplate,
    TaskTemplate,
    ValueType,
)
from protocol_tracker.protocols.selectors import protocol_review_hash

PROTOCOL_LIST_FIELDS = [
    "id",
    "lab",
    "code",
    "name",
    "version",
    "status",
    "description",
    "previous_version",
    "created_at",
    "published_at",
    "definition_hash",
]


class ProtocolListSerializer(SparseFieldsMixin, serializers.ModelSerializer):
    class Meta:
        model = ProtocolTemplate
        fields = PROTOCOL_LIST_FIELDS
        read_only_fields = fields


class TaskOutSerializer(serializers.ModelSerializer):
    every_hours = HoursField(source="every", read_only=True, allow_null=True)

    class Meta:
        model = TaskTemplate
        fields = ["id", "key", "name", "every_hours", "on_days", "description"]
        read_only_fields = fields


class CheckpointOutSerializer(serializers.ModelSerializer):
    class Meta:
        model = CheckpointTemplate
        fields = [
            "id",
            "key",
            "order",
            "assay",
            "name",
            "metric",
            "unit",
            "value_type",
            "spec",
            "blocking",
            "recorded_by",
            "analyte",
            "pending_allowed",
            "retest_every_passages",
            "retest_every_days",
            "requires_consent",
            "source",
            "notes",
        ]
        read_only_fields = fields


class StageOutSerializer(serializers.ModelSerializer):
    expected_duration_hours = HoursField(source="expected_duration", read_only=True)
    window_early_hours = HoursField(source="window_early", read_only=True)
    window_late_hours = HoursField(source="window_late", read_only=True)
    reminder_lead_hours = HoursField(source="reminder_lead", read_only=True, allow_null=True)
    depends_on = serializers.SerializerMethodField()
    tasks = TaskOutSerializer(many=True, read_only=True)
    checkpoints = CheckpointOutSerializer(many=True, read_only=True)

    class Meta:
        model = StageTemplate
        fields = [
            "id",
            "key",
            "order",
            "name",
            "kind",
            "expected_duration_hours",
            "window_early_hours",
            "window_late_hours",
            "reminder_lead_hours",
            "depends_on",
            "description",
            "source",
            "tasks",
            "checkpoints",
        ]
        read_only_fields = fields

    def get_depends_on(self, stage) -> list[str]:
        return [d.key for d in stage.depends_on.all()]


class ProtocolDetailSerializer(SparseFieldsMixin, serializers.ModelSerializer):
    stages = StageOutSerializer(many=True, read_only=True)
    review_hash = serializers.SerializerMethodField(
        help_text="The definition's hash as it stands: an approval names the one reviewed."
    )

    class Meta:
        model = ProtocolTemplate
        fields = [*PROTOCOL_LIST_FIELDS, "published_by", "created_by", "review_hash", "stages"]
        read_only_fields = fields

    def get_review_hash(self, protocol) -> str:
        return protocol_review_hash(protocol=protocol)


# --- drafts ---------------------------------------------------------------------------------

_HOURS = {"min_value": 0, "max_value": 100_000}


class TaskDefinitionSerializer(serializers.Serializer):
    key = serializers.CharField(max_length=64)
    name = serializers.CharField(max_length=200)
    every_hours = serializers.FloatField(required=False, allow_null=True, **_HOURS)
    on_days = serializers.ListField(
        child=serializers.IntegerField(min_value=0, max_value=3650),
        required=False,
        allow_null=True,
        max_length=1000,
    )
    description = serializers.CharField(
        required=False, allow_blank=True, allow_null=True, max_length=10000
    )


class CheckpointDefinitionSerializer(serializers.Serializer):
    key = serializers.CharField(max_length=64)
    assay = serializers.CharField(max_length=64)
    name = serializers.CharField(max_length=200)
    metric = serializers.CharField(max_length=100)
    unit = serializers.CharField(max_length=32, required=False, allow_blank=True, allow_null=True)
    value_type = serializers.ChoiceField(choices=ValueType.choices)
    spec = serializers.DictField(
        required=False, allow_null=True, help_text="min / max / allowed / expected ..."
    )
    blocking = serializers.BooleanField(required=False)
    recorded_by = serializers.ChoiceField(choices=RecordedBy.choices, required=False)
    analyte = serializers.CharField(
        max_length=32, required=False, allow_blank=True, allow_null=True
    )
    pending_allowed = serializers.BooleanField(required=False)
    retest_every_passages = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=1000
    )
    retest_every_days = serializers.IntegerField(
        required=False, allow_null=True, min_value=1, max_value=3650
    )
    requires_consent = serializers.ListField(
        child=serializers.ChoiceField(
            choices=["reprogramming", "banking", "genetic_testing", "future_use"]
        ),
        required=False,
        max_length=4,
    )
    source = serializers.CharField(
        required=False, allow_blank=True, allow_null=True, max_length=10000
    )
    notes = serializers.CharField(
        required=False, allow_blank=True, allow_null=True, max_length=10000
    )


class StageDefinitionSerializer(serializers.Serializer):
    key = serializers.CharField(max_length=64)
    name = serializers.CharField(max_length=200)
    kind = serializers.ChoiceField(choices=StageKind.choices)
    expected_duration_hours = serializers.FloatField(**_HOURS)
    window_early_hours = serializers.FloatField(required=False, **_HOURS)
    window_late_hours = serializers.FloatField(required=False, **_HOURS)
    reminder_lead_hours = serializers.FloatField(required=False, allow_null=True, **_HOURS)
    depends_on = serializers.ListField(
        child=serializers.CharField(max_length=64), required=False, max_length=200
    )
    description = serializers.CharField(
        required=False, allow_blank=True, allow_null=True, max_length=10000
    )
    source = serializers.CharField(
        required=False, allow_blank=True, allow_null=True, max_length=10000
    )
    tasks = TaskDefinitionSerializer(many=True, required=False)
    checkpoints = CheckpointDefinitionSerializer(many=True, required=False)


class ProtocolCreateSerializer(serializers.Serializer):
    """A new draft: empty (add stages in the designer), or whole from ``stages``."""

    lab = ScopedPrimaryKeyField(
        model=Lab, required=False, help_text="Needed when you administer several labs."
    )
    code = serializers.CharField(max_length=64)
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(
        required=False, allow_blank=True, default="", max_length=10000
    )
    stages = StageDefinitionSerializer(
        many=True,
        required=False,
        max_length=200,
        help_text="The whole protocol in the definition schema (durations in hours). Omit for "
        "an empty draft.",
    )


class ProtocolPublishSerializer(serializers.Serializer):
    """A reviewer's signed approval for use (four eyes: not the draft's author)."""

    password = PasswordField()
    reason = serializers.CharField(max_length=4000, help_text="Why this version is approved.")
    reviewed_hash = serializers.CharField(
        max_length=64,
        help_text="The `review_hash` of the draft you reviewed (GET the protocol): a draft "
        "changed since is refused.",
    )
    retire_previous = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Retire the earlier published versions of this protocol.",
    )


class ProtocolRetireSerializer(serializers.Serializer):
    password = PasswordField()
    reason = serializers.CharField(max_length=4000)


class ConventionConfirmSerializer(serializers.Serializer):
    checkpoint_keys = serializers.ListField(
        child=serializers.CharField(max_length=64), min_length=1, max_length=500
    )
    password = PasswordField()
    comment = serializers.CharField(required=False, allow_blank=True, default="", max_length=4000)


class ConventionSerializer(serializers.Serializer):
    stage = serializers.CharField(source="stage_key")
    key = serializers.CharField()
    name = serializers.CharField()
    content = serializers.JSONField(help_text="The convention as confirmation binds it.")
    convention_hash = serializers.CharField()
    confirmed = serializers.BooleanField()
    confirmed_by = serializers.SerializerMethodField()
    confirmed_at = serializers.SerializerMethodField()

    def get_confirmed_by(self, row) -> str | None:
        return row.confirmation.confirmed_by.get_username() if row.confirmation else None

    def get_confirmed_at(self, row) -> str | None:
        return row.confirmation.confirmed_at.isoformat() if row.confirmation else None


class ProtocolApprovalSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    action = serializers.CharField()
    reason = serializers.CharField()
    compared_with = serializers.IntegerField(source="compared_with_id", allow_null=True)
    diff = serializers.JSONField()
    definition_hash = serializers.CharField()
    signed_by = serializers.CharField(source="signed_by.get_username")
    signed_at = serializers.DateTimeField()
    signature = serializers.IntegerField(source="signature_id", allow_null=True)
