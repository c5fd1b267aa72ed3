"""Admin for QC records: view-only. Results, deviations and signatures change only through
``qc.services`` (corrections are new rows; closing a deviation needs a signature)."""

from __future__ import annotations

from django.contrib import admin

from protocol_tracker.qc.models import Deviation, QCResult, RawFile
from protocol_tracker.runs.admin import GMPRecordAdmin
from protocol_tracker.signatures.models import Signature


@admin.register(QCResult)
class QCResultAdmin(GMPRecordAdmin):
    list_display = (
        "checkpoint",
        "stage_run",
        "display_value",
        "verdict",
        "measured_at",
        "recorded_by",
        "recorded_by_instrument",
        "supersedes",
    )
    list_filter = ("verdict",)
    search_fields = ("stage_run__run__code", "checkpoint__key")
    list_select_related = (
        "checkpoint",
        "stage_run__run",
        "stage_run__stage",
        "recorded_by",
        "recorded_by_instrument",
        "supersedes",
    )


@admin.register(RawFile)
class RawFileAdmin(GMPRecordAdmin):
    list_display = ("filename", "lab", "kind", "size_bytes", "sha256", "status", "uploaded_at")
    list_filter = ("kind", "status")
    search_fields = ("filename", "sha256")


@admin.register(Deviation)
class DeviationAdmin(GMPRecordAdmin):
    list_display = (
        "__str__",
        "run",
        "kind",
        "severity",
        "status",
        "disposition",
        "opened_at",
        "closed_at",
    )
    list_filter = ("kind", "severity", "status", "disposition")
    search_fields = ("title", "run__code")
    list_select_related = ("run",)


@admin.register(Signature)
class SignatureAdmin(GMPRecordAdmin):
    list_display = ("signer_name", "meaning", "object_type", "object_id", "run", "signed_at")
    list_filter = ("meaning",)
    search_fields = ("signer_name", "object_id", "run__code")
    list_select_related = ("run",)
