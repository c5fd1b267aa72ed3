"""Admin for donors, runs and their work: view-only. Every change goes through the services
(``runs.services``), which check roles, lock rows and write the audit trail."""

from __future__ import annotations

from django.contrib import admin

from labs.admin import LabScopedAdmin
from protocol_tracker.runs.models import Donor, PassageEvent, Run, StageRun, TaskOccurrence


class GMPRecordAdmin(LabScopedAdmin):
    read_only_model = True
    list_per_page = 50


@admin.register(Donor)
class DonorAdmin(GMPRecordAdmin):
    list_display = ("code", "lab", "consent_given", "consent_version", "created_at")
    list_filter = ("consent_given",)
    search_fields = ("code",)


class StageRunInline(admin.TabularInline):
    model = StageRun
    fields = (
        "order",
        "stage",
        "status",
        "planned_start",
        "due_at",
        "started_at",
        "completed_at",
        "completed_by",
        "assignee",
    )
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Run)
class RunAdmin(GMPRecordAdmin):
    list_display = (
        "code",
        "lab",
        "protocol",
        "donor",
        "status",
        "passage",
        "planned_start",
        "flagged",
    )
    list_filter = ("status", "flagged", "conditional_release")
    search_fields = ("code", "donor__code")
    list_select_related = ("lab", "protocol", "donor")
    inlines = [StageRunInline]


@admin.register(StageRun)
class StageRunAdmin(GMPRecordAdmin):
    list_display = ("run", "stage", "status", "planned_start", "due_at", "completed_at")
    list_filter = ("status",)
    search_fields = ("run__code", "stage__name")
    list_select_related = ("run", "stage")


@admin.register(TaskOccurrence)
class TaskOccurrenceAdmin(GMPRecordAdmin):
    list_display = ("task", "stage_run", "due_at", "done_at", "done_by", "skipped")
    list_filter = ("skipped",)
    search_fields = ("stage_run__run__code", "task__name")
    list_select_related = ("task", "stage_run__run", "stage_run__stage", "done_by")


@admin.register(PassageEvent)
class PassageEventAdmin(GMPRecordAdmin):
    list_display = ("run", "kind", "passage_before", "passage_after", "at", "by")
    list_filter = ("kind",)
    search_fields = ("run__code",)
    list_select_related = ("run", "by")
