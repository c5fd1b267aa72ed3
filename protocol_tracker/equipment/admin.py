"""Equipment and instruments in the Django admin, scoped to the labs one administers.

Instruments are added and changed here through the same services as the equipment screens: the
assays an instrument may post are picked from those of the lab's published protocols (no JSON to
type), and a new instrument is registered as equipment for its calibration. Equipment and its
records are read-only here: they change on the equipment screens and through the API.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages

from labs.admin import ADMIN_ROLES, CredentialInline, LabScopedAdmin
from labs.models import Instrument, InstrumentCredential, Lab
from labs.services import (
    instrument_credential_issue,
    instrument_credential_revoke,
    instrument_update,
)
from protocol_tracker.core.errors import DomainError
from protocol_tracker.core.scoping import lab_ids_for_user
from protocol_tracker.equipment.models import CalibrationRecord, Equipment, MaintenanceRecord
from protocol_tracker.equipment.selectors import instrument_assays_of_lab
from protocol_tracker.equipment.services import instrument_assays_set, instrument_register


class InstrumentAdminForm(forms.ModelForm):
    allowed_assays = forms.MultipleChoiceField(
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="The assays of the lab's published protocols that instruments may record.",
    )

    class Meta:
        model = Instrument
        fields = ("lab", "name", "kind", "make", "model", "serial", "allowed_assays", "is_active")

    def __init__(self, *args, labs=None, **kwargs):
        super().__init__(*args, **kwargs)
        lab_ids = [self.instance.lab_id] if self.instance.pk else list(labs or [])
        choices = sorted({a for lab_id in lab_ids for a in instrument_assays_of_lab(lab=lab_id)})
        self.fields["allowed_assays"].choices = [(a, a) for a in choices]
        if self.instance.pk:
            self.fields["lab"].disabled = True
            self.initial["allowed_assays"] = list(self.instance.allowed_assays or [])

    def clean(self):
        data = super().clean()
        lab = data.get("lab") or (self.instance.lab if self.instance.pk else None)
        if lab is not None:
            known = set(instrument_assays_of_lab(lab=lab))
            unknown = sorted(set(data.get("allowed_assays") or []) - known)
            if unknown:
                self.add_error(
                    "allowed_assays",
                    f"not an assay of {lab}'s published protocols: {', '.join(unknown)}",
                )
        return data


class InstrumentAdmin(LabScopedAdmin):
    form = InstrumentAdminForm
    list_display = ("name", "lab", "kind", "make", "model", "serial", "is_active")
    list_filter = ("kind", "is_active")
    search_fields = ("name", "serial")
    inlines = [CredentialInline]
    actions = ["issue_token", "revoke_tokens"]

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        if request.user.is_superuser:
            labs = list(Lab.objects.values_list("pk", flat=True))
        else:
            labs = list(
                lab_ids_for_user(request.user, roles=ADMIN_ROLES).values_list("lab_id", flat=True)
            )

        class Scoped(form):
            def __init__(self, *args, **kw):
                super().__init__(*args, labs=labs, **kw)

        return Scoped

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        try:
            if not change:
                created = instrument_register(
                    lab=data["lab"],
                    name=data["name"],
                    kind=data["kind"],
                    make=data["make"],
                    model=data["model"],
                    serial=data["serial"],
                    allowed_assays=list(data["allowed_assays"]),
                    actor=None if request.user.is_superuser else request.user,
                )
                obj.pk = created.pk
                obj._state.adding = False
            else:
                instrument = Instrument.objects.get(pk=obj.pk)
                instrument_update(
                    instrument=instrument,
                    actor=request.user,
                    **{
                        f: data[f] for f in ("name", "kind", "make", "model", "serial", "is_active")
                    },
                )
                instrument_assays_set(
                    instrument=instrument,
                    allowed_assays=sorted(data["allowed_assays"]),
                    actor=None if request.user.is_superuser else request.user,
                )
        except DomainError as exc:
            # The form checked what the services check; a refusal here is a race. Show it.
            self.message_user(request, exc.message, messages.ERROR)
            raise

    @admin.action(description="Issue a new API token (shown once)")
    def issue_token(self, request, queryset):
        for instrument in queryset:
            _, token = instrument_credential_issue(instrument=instrument, actor=request.user)
            self.message_user(
                request,
                f"Token for {instrument.name} (copy it now, it is not shown again): {token}",
                messages.WARNING,
            )

    @admin.action(description="Revoke all tokens")
    def revoke_tokens(self, request, queryset):
        credentials = InstrumentCredential.objects.filter(
            instrument__in=queryset, revoked_at__isnull=True
        )
        for credential in credentials:
            instrument_credential_revoke(
                credential=credential, actor=request.user, reason="revoked in admin"
            )
        self.message_user(request, f"Revoked {len(credentials)} token(s).")


admin.site.register(Instrument, InstrumentAdmin)


@admin.register(Equipment)
class EquipmentAdmin(LabScopedAdmin):
    read_only_model = True
    list_display = ("code", "name", "kind", "status", "calibration_due", "maintenance_due", "lab")
    list_filter = ("kind", "status")
    search_fields = ("code", "name", "serial")


@admin.register(CalibrationRecord)
class CalibrationRecordAdmin(LabScopedAdmin):
    read_only_model = True
    list_display = ("equipment", "performed_at", "passed", "next_due", "performed_by")


@admin.register(MaintenanceRecord)
class MaintenanceRecordAdmin(LabScopedAdmin):
    read_only_model = True
    list_display = ("equipment", "performed_at", "kind", "next_due", "performed_by")
