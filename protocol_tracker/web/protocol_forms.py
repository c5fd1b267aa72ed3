"""Forms of the protocol designer. Durations are typed in hours; the services get timedeltas."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django import forms
from django.utils.translation import gettext_lazy as _

from protocol_tracker.protocols.models import RecordedBy, StageKind, ValueType


def hours(value: Decimal | None) -> timedelta | None:
    return None if value is None else timedelta(hours=float(value))


def _hours_field(label, *, required=True, help_text=""):
    return forms.DecimalField(
        label=label,
        required=required,
        min_value=0,
        max_digits=8,
        decimal_places=2,
        help_text=help_text,
        widget=forms.NumberInput(attrs={"inputmode": "decimal", "step": "any"}),
    )


class ProtocolDraftForm(forms.Form):
    code = forms.SlugField(
        label=_("Code"),
        max_length=64,
        help_text=_("Short identifier shared by all versions, e.g. islet-ensc."),
    )
    name = forms.CharField(label=_("Name"), max_length=200)
    description = forms.CharField(
        label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )


class StageForm(forms.Form):
    service_fields = {
        "expected_duration": "expected_duration_hours",
        "window_early": "window_early_hours",
        "window_late": "window_late_hours",
        "reminder_lead": "reminder_lead_hours",
    }

    key = forms.SlugField(label=_("Key"), max_length=64)
    name = forms.CharField(label=_("Name"), max_length=200)
    kind = forms.ChoiceField(label=_("Kind"), choices=StageKind.choices)
    expected_duration_hours = _hours_field(_("Expected duration (hours)"))
    window_early_hours = _hours_field(_("May finish early by (hours)"))
    window_late_hours = _hours_field(_("May finish late by (hours)"))
    reminder_lead_hours = _hours_field(
        _("Reminder lead time (hours)"), required=False, help_text=_("Empty: the lab's default.")
    )
    depends_on = forms.MultipleChoiceField(
        label=_("Depends on"), required=False, widget=forms.CheckboxSelectMultiple
    )
    description = forms.CharField(
        label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    source = forms.CharField(label=_("Source of the criterion"), required=False)

    def __init__(self, *args, stage_keys=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["depends_on"].choices = list(stage_keys)

    def service_kwargs(self) -> dict:
        d = self.cleaned_data
        return {
            "key": d["key"],
            "name": d["name"],
            "kind": d["kind"],
            "expected_duration": hours(d["expected_duration_hours"]),
            "window_early": hours(d["window_early_hours"]),
            "window_late": hours(d["window_late_hours"]),
            "reminder_lead": hours(d["reminder_lead_hours"]),
            "depends_on": list(d["depends_on"]),
            "description": d["description"],
            "source": d["source"],
        }


class TaskForm(forms.Form):
    service_fields = {"every": "every_hours"}

    stage = forms.ChoiceField(label=_("Stage"))
    key = forms.SlugField(label=_("Key"), max_length=64)
    name = forms.CharField(label=_("Name"), max_length=200)
    every_hours = _hours_field(_("Every (hours)"), required=False)
    on_days = forms.CharField(
        label=_("Or on days from the stage start"),
        required=False,
        help_text=_("Comma-separated, e.g. 0, 2, 4."),
    )
    description = forms.CharField(label=_("Description"), required=False)

    def __init__(self, *args, stages=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["stage"].choices = list(stages)

    def clean_on_days(self):
        raw = self.cleaned_data["on_days"].strip()
        if not raw:
            return None
        try:
            return [int(part) for part in raw.replace("，", ",").split(",") if part.strip()]
        except ValueError:
            raise forms.ValidationError(_("Whole numbers separated by commas.")) from None

    def clean(self):
        data = super().clean()
        if data.get("every_hours") is None and not data.get("on_days"):
            self.add_error("every_hours", _("Give a repeat interval or a list of days."))
        if data.get("every_hours") is not None and data.get("on_days"):
            self.add_error("on_days", _("Give either a repeat interval or days, not both."))
        return data

    def service_kwargs(self) -> dict:
        d = self.cleaned_data
        return {
            "key": d["key"],
            "name": d["name"],
            "every": hours(d["every_hours"]),
            "on_days": d["on_days"],
            "description": d["description"],
        }


class CheckpointForm(forms.Form):
    service_fields = {"spec": "spec_min"}

    stage = forms.ChoiceField(label=_("Stage"))
    key = forms.SlugField(label=_("Key"), max_length=64)
    name = forms.CharField(label=_("Name"), max_length=200)
    assay = forms.SlugField(label=_("Assay"), max_length=64)
    metric = forms.CharField(label=_("Metric"), max_length=100)
    value_type = forms.ChoiceField(label=_("Value type"), choices=ValueType.choices)
    unit = forms.CharField(
        label=_("Unit"),
        required=False,
        max_length=32,
        help_text=_("e.g. %, cells/mL, EU/mL; empty for yes/no and text."),
    )
    spec_min = forms.DecimalField(
        label=_("Minimum"), required=False, widget=forms.NumberInput(attrs={"step": "any"})
    )
    min_inclusive = forms.BooleanField(
        label=_("Minimum is allowed (≥)"), required=False, initial=True
    )
    spec_max = forms.DecimalField(
        label=_("Maximum"), required=False, widget=forms.NumberInput(attrs={"step": "any"})
    )
    max_inclusive = forms.BooleanField(
        label=_("Maximum is allowed (≤)"), required=False, initial=True
    )
    allowed = forms.CharField(
        label=_("Allowed answers"),
        required=False,
        help_text=_("Choice or text checkpoints; comma-separated."),
    )
    expected = forms.CharField(
        label=_("Expected answer"),
        required=False,
        help_text=_("Yes/no checkpoints: yes or no. Text: the one answer."),
    )
    blocking = forms.BooleanField(
        label=_("Blocking (must pass before the stage completes)"), required=False, initial=True
    )
    recorded_by = forms.ChoiceField(
        label=_("Recorded by"), choices=RecordedBy.choices, initial=RecordedBy.ANY
    )
    pending_allowed = forms.BooleanField(
        label=_("May be pending at a conditional release"), required=False
    )
    source = forms.CharField(label=_("Source of the criterion"), required=False)

    def __init__(self, *args, stages=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["stage"].choices = list(stages)

    def spec(self) -> dict:
        d = self.cleaned_data
        spec: dict = {}
        if d.get("spec_min") is not None:
            spec["min"] = float(d["spec_min"])
            spec["min_inclusive"] = bool(d.get("min_inclusive"))
        if d.get("spec_max") is not None:
            spec["max"] = float(d["spec_max"])
            spec["max_inclusive"] = bool(d.get("max_inclusive"))
        allowed = [
            a.strip() for a in (d.get("allowed") or "").replace("，", ",").split(",") if a.strip()
        ]
        if allowed:
            spec["allowed"] = allowed
        expected = (d.get("expected") or "").strip()
        if expected:
            if d.get("value_type") == ValueType.BOOLEAN:
                spec["expected"] = expected.lower() in ("yes", "true", "1", "是")
            else:
                spec["expected"] = expected
        return spec

    def service_kwargs(self) -> dict:
        d = self.cleaned_data
        return {
            "key": d["key"],
            "assay": d["assay"],
            "name": d["name"],
            "metric": d["metric"],
            "unit": d["unit"],
            "value_type": d["value_type"],
            "spec": self.spec(),
            "blocking": d["blocking"],
            "recorded_by": d["recorded_by"],
            "pending_allowed": d["pending_allowed"],
            "source": d["source"],
        }


class CompareForm(forms.Form):
    old = forms.ChoiceField(label=_("Old version"))
    new = forms.ChoiceField(label=_("New version"))

    def __init__(self, *args, versions=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["old"].choices = list(versions)
        self.fields["new"].choices = list(versions)
