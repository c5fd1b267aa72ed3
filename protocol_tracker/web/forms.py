"""Forms of the web UI. They only shape and check input; the services decide and write."""

from __future__ import annotations

import uuid

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from protocol_tracker import specs
from protocol_tracker.protocols.models import ValueType
from protocol_tracker.qc.models import Disposition
from protocol_tracker.specs.units import UnitError, normalize_unit

DATETIME_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"]


class LocalDateTimeInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, **kwargs):
        super().__init__(format="%Y-%m-%dT%H:%M", **kwargs)


def local_now_minute():
    return timezone.localtime().replace(second=0, microsecond=0, tzinfo=None)


class QCValueForm(forms.Form):
    """A QC value for one checkpoint: the widget follows the checkpoint's value type."""

    value = forms.CharField(label=_("Value"), max_length=500)
    unit = forms.CharField(label=_("Unit"), required=False, max_length=32)
    measured_at = forms.DateTimeField(
        label=_("Measured at"),
        widget=LocalDateTimeInput(),
        input_formats=DATETIME_FORMATS,
        help_text=_("In the lab's time zone."),
    )
    comment = forms.CharField(
        label=_("Comment"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    idempotency_key = forms.CharField(widget=forms.HiddenInput, max_length=128)
    confirm_oos = forms.BooleanField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, checkpoint, **kwargs):
        self.checkpoint = checkpoint
        initial = kwargs.setdefault("initial", {})
        initial.setdefault("unit", checkpoint.unit)
        initial.setdefault("measured_at", local_now_minute())
        initial.setdefault("idempotency_key", uuid.uuid4().hex)
        super().__init__(*args, **kwargs)
        value = self.fields["value"]
        vt = checkpoint.value_type
        attrs = {"autocomplete": "off", "aria-describedby": "verdict"}
        if vt in (ValueType.NUMBER, ValueType.PERCENT):
            attrs.update({"inputmode": "decimal", "autofocus": "autofocus"})
            value.widget = forms.TextInput(attrs=attrs)
            if vt == ValueType.PERCENT:
                self.fields["unit"].widget = forms.HiddenInput()
        else:
            self.fields["unit"].widget = forms.HiddenInput()
            if vt == ValueType.BOOLEAN:
                self.fields["value"] = forms.ChoiceField(
                    label=_("Value"),
                    choices=[("yes", _("Yes")), ("no", _("No"))],
                    widget=forms.RadioSelect(attrs={"aria-describedby": "verdict"}),
                )
            else:
                value.widget = forms.TextInput(attrs=attrs | {"list": "allowed-answers"})

    def clean_unit(self) -> str:
        unit = self.cleaned_data.get("unit") or ""
        if self.checkpoint.value_type not in (ValueType.NUMBER, ValueType.PERCENT):
            return ""
        if not unit:
            return self.checkpoint.unit
        try:
            normalize_unit(unit)
        except UnitError as exc:
            raise forms.ValidationError(str(exc)) from None
        return unit

    def clean_value(self):
        raw = self.cleaned_data["value"]
        try:
            return specs.parse_value(raw, value_type=self.checkpoint.value_type)
        except specs.SpecError as exc:
            raise forms.ValidationError(str(exc)) from None


class QCCorrectionForm(QCValueForm):
    reason = forms.CharField(
        label=_("Reason for the correction"),
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Required: the original result is kept and shown as corrected."),
    )


class SignForm(forms.Form):
    """Re-authentication for an electronic signature. The password is checked by the service and
    never stored."""

    password = forms.CharField(
        label=_("Your password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )


class DispositionForm(SignForm):
    decision = forms.ChoiceField(label=_("Decision"), widget=forms.RadioSelect)
    justification = forms.CharField(
        label=_("Justification"), widget=forms.Textarea(attrs={"rows": 3})
    )
    field_order = ["decision", "justification", "password"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["decision"].choices = Disposition.choices


class InvestigationForm(forms.Form):
    phase = forms.ChoiceField(
        label=_("Step"),
        widget=forms.RadioSelect,
        choices=[
            ("phase1", _("Phase I: laboratory investigation")),
            ("phase2", _("Phase II: full-scale investigation")),
            ("conclusion", _("Conclusion: root cause (then awaits disposition)")),
        ],
    )
    findings = forms.CharField(label=_("Findings"), widget=forms.Textarea(attrs={"rows": 3}))


class RejectForm(SignForm):
    reason = forms.CharField(
        label=_("Reason for rejection"), widget=forms.Textarea(attrs={"rows": 3})
    )
    field_order = ["reason", "password"]
