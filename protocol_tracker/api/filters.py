"""List filters (django-filter). Ids are validated as ids; times need an offset or mean UTC."""

from __future__ import annotations

from django import forms
from django.db.models import Exists, OuterRef
from django_filters import rest_framework as filters

from protocol_tracker.api.serializers.common import MAX_ID
from protocol_tracker.audit.models import AuditEvent
from protocol_tracker.protocols.models import ProtocolStatus, ProtocolTemplate, StageKind
from protocol_tracker.qc.models import (
    Deviation,
    DeviationKind,
    DeviationSeverity,
    DeviationStatus,
    QCResult,
    Verdict,
)
from protocol_tracker.runs.models import (
    OPEN_STAGE_STATUSES,
    Donor,
    Run,
    RunStatus,
    StageRun,
    StageStatus,
    TaskOccurrence,
)


class IdFilter(filters.NumberFilter):
    """An object id (1 to 2^63-1); another lab's id simply matches nothing."""

    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(*args, **kwargs)


class ProtocolFilter(filters.FilterSet):
    status = filters.MultipleChoiceFilter(choices=ProtocolStatus.choices)
    lab = IdFilter(field_name="lab_id")
    code = filters.CharFilter(max_length=64)

    class Meta:
        model = ProtocolTemplate
        fields = ["status", "lab", "code"]


class DonorFilter(filters.FilterSet):
    lab = IdFilter(field_name="lab_id")
    code = filters.CharFilter(max_length=32)
    consent = filters.BooleanFilter(field_name="consent_given")

    class Meta:
        model = Donor
        fields = ["lab", "code", "consent"]


def _open_stage_runs():
    return StageRun.objects.filter(run=OuterRef("pk"), status__in=OPEN_STAGE_STATUSES)


class RunFilter(filters.FilterSet):
    status = filters.MultipleChoiceFilter(choices=RunStatus.choices)
    lab = IdFilter(field_name="lab_id")
    protocol = IdFilter(field_name="protocol_id")
    donor = IdFilter(field_name="donor_id")
    parent = IdFilter(field_name="parent_id")
    assignee = IdFilter(field_name="assignee_id")
    code = filters.CharFilter(max_length=64)
    due_before = filters.IsoDateTimeFilter(
        method="filter_due_before", label="Runs with an open stage due before this time."
    )
    due_after = filters.IsoDateTimeFilter(
        method="filter_due_after", label="Runs with an open stage due after this time."
    )
    stage_kind = filters.ChoiceFilter(
        choices=StageKind.choices,
        method="filter_stage_kind",
        label="Runs with an open stage of this kind.",
    )

    class Meta:
        model = Run
        fields = ["status", "lab", "protocol", "donor", "parent", "assignee", "code"]

    def filter_due_before(self, queryset, name, value):
        return queryset.filter(Exists(_open_stage_runs().filter(due_at__lt=value)))

    def filter_due_after(self, queryset, name, value):
        return queryset.filter(Exists(_open_stage_runs().filter(due_at__gt=value)))

    def filter_stage_kind(self, queryset, name, value):
        return queryset.filter(Exists(_open_stage_runs().filter(stage__kind=value)))


class StageRunFilter(filters.FilterSet):
    run = IdFilter(field_name="run_id")
    status = filters.MultipleChoiceFilter(choices=StageStatus.choices)
    stage_kind = filters.ChoiceFilter(field_name="stage__kind", choices=StageKind.choices)
    assignee = IdFilter(field_name="assignee_id")
    due_before = filters.IsoDateTimeFilter(field_name="due_at", lookup_expr="lt")
    due_after = filters.IsoDateTimeFilter(field_name="due_at", lookup_expr="gt")

    class Meta:
        model = StageRun
        fields = ["run", "status", "stage_kind", "assignee", "due_before", "due_after"]


class TaskOccurrenceFilter(filters.FilterSet):
    run = IdFilter(field_name="stage_run__run_id")
    stage_run = IdFilter(field_name="stage_run_id")
    stage_kind = filters.ChoiceFilter(
        field_name="stage_run__stage__kind", choices=StageKind.choices
    )
    due_before = filters.IsoDateTimeFilter(field_name="due_at", lookup_expr="lt")
    due_after = filters.IsoDateTimeFilter(field_name="due_at", lookup_expr="gt")
    open = filters.BooleanFilter(method="filter_open", label="Not done and not skipped.")

    class Meta:
        model = TaskOccurrence
        fields = ["run", "stage_run", "stage_kind", "due_before", "due_after", "open"]

    def filter_open(self, queryset, name, value):
        is_open = {"done_at__isnull": True, "skipped": False}
        return queryset.filter(**is_open) if value else queryset.exclude(**is_open)


class QCResultFilter(filters.FilterSet):
    run = IdFilter(field_name="stage_run__run_id")
    stage_run = IdFilter(field_name="stage_run_id")
    checkpoint = IdFilter(field_name="checkpoint_id")
    verdict = filters.MultipleChoiceFilter(choices=Verdict.choices)
    current = filters.BooleanFilter(
        field_name="superseded_by",
        lookup_expr="isnull",
        label="Only results no correction has superseded.",
    )
    measured_before = filters.IsoDateTimeFilter(field_name="measured_at", lookup_expr="lt")
    measured_after = filters.IsoDateTimeFilter(field_name="measured_at", lookup_expr="gt")

    class Meta:
        model = QCResult
        fields = ["run", "stage_run", "checkpoint", "verdict", "current"]


class DeviationFilter(filters.FilterSet):
    run = IdFilter(field_name="run_id")
    stage_run = IdFilter(field_name="stage_run_id")
    status = filters.MultipleChoiceFilter(choices=DeviationStatus.choices)
    open = filters.BooleanFilter(method="filter_open", label="Not closed.")
    kind = filters.ChoiceFilter(choices=DeviationKind.choices)
    severity = filters.ChoiceFilter(choices=DeviationSeverity.choices)

    class Meta:
        model = Deviation
        fields = ["run", "stage_run", "status", "kind", "severity"]

    def filter_open(self, queryset, name, value):
        closed = {"status": DeviationStatus.CLOSED}
        return queryset.exclude(**closed) if value else queryset.filter(**closed)


class AuditEventFilter(filters.FilterSet):
    run = IdFilter(field_name="run_id")
    lab = IdFilter(field_name="lab_id")
    action = filters.CharFilter(max_length=64)
    object_type = filters.CharFilter(max_length=64)
    object_id = filters.CharFilter(max_length=64)
    after = filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gt")
    before = filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = AuditEvent
        fields = ["run", "lab", "action", "object_type", "object_id"]
