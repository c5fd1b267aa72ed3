"""Clinical outcomes: the cohort table, a recipient's page (the outcome chart, visits with their
Igls class, the formulated product), a visit's values and CGM imports, the clinical settings."""

from __future__ import annotations

import zoneinfo

from django import forms
from django.contrib import messages
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from labs.models import CAN_ADMINISTER
from labs.selectors import role_in_lab
from protocol_tracker.clinical import selectors
from protocol_tracker.clinical import services as clinical
from protocol_tracker.clinical.measures import MEASURES, Measure
from protocol_tracker.clinical.models import (
    CGMTargetSet,
    InfusionRoute,
    TherapyEventKind,
    VisitKind,
)
from protocol_tracker.clinical.services.common import CAN_FORMULATE, CAN_RECORD_CLINICAL
from protocol_tracker.core.errors import DomainError, RowErrors
from protocol_tracker.web.access import add_domain_error, lab_view, or_404, require, require_lab
from protocol_tracker.web.access import use_lab as use_page_lab
from protocol_tracker.web.clinical_chart import outcome_chart
from protocol_tracker.web.forms import DATETIME_FORMATS, LocalDateTimeInput

DATE = forms.DateInput(attrs={"type": "date"})
# Outcome codes of the rule sets, in the reader's language.
OUTCOME_LABELS = {
    "optimal": _("Optimal"),
    "good": _("Good"),
    "marginal": _("Marginal"),
    "failure": _("Failure"),
    "met": _("Met"),
    "met_so_far": _("Met so far"),
    "not_met": _("Not met"),
    "not_yet": _("Not assessed yet (before day 90)"),
    None: _("Not classifiable"),
}


def _sci(value: float | None, unit: str = "") -> str:
    """1.2 × 10^6 IEQ: the way doses are written."""
    if value is None:
        return ""
    exponent = len(str(int(abs(value)))) - 1 if abs(value) >= 1 else 0
    if exponent < 4:
        return f"{value:g} {unit}".strip()
    return f"{value / 10**exponent:.3g} × 10^{exponent} {unit}".strip()


def _may(request: HttpRequest, lab_id: int, roles) -> bool:
    return role_in_lab(request.user, lab_id) in {str(r) for r in roles}


class RecipientForm(forms.Form):
    donor = forms.ChoiceField(label=_("Donor (the recipient: autologous)"))
    cgm_target_set = forms.ChoiceField(label=_("CGM targets"), choices=CGMTargetSet.choices)

    def __init__(self, *args, donors=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["donor"].choices = [(str(d.pk), d.code) for d in donors]


class FormulationForm(forms.Form):
    run = forms.ChoiceField(label=_("Run (the recipient's own)"))
    weight_kg = forms.FloatField(label=_("Body weight at formulation (kg)"))
    volume_ml = forms.FloatField(label=_("Product volume (mL)"))
    dose_cells = forms.FloatField(label=_("Dose (cells)"), required=False)
    dose_ieq = forms.FloatField(label=_("Dose (IEQ)"), required=False)
    route = forms.ChoiceField(label=_("Route"), choices=InfusionRoute.choices)
    expires_at = forms.DateTimeField(
        label=_("Product expiry"), widget=LocalDateTimeInput(), input_formats=DATETIME_FORMATS
    )
    reason = forms.CharField(label=_("Reason (for a correction)"), required=False)

    def __init__(self, *args, runs=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["run"].choices = [(str(r.pk), r.code) for r in runs]


class VisitForm(forms.Form):
    run = forms.ChoiceField(label=_("Run (the transplanted lot)"))
    kind = forms.ChoiceField(label=_("Visit"), choices=VisitKind.choices)
    visit_date = forms.DateField(label=_("Date"), widget=DATE)
    label = forms.CharField(label=_("Label (e.g. week 12)"), required=False, max_length=64)

    def __init__(self, *args, runs=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["run"].choices = [(str(r.pk), r.code) for r in runs]


class EventForm(forms.Form):
    kind = forms.ChoiceField(label=_("Event"), choices=TherapyEventKind.choices)
    on_date = forms.DateField(label=_("Date"), widget=DATE)
    drug = forms.CharField(label=_("Drug (oral agents)"), required=False, max_length=100)


class TargetsForm(forms.Form):
    cgm_target_set = forms.ChoiceField(label=_("CGM targets"), choices=CGMTargetSet.choices)
    reason = forms.CharField(label=_("Reason"))


def _unit_choices() -> list[tuple[str, str]]:
    units = sorted({u for spec in MEASURES.values() for u in spec.units})
    return [("", _("The measure's own unit")), *((u, u) for u in units)]


class ValueForm(forms.Form):
    measure = forms.ChoiceField(label=_("Measure"), choices=Measure.choices)
    value = forms.CharField(label=_("Value"), max_length=32)
    unit = forms.ChoiceField(label=_("Unit"), required=False, choices=_unit_choices)


class CorrectForm(forms.Form):
    new_value = forms.CharField(label=_("Corrected value"), max_length=32)
    unit = forms.ChoiceField(label=_("Unit"), required=False, choices=_unit_choices)
    reason = forms.CharField(label=_("Reason"))


class CGMForm(forms.Form):
    file = forms.FileField(label=_("CGM export (Dexcom Clarity or LibreView CSV)"))
    device_timezone = forms.CharField(label=_("Time zone of the device"), max_length=64)
    unit = forms.ChoiceField(
        label=_("Unit in the file"),
        required=False,
        choices=[("", _("As the file says")), ("mg/dL", "mg/dL"), ("mmol/L", "mmol/L")],
    )

    def clean_device_timezone(self) -> str:
        value = self.cleaned_data["device_timezone"].strip()
        if value not in zoneinfo.available_timezones():
            raise forms.ValidationError(_("Not a known IANA time zone."))
        return value


class SettingsForm(forms.Form):
    egfr_threshold = forms.FloatField(
        label=_("eGFR threshold for the C-peptide warning (mL/min/1.73 m²)"),
        min_value=1,
        max_value=150,
    )


@lab_view
def cohort(request: HttpRequest) -> HttpResponse:
    lab = require_lab(request)
    may_record = _may(request, lab.pk, CAN_RECORD_CLINICAL)
    form = RecipientForm(
        request.POST or None,
        donors=selectors.donors_without_record(lab=lab, user=request.user) if may_record else (),
    )
    if request.method == "POST":
        require(may_record)
        if form.is_valid():
            donor = next(
                d for d in form.fields["donor"].choices if d[0] == form.cleaned_data["donor"]
            )
            try:
                recipient = clinical.recipient_create(
                    lab=lab,
                    donor=selectors.donors_without_record(lab=lab, user=request.user).get(
                        pk=int(donor[0])
                    ),
                    cgm_target_set=form.cleaned_data["cgm_target_set"],
                    actor=request.user,
                )
            except DomainError as exc:
                add_domain_error(form, exc, default_field="donor")
            else:
                return redirect("web:recipient", pk=recipient.pk)
    return render(
        request,
        "web/clinical/cohort.html",
        {
            "nav": "clinical",
            "rows": selectors.lab_cohort_outcomes(user=request.user, lab=lab),
            "labels": OUTCOME_LABELS,
            "form": form if may_record else None,
        },
    )


def _recipient(request: HttpRequest, pk: int):
    recipient = or_404(selectors.recipient_for_user, recipient_id=pk, user=request.user)
    use_page_lab(request, recipient.lab)
    return recipient


@lab_view
def recipient_detail(request: HttpRequest, pk: int) -> HttpResponse:
    recipient = _recipient(request, pk)
    picture = selectors.recipient_outcomes(recipient)
    runs = list(selectors.runs_of_recipient(recipient))
    may_record = _may(request, recipient.lab_id, CAN_RECORD_CLINICAL)
    return render(
        request,
        "web/clinical/recipient.html",
        {
            "nav": "clinical",
            "recipient": recipient,
            "picture": picture,
            "chart": outcome_chart(picture),
            "labels": OUTCOME_LABELS,
            "formulation": selectors.current_formulation(recipient=recipient),
            "dose_text": _dose_text(picture["dosing"]),
            "may_record": may_record,
            "may_formulate": _may(request, recipient.lab_id, CAN_FORMULATE),
            "formulation_form": FormulationForm(runs=runs),
            "visit_form": VisitForm(runs=runs),
            "event_form": EventForm(),
            "targets_form": TargetsForm(initial={"cgm_target_set": recipient.cgm_target_set}),
        },
    )


def _dose_text(dosing: dict | None) -> dict:
    if not dosing:
        return {}
    return {
        "cells": _sci(dosing["dose_cells"]),
        "cells_per_kg": _sci(dosing["cells_per_kg"]),
        "ieq": _sci(dosing["dose_ieq"]),
        "ieq_per_kg": _sci(dosing["ieq_per_kg"]),
    }


def _run_of(recipient, value: str):
    return selectors.runs_of_recipient(recipient).filter(pk=int(value)).first()


@require_POST
@lab_view
def recipient_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    """formulation / visit / event / targets, each one service call."""
    recipient = _recipient(request, pk)
    runs = list(selectors.runs_of_recipient(recipient))
    forms_by_action = {
        "formulation": (FormulationForm, {"runs": runs}, CAN_FORMULATE),
        "visit": (VisitForm, {"runs": runs}, CAN_RECORD_CLINICAL),
        "event": (EventForm, {}, CAN_RECORD_CLINICAL),
        "targets": (TargetsForm, {}, CAN_RECORD_CLINICAL),
    }
    if action not in forms_by_action:
        return redirect("web:recipient", pk=pk)
    form_class, extra, roles = forms_by_action[action]
    require(_may(request, recipient.lab_id, roles))
    form = form_class(request.POST, **extra)
    if not form.is_valid():
        for field, errors in form.errors.items():
            messages.error(
                request, f"{form.fields[field].label if field in form.fields else ''}: {errors[0]}"
            )
        return redirect("web:recipient", pk=pk)
    data = form.cleaned_data
    try:
        if action == "formulation":
            clinical.formulation_record(
                recipient=recipient,
                run=_run_of(recipient, data["run"]),
                weight_kg=data["weight_kg"],
                volume_ml=data["volume_ml"],
                dose_cells=data["dose_cells"],
                dose_ieq=data["dose_ieq"],
                route=data["route"],
                expires_at=data["expires_at"],
                reason=data["reason"],
                actor=request.user,
            )
        elif action == "visit":
            visit = clinical.visit_create(
                recipient=recipient,
                run=_run_of(recipient, data["run"]),
                kind=data["kind"],
                visit_date=data["visit_date"],
                label=data["label"],
                actor=request.user,
            )
            return redirect("web:visit", pk=visit.pk)
        elif action == "event":
            clinical.therapy_event_record(
                recipient=recipient,
                kind=data["kind"],
                on_date=data["on_date"],
                drug=data["drug"],
                actor=request.user,
            )
        else:
            clinical.recipient_target_set(
                recipient=recipient,
                cgm_target_set=data["cgm_target_set"],
                reason=data["reason"],
                actor=request.user,
            )
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, gettext("Saved."))
    return redirect("web:recipient", pk=pk)


def _visit(request: HttpRequest, pk: int):
    visit = or_404(selectors.visit_detail, visit_id=pk, user=request.user)
    use_page_lab(request, visit.recipient.lab)
    return visit


@lab_view
def visit_detail(request: HttpRequest, pk: int) -> HttpResponse:
    visit = _visit(request, pk)
    may_record = _may(request, visit.recipient.lab_id, CAN_RECORD_CLINICAL)
    value_form = ValueForm(request.POST or None, prefix="v")
    if request.method == "POST":
        require(may_record)
        if value_form.is_valid():
            data = value_form.cleaned_data
            try:
                clinical.visit_values_record(
                    visit=visit,
                    values=[
                        {"measure": data["measure"], "value": data["value"], "unit": data["unit"]}
                    ],
                    actor=request.user,
                )
            except RowErrors as exc:
                for row in exc.rows:
                    value_form.add_error(
                        row["field"] if row["field"] in value_form.fields else None,
                        row["message"],
                    )
            except DomainError as exc:
                add_domain_error(value_form, exc, default_field="value")
            else:
                messages.success(request, gettext("Value recorded."))
                return redirect("web:visit", pk=pk)
    return render(
        request,
        "web/clinical/visit.html",
        {
            "nav": "clinical",
            "visit": visit,
            "may_record": may_record,
            "value_form": value_form,
            "correct_form": CorrectForm(),
            "cgm_form": CGMForm(initial={"device_timezone": visit.recipient.lab.timezone}),
        },
    )


@require_POST
@lab_view
def visit_cgm(request: HttpRequest, pk: int) -> HttpResponse:
    visit = _visit(request, pk)
    require(_may(request, visit.recipient.lab_id, CAN_RECORD_CLINICAL))
    form = CGMForm(request.POST, request.FILES)
    if form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            record = clinical.cgm_import(
                visit=visit,
                data=upload.read(),
                filename=upload.name,
                device_timezone=form.cleaned_data["device_timezone"],
                declared_unit=form.cleaned_data["unit"] or None,
                actor=request.user,
            )
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(
                request,
                gettext("CGM file imported: %(n)s readings, time in range %(tir)s%%.")
                % {"n": record.summary["readings"], "tir": record.metrics["tir"]},
            )
    else:
        for errors in form.errors.values():
            messages.error(request, errors[0])
    return redirect("web:visit", pk=pk)


@require_POST
@lab_view
def visit_value_correct(request: HttpRequest, pk: int, value_pk: int) -> HttpResponse:
    visit = _visit(request, pk)
    require(_may(request, visit.recipient.lab_id, CAN_RECORD_CLINICAL))
    value = next((v for v in visit.current if v.pk == value_pk), None)
    form = CorrectForm(request.POST)
    if value is None:
        messages.error(request, gettext("That value is not current; correct the current one."))
    elif form.is_valid():
        try:
            clinical.visit_value_correct(
                value=value,
                new_value=form.cleaned_data["new_value"],
                unit=form.cleaned_data["unit"],
                reason=form.cleaned_data["reason"],
                actor=request.user,
            )
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, gettext("Value corrected."))
    else:
        for errors in form.errors.values():
            messages.error(request, errors[0])
    return redirect("web:visit", pk=pk)


@lab_view
def clinical_settings(request: HttpRequest) -> HttpResponse:
    lab = require_lab(request)
    may_edit = _may(request, lab.pk, CAN_ADMINISTER)
    form = SettingsForm(
        request.POST or None, initial={"egfr_threshold": selectors.egfr_threshold_of(lab)}
    )
    if request.method == "POST":
        require(may_edit)
        if form.is_valid():
            try:
                with transaction.atomic():
                    clinical.clinical_settings_update(
                        lab=lab,
                        egfr_threshold=form.cleaned_data["egfr_threshold"],
                        actor=request.user,
                    )
            except DomainError as exc:
                add_domain_error(form, exc)
            else:
                messages.success(request, gettext("Settings saved."))
                return redirect("web:clinical_settings")
    return render(
        request,
        "web/clinical/settings.html",
        {"nav": "clinical", "form": form, "may_edit": may_edit},
    )


def batch_followup(run) -> dict:
    """The batch record's follow-up section (context for ``web/clinical/partials/
    batch_followup.html``): the selector's rows and the chart."""
    section = selectors.followup_section(run)
    if section is None:
        return {"followup": None}
    return {
        "followup": section,
        "followup_chart": outcome_chart(section["picture"]),
        "labels": OUTCOME_LABELS,
    }
