"""Admin for clinical records: view-only. Every change goes through ``clinical.services``."""

from __future__ import annotations

from django.contrib import admin

from labs.admin import LabScopedAdmin
from protocol_tracker.clinical.models import (
    CGMImport,
    Formulation,
    Recipient,
    TherapyEvent,
    Visit,
    VisitValue,
)


class ClinicalRecordAdmin(LabScopedAdmin):
    read_only_model = True
    list_per_page = 50


@admin.register(Recipient)
class RecipientAdmin(ClinicalRecordAdmin):
    list_display = ("donor", "lab", "cgm_target_set", "created_at")
    search_fields = ("donor__code",)


@admin.register(Formulation)
class FormulationAdmin(ClinicalRecordAdmin):
    list_display = ("recipient", "run", "weight_kg", "volume_ml", "expires_at", "recorded_at")


@admin.register(Visit)
class VisitAdmin(ClinicalRecordAdmin):
    list_display = ("recipient", "kind", "visit_date", "label", "recorded_at")
    list_filter = ("kind",)


@admin.register(VisitValue)
class VisitValueAdmin(ClinicalRecordAdmin):
    list_display = ("visit", "measure", "value", "unit", "value_canonical", "source")
    list_filter = ("measure", "source")


@admin.register(CGMImport)
class CGMImportAdmin(ClinicalRecordAdmin):
    list_display = ("visit", "filename", "format", "sha256_original", "imported_at")


@admin.register(TherapyEvent)
class TherapyEventAdmin(ClinicalRecordAdmin):
    list_display = ("recipient", "kind", "drug", "on_date")
