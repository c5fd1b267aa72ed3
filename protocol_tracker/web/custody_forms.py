"""Forms of the chain-of-identity screens: they shape input; the custody services decide."""

from __future__ import annotations

import uuid

from django import forms
from django.utils.translation import gettext_lazy as _

from protocol_tracker.custody.models import Condition, ItemKind, ScanMethod, ShipmentKind
from protocol_tracker.identity.labels import TEMPLATES
from protocol_tracker.identity.models import IdentifierKind
from protocol_tracker.web.forms import DATETIME_FORMATS, LocalDateTimeInput, local_now_minute


def _when(label):
    return forms.DateTimeField(
        label=label, widget=LocalDateTimeInput(), input_formats=DATETIME_FORMATS
    )


class ScanForm(forms.Form):
    scanned = forms.CharField(
        label=_("Scan the label"),
        max_length=600,
        strip=False,
        widget=forms.TextInput(
            attrs={
                "autofocus": "autofocus",
                "autocomplete": "off",
                "autocapitalize": "characters",
                "spellcheck": "false",
                "aria-describedby": "scan-result",
                "class": "scan-input",
            }
        ),
        help_text=_("A USB scanner types the code and presses Enter; or use the camera."),
    )
    method = forms.ChoiceField(
        choices=ScanMethod.choices, initial=ScanMethod.SCANNER, widget=forms.HiddenInput
    )
    manual = forms.BooleanField(label=_("I typed it by hand (needs a witness)"), required=False)
    witness = forms.CharField(label=_("Witness (username)"), required=False, max_length=150)
    witness_password = forms.CharField(
        label=_("Witness password"), required=False, strip=False, widget=forms.PasswordInput
    )
    idempotency_key = forms.CharField(widget=forms.HiddenInput, max_length=128)

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("initial", {}).setdefault("idempotency_key", uuid.uuid4().hex)
        super().__init__(*args, **kwargs)

    @property
    def chosen_method(self) -> str:
        if self.cleaned_data.get("manual"):
            return ScanMethod.MANUAL
        method = self.cleaned_data.get("method") or ScanMethod.SCANNER
        return ScanMethod.SCANNER if method == ScanMethod.MANUAL else method


class LabelPrintForm(forms.Form):
    template = forms.ChoiceField(
        label=_("Label size"), choices=[(k, t.name) for k, t in TEMPLATES.items()]
    )
    kind = forms.ChoiceField(label=_("Item"), choices=ItemKind.choices, initial=ItemKind.VIAL)
    count = forms.IntegerField(label=_("How many items"), min_value=1, max_value=500, initial=1)
    copies = forms.IntegerField(label=_("Copies of each"), min_value=1, max_value=10, initial=1)
    output = forms.ChoiceField(
        label=_("Printer"),
        choices=[
            ("pdf", _("PDF (label roll)")),
            ("a4", _("PDF (A4 sheet)")),
            ("zpl", _("ZPL (Zebra)")),
        ],
    )
    with_patient_identifiers = forms.BooleanField(
        label=_("Print the patient identifiers (clinicians)"), required=False
    )


class ReconcileForm(forms.Form):
    used = forms.IntegerField(label=_("Used"), min_value=0, initial=0)
    destroyed = forms.IntegerField(label=_("Destroyed"), min_value=0, initial=0)
    reason = forms.CharField(label=_("Reason"), required=False, max_length=2000)


class ShipmentForm(forms.Form):
    kind = forms.ChoiceField(label=_("Shipment"), choices=ShipmentKind.choices)
    courier = forms.CharField(label=_("Courier"), max_length=200)
    tracking = forms.CharField(label=_("Tracking number"), required=False, max_length=64)
    origin = forms.CharField(label=_("From"), max_length=200)
    destination = forms.CharField(label=_("To"), max_length=200)
    range_min_c = forms.FloatField(label=_("Lowest allowed (°C)"), initial=2)
    range_max_c = forms.FloatField(label=_("Highest allowed (°C)"), initial=8)
    drawn_at = forms.DateTimeField(
        label=_("Blood drawn at"),
        required=False,
        widget=LocalDateTimeInput(),
        input_formats=DATETIME_FORMATS,
    )
    packed_at = _when(_("Packed at"))
    shipped_at = forms.DateTimeField(
        label=_("Handed to the courier at"),
        required=False,
        widget=LocalDateTimeInput(),
        input_formats=DATETIME_FORMATS,
    )

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("initial", {}).setdefault("packed_at", local_now_minute())
        super().__init__(*args, **kwargs)


class ReceiveShipmentForm(forms.Form):
    received_at = _when(_("Received at"))

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("initial", {}).setdefault("received_at", local_now_minute())
        super().__init__(*args, **kwargs)


class LoggerForm(forms.Form):
    file = forms.FileField(label=_("Data-logger export (CSV)"))


class HandOffForm(forms.Form):
    item = forms.ChoiceField(label=_("Item"))
    from_party = forms.CharField(label=_("From (person or role)"), max_length=200)
    from_location = forms.CharField(label=_("From (place)"), max_length=200)
    to_party = forms.CharField(label=_("To (person or role)"), max_length=200)
    to_location = forms.CharField(label=_("To (place)"), max_length=200)
    sent_at = _when(_("Handed over at"))
    scanned = forms.CharField(
        label=_("Scan the item's label"),
        max_length=600,
        strip=False,
        widget=forms.TextInput(attrs={"autocomplete": "off", "class": "scan-input"}),
    )

    def __init__(self, *args, items=(), **kwargs):
        kwargs.setdefault("initial", {}).setdefault("sent_at", local_now_minute())
        super().__init__(*args, **kwargs)
        self.fields["item"].choices = [
            (i.item_id, f"{i.item_id} · {i.get_kind_display()}") for i in items
        ]


class HandOffReceiveForm(forms.Form):
    received_at = _when(_("Received at"))
    condition = forms.ChoiceField(label=_("Condition on receipt"), choices=Condition.choices)
    temperature_c = forms.FloatField(label=_("Temperature (°C)"), required=False)
    scanned = forms.CharField(
        label=_("Scan the item's label"),
        max_length=600,
        strip=False,
        widget=forms.TextInput(
            attrs={"autocomplete": "off", "autofocus": "autofocus", "class": "scan-input"}
        ),
    )

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("initial", {}).setdefault("received_at", local_now_minute())
        super().__init__(*args, **kwargs)


class IdentifiersForm(forms.Form):
    hospital_record = forms.CharField(
        label=_("Hospital record number"), required=False, max_length=200
    )
    date_of_birth = forms.CharField(label=_("Date of birth"), required=False, max_length=200)
    trial_subject = forms.CharField(
        label=_("Clinical-trial subject ID"), required=False, max_length=200
    )
    reason = forms.CharField(label=_("Reason (for a correction)"), required=False, max_length=2000)

    def values(self) -> dict[str, str]:
        return {
            kind: self.cleaned_data[kind]
            for kind in IdentifierKind.values
            if kind in self.fields and self.cleaned_data.get(kind)
        }


class RevealForm(forms.Form):
    purpose = forms.CharField(label=_("Why do you need them?"), max_length=300)
