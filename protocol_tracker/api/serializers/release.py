"""Serializers of the release review: exceptions and their acknowledgements, grouped
dispositions, stage completion with reasons, exports."""

from __future__ import annotations

from datetime import date

from rest_framework import serializers

from protocol_tracker.api.serializers.common import PasswordField, ScopedPrimaryKeyField
from protocol_tracker.api.serializers.materials import UsageSerializer
from protocol_tracker.qc.models import Deviation, DispositionGroup
from protocol_tracker.qc.services.grouped import GROUP_DECISIONS, GROUP_MAX
from protocol_tracker.runs.models import TaskResolution

# The dates an export may name (a date range is read in the lab's days).
EXPORT_FIRST_DAY, EXPORT_LAST_DAY = date(1970, 1, 1), date(9998, 12, 31)

# Where each record type an exception names is read in the API.
RECORD_PATHS = {
    "run": "/api/v1/runs/{id}/",
    "stage_run": "/api/v1/stage-runs/{id}/",
    "qc_result": "/api/v1/qc-results/{id}/",
    "deviation": "/api/v1/deviations/{id}/",
    "task_occurrence": "/api/v1/task-occurrences/{id}/",
    "checkpoint": "/api/v1/runs/{run}/",
}


class AcknowledgementSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    by = serializers.CharField(help_text="Username of the reviewer.")
    at = serializers.DateTimeField()
    comment = serializers.CharField()


class RecordRefSerializer(serializers.Serializer):
    type = serializers.CharField()
    id = serializers.IntegerField()
    url = serializers.CharField()


class ExceptionItemSerializer(serializers.Serializer):
    key = serializers.CharField(help_text="Stable: acknowledge the item by it.")
    kind = serializers.CharField()
    title = serializers.CharField()
    detail = serializers.CharField()
    record = RecordRefSerializer(allow_null=True)
    at = serializers.DateTimeField(allow_null=True)
    content_hash = serializers.CharField(help_text="What an acknowledgement binds.")
    acknowledged = serializers.BooleanField()
    acknowledgement = AcknowledgementSerializer(allow_null=True)
    changed_since_acknowledged = serializers.BooleanField()


class RunExceptionsSerializer(serializers.Serializer):
    run = serializers.IntegerField()
    complete = serializers.BooleanField(help_text="Every item acknowledged: the release may go.")
    count = serializers.IntegerField()
    unacknowledged = serializers.IntegerField()
    items = ExceptionItemSerializer(many=True)


def review_body(review) -> dict:
    """A run's review (``outcomes.selectors.run_review``) as the API shows it."""
    items = []
    for row in review.rows:
        item, ack = row.item, row.acknowledgement
        record = None
        if item.record is not None:
            kind, pk = item.record
            record = {
                "type": kind,
                "id": pk,
                "url": RECORD_PATHS[kind].format(id=pk, run=review.run.pk),
            }
        items.append(
            {
                "key": item.key,
                "kind": item.kind,
                "title": item.title,
                "detail": item.detail,
                "record": record,
                "at": item.at,
                "content_hash": item.content_hash,
                "acknowledged": ack is not None,
                "acknowledgement": None
                if ack is None
                else {
                    "id": ack.pk,
                    "by": ack.acknowledged_by.get_username(),
                    "at": ack.acknowledged_at,
                    "comment": ack.comment,
                },
                "changed_since_acknowledged": row.stale is not None,
            }
        )
    return {
        "run": review.run.pk,
        "complete": review.complete,
        "count": len(items),
        "unacknowledged": len(review.unacknowledged),
        "items": items,
    }


class AcknowledgeSerializer(serializers.Serializer):
    keys = serializers.ListField(
        child=serializers.CharField(max_length=200), min_length=1, max_length=1000
    )
    comment = serializers.CharField(required=False, allow_blank=True, default="", max_length=4000)


class TaskResolutionSerializer(serializers.Serializer):
    occurrence = serializers.IntegerField(min_value=1, help_text="A task occurrence of the stage.")
    resolution = serializers.ChoiceField(choices=TaskResolution.choices)
    reason = serializers.CharField(max_length=2000)


class StageCompleteSerializer(UsageSerializer):
    """Completing a stage: a note, the lots and equipment used (recorded first), the
    resolution of its open bench tasks and the reason when outside its window."""

    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=5000)
    window_reason = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        max_length=2000,
        help_text="Required when the stage finishes outside its allowed window.",
    )
    tasks = TaskResolutionSerializer(
        many=True,
        required=False,
        default=list,
        help_text="One resolution per bench task still open that fell due.",
    )


class GroupDispositionSerializer(serializers.Serializer):
    deviations = serializers.ListField(
        child=ScopedPrimaryKeyField(model=Deviation), min_length=2, max_length=GROUP_MAX
    )
    decision = serializers.ChoiceField(choices=[(d, d) for d in GROUP_DECISIONS])
    justification = serializers.CharField(max_length=4000)
    password = PasswordField()


class DispositionGroupSerializer(serializers.ModelSerializer):
    deviations = serializers.SerializerMethodField()
    signature = serializers.IntegerField(read_only=True, help_text="The e-signature's id.")
    signed_by = serializers.CharField(source="signed_by.get_username")

    class Meta:
        model = DispositionGroup
        fields = [
            "id", "lab", "run", "kind", "decision", "justification", "signed_by", "signed_at",
            "signature", "deviations",
        ]  # fmt: skip

    def get_deviations(self, obj) -> list[int]:
        return sorted(d.pk for d in obj.deviations.all())


class ExportQuerySerializer(serializers.Serializer):
    run = serializers.IntegerField(required=False, min_value=1)
    protocol = serializers.IntegerField(required=False, min_value=1)
    measured_from = serializers.DateField(required=False, help_text="In the lab's time zone.")
    measured_to = serializers.DateField(required=False, help_text="Inclusive.")
    output = serializers.ChoiceField(
        choices=["csv", "xlsx"], default="csv", help_text="csv or xlsx (Excel)."
    )

    def validate(self, attrs):
        if not {"run", "protocol", "measured_from", "measured_to"} & attrs.keys():
            raise serializers.ValidationError(
                "give a run, a protocol or a date range (measured_from / measured_to)"
            )
        start, end = attrs.get("measured_from"), attrs.get("measured_to")
        for name in ("measured_from", "measured_to"):
            day = attrs.get(name)
            if day is not None and not EXPORT_FIRST_DAY <= day <= EXPORT_LAST_DAY:
                raise serializers.ValidationError(
                    {name: [f"between {EXPORT_FIRST_DAY} and {EXPORT_LAST_DAY}"]}
                )
        if start and end and start > end:
            raise serializers.ValidationError({"measured_to": ["must not be before the start"]})
        return attrs
