"""Forms of the materials, equipment and storage screens. They shape and check input; the
services decide and write (and their refusals are shown next to the fields they name)."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from labs.models import InstrumentKind
from protocol_tracker.cellbank.models import BankTier, VesselKind
from protocol_tracker.equipment.models import EquipmentStatus, MaintenanceKind
from protocol_tracker.inventory.models import MAX_BOX_SIDE, StorageKind
from protocol_tracker.materials.models import MaterialKind
from protocol_tracker.protocols.models import EquipmentKind
from protocol_tracker.specs.quantities import STOCK_UNITS
from protocol_tracker.web.forms import DATETIME_FORMATS, LocalDateTimeInput, SignForm

UNIT_CHOICES = [(u, u) for u in STOCK_UNITS]


class DateInput(forms.DateInput):
    input_type = "date"


class ScanInput(forms.TextInput):
    """A field a barcode scanner types into (a scan ends with Enter, which must not submit)."""

    def __init__(self, **kwargs):
        attrs = {
            "autocomplete": "off",
            "autocapitalize": "off",
            "spellcheck": "false",
            "data-scan": "1",
            "inputmode": "text",
        }
        attrs.update(kwargs.pop("attrs", {}))
        super().__init__(attrs=attrs, **kwargs)


class MaterialForm(forms.Form):
    code = forms.CharField(
        label=_("Code"),
        max_length=64,
        help_text=_("What protocols' bills of materials name it by: a-z, 0-9, - and _."),
    )
    name = forms.CharField(label=_("Name"), max_length=200)
    kind = forms.ChoiceField(label=_("Kind"), choices=MaterialKind.choices)
    unit = forms.ChoiceField(label=_("Counted in"), choices=UNIT_CHOICES)
    supplier = forms.CharField(label=_("Supplier"), max_length=200, required=False)
    catalogue_number = forms.CharField(label=_("Catalogue number"), max_length=100, required=False)
    storage = forms.CharField(label=_("Storage"), max_length=100, required=False)
    expiry_warning_days = forms.IntegerField(
        label=_("Warn this many days before expiry"),
        min_value=0,
        max_value=365,
        required=False,
        help_text=_("Empty: the lab's default."),
    )


class LotReceiveForm(forms.Form):
    material = forms.ChoiceField(label=_("Material"))
    lot_number = forms.CharField(label=_("Supplier lot number"), max_length=64, widget=ScanInput())
    expiry_date = forms.DateField(
        label=_("Expiry date"),
        widget=DateInput(),
        help_text=_("Expired from the start of this date, lab time."),
    )
    quantity = forms.CharField(label=_("Quantity received"), max_length=40)
    unit = forms.ChoiceField(
        label=_("Unit"), choices=[("", _("The material's unit")), *UNIT_CHOICES], required=False
    )
    coa = forms.FileField(label=_("Certificate of analysis"), required=False)
    notes = forms.CharField(
        label=_("Notes"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    service_fields = {"coa": "coa"}

    def __init__(self, *args, materials=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["material"].choices = [(str(m.pk), str(m)) for m in materials]


class LotSignForm(SignForm):
    statement = forms.CharField(
        label=_("Statement"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    field_order = ["statement", "password"]


class RecallForm(SignForm):
    reason = forms.CharField(
        label=_("Reason for the recall"), widget=forms.Textarea(attrs={"rows": 2})
    )
    field_order = ["reason", "password"]


class ReasonForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=1000)


class CoaForm(forms.Form):
    coa = forms.FileField(label=_("Certificate of analysis"))


class EquipmentForm(forms.Form):
    code = forms.CharField(label=_("Asset tag"), max_length=64)
    name = forms.CharField(label=_("Name"), max_length=200)
    kind = forms.ChoiceField(label=_("Kind"), choices=EquipmentKind.choices)
    make = forms.CharField(label=_("Make"), max_length=100, required=False)
    model = forms.CharField(label=_("Model"), max_length=100, required=False)
    serial = forms.CharField(label=_("Serial number"), max_length=100, required=False)
    location = forms.CharField(label=_("Location"), max_length=200, required=False)
    calibration_interval_days = forms.IntegerField(
        label=_("Calibration interval (days)"),
        min_value=1,
        max_value=3650,
        required=False,
        help_text=_("Empty: it needs no calibration. Set: out of calibration until the first."),
    )
    maintenance_interval_days = forms.IntegerField(
        label=_("Maintenance interval (days)"), min_value=1, max_value=3650, required=False
    )
    reminder_lead_days = forms.IntegerField(
        label=_("Remind this many days ahead"), min_value=1, max_value=365, initial=14
    )


class InstrumentForm(forms.Form):
    name = forms.CharField(
        label=_("Name"),
        max_length=100,
        help_text=_("Also its asset tag and what its token is issued for."),
    )
    kind = forms.ChoiceField(label=_("Kind"), choices=InstrumentKind.choices)
    make = forms.CharField(label=_("Make"), max_length=100, required=False)
    model = forms.CharField(label=_("Model"), max_length=100, required=False)
    serial = forms.CharField(label=_("Serial number"), max_length=100, required=False)
    allowed_assays = forms.MultipleChoiceField(
        label=_("Assays it may post"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("The assays of this lab's published protocols that instruments record."),
    )
    calibration_interval_days = forms.IntegerField(
        label=_("Calibration interval (days)"), min_value=1, max_value=3650, required=False
    )

    def __init__(self, *args, assays=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["allowed_assays"].choices = [(a, a) for a in assays]


class AssaysForm(forms.Form):
    allowed_assays = forms.MultipleChoiceField(
        label=_("Assays it may post"), required=False, widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, *args, assays=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["allowed_assays"].choices = [(a, a) for a in assays]


class ServiceRecordForm(forms.Form):
    performed_at = forms.DateTimeField(
        label=_("Performed at"), widget=LocalDateTimeInput(), input_formats=DATETIME_FORMATS
    )
    performed_by = forms.CharField(
        label=_("Performed by"), max_length=200, help_text=_("The engineer or the service company.")
    )
    next_due = forms.DateField(
        label=_("Next due"),
        widget=DateInput(),
        required=False,
        help_text=_("Empty: the date plus the equipment's interval."),
    )
    certificate = forms.FileField(label=_("Certificate or report"), required=False)
    notes = forms.CharField(
        label=_("Notes"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )


class CalibrationForm(ServiceRecordForm):
    passed = forms.ChoiceField(
        label=_("Result"),
        widget=forms.RadioSelect,
        choices=[("yes", _("Passed")), ("no", _("Failed"))],
    )
    field_order = ["performed_at", "performed_by", "passed", "next_due", "certificate", "notes"]


class MaintenanceForm(ServiceRecordForm):
    kind = forms.ChoiceField(label=_("Kind"), choices=MaintenanceKind.choices)
    field_order = ["performed_at", "performed_by", "kind", "next_due", "certificate", "notes"]


class StatusForm(forms.Form):
    status = forms.ChoiceField(label=_("New status"), choices=EquipmentStatus.choices)
    reason = forms.CharField(label=_("Reason"), max_length=1000)


class TankForm(forms.Form):
    code = forms.CharField(label=_("Code"), max_length=32)
    name = forms.CharField(label=_("Name"), max_length=200)
    kind = forms.ChoiceField(label=_("Kind"), choices=StorageKind.choices)
    location = forms.CharField(label=_("Location"), max_length=200, required=False)


class RackForm(forms.Form):
    code = forms.CharField(label=_("Rack code"), max_length=32)


class BoxForm(forms.Form):
    rack = forms.ChoiceField(label=_("Rack"))
    code = forms.CharField(label=_("Box code"), max_length=32)
    rows = forms.IntegerField(label=_("Rows"), min_value=1, max_value=MAX_BOX_SIDE, initial=9)
    columns = forms.IntegerField(label=_("Columns"), min_value=1, max_value=MAX_BOX_SIDE, initial=9)
    label = forms.CharField(label=_("Contents label"), max_length=200, required=False)

    def __init__(self, *args, racks=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["rack"].choices = [(str(r.pk), f"{r.tank.code}/{r.code}") for r in racks]


class FreezeForm(forms.Form):
    stage_run = forms.ChoiceField(label=_("Stage"))
    count = forms.IntegerField(label=_("Number of vials"), min_value=1, max_value=200, initial=10)
    cells_per_vial = forms.FloatField(label=_("Cells per vial"), min_value=0, initial=1e6)
    contents = forms.CharField(
        label=_("Contents"), max_length=200, help_text=_("e.g. iPSC clone 3, master bank.")
    )
    bank = forms.ChoiceField(label=_("Bank"), choices=BankTier.choices, initial=BankTier.MASTER)
    medium_scan = forms.CharField(
        label=_("Freeze medium lot (scan its label)"), required=False, widget=ScanInput()
    )
    medium_lot = forms.ChoiceField(label=_("…or pick the lot"), required=False)
    medium_quantity = forms.CharField(label=_("Freeze medium used"), max_length=40)
    medium_unit = forms.ChoiceField(label=_("Unit"), choices=UNIT_CHOICES, initial="mL")
    box = forms.ChoiceField(label=_("Box (its first free positions are filled)"))
    freezer = forms.ChoiceField(label=_("Controlled-rate freezer"), required=False)
    profile = forms.FileField(label=_("Freezing profile file"), required=False)
    note = forms.CharField(
        label=_("Note"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args, stage_runs=(), lots=(), boxes=(), freezers=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["stage_run"].choices = [(str(s.pk), s.stage.name) for s in stage_runs]
        self.fields["medium_lot"].choices = [("", "—")] + [
            (str(lot.pk), f"{lot.material.name} · {lot.lot_number} · {lot.expiry_date:%Y-%m-%d}")
            for lot in lots
        ]
        self.fields["box"].choices = [(str(b.pk), str(b)) for b in boxes]
        self.fields["freezer"].choices = [("", "—")] + [
            (str(e.pk), f"{e.name} ({e.code})") for e in freezers
        ]


class ThawForm(forms.Form):
    scanned_code = forms.CharField(
        label=_("Scan the vial's label"),
        max_length=200,
        widget=ScanInput(attrs={"autofocus": "autofocus"}),
    )
    run_code = forms.CharField(label=_("Run it seeds (run code)"), max_length=64)
    vessel_kind = forms.ChoiceField(label=_("Vessel"), choices=VesselKind.choices)
    cells_seeded = forms.FloatField(label=_("Cells seeded"), min_value=0, required=False)
    note = forms.CharField(label=_("Note"), required=False)


class CheckOutForm(forms.Form):
    scanned_code = forms.CharField(
        label=_("Scan the vial's label"), max_length=200, widget=ScanInput()
    )
    status = forms.ChoiceField(
        label=_("Check out as"),
        choices=[("withdrawn", _("Withdrawn")), ("discarded", _("Discarded"))],
    )
    reason = forms.CharField(label=_("Reason"), max_length=1000)


class TransferForm(forms.Form):
    scanned_code = forms.CharField(
        label=_("Scan the vial's label"), max_length=200, widget=ScanInput()
    )
    to_position = forms.CharField(
        label=_("To position (scan or type TANK/RACK/BOX/A1)"), max_length=200, widget=ScanInput()
    )
    reason = forms.CharField(label=_("Reason"), max_length=1000, required=False)


class SplitForm(forms.Form):
    ratio = forms.IntegerField(label=_("Split 1:k, k ="), min_value=2, max_value=50, initial=3)
    kind = forms.ChoiceField(label=_("Into"), choices=VesselKind.choices)
    cells_per_vessel = forms.FloatField(label=_("Cells per vessel"), min_value=0, required=False)


class ObserveForm(forms.Form):
    confluence_percent = forms.FloatField(
        label=_("Confluence (%)"), min_value=0, max_value=100, required=False
    )
    viable_cells = forms.FloatField(label=_("Viable cells"), min_value=0, required=False)
    viability_percent = forms.FloatField(
        label=_("Viability (%)"), min_value=0, max_value=100, required=False
    )
    note = forms.CharField(label=_("Note"), required=False)


class ImportForm(forms.Form):
    file = forms.FileField(label=_("Inventory CSV"))
