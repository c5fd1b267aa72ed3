"""QC exports: the results of a run, a protocol version or a date range as CSV or Excel."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from django import forms
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from protocol_tracker.outcomes import selectors as outcome_selectors
from protocol_tracker.outcomes.exports import csv_lines, export_rows, xlsx_bytes
from protocol_tracker.protocols import selectors as protocol_selectors
from protocol_tracker.runs import selectors as run_selectors
from protocol_tracker.web.access import lab_view, require_lab

FIRST_DAY, LAST_DAY = date(1970, 1, 1), date(9998, 12, 31)


class ExportForm(forms.Form):
    run = forms.CharField(label=gettext_lazy("Run code"), required=False, max_length=64)
    protocol = forms.ChoiceField(label=gettext_lazy("Protocol version"), required=False)
    measured_from = forms.DateField(
        label=gettext_lazy("Measured from"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    measured_to = forms.DateField(
        label=gettext_lazy("Measured to (inclusive)"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    format = forms.ChoiceField(
        label=gettext_lazy("Format"),
        choices=[("csv", "CSV"), ("xlsx", "Excel (.xlsx)")],
        widget=forms.RadioSelect,
        initial="csv",
    )

    def __init__(self, *args, protocols=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["protocol"].choices = [("", "—")] + [(str(p.pk), str(p)) for p in protocols]

    def clean(self):
        data = super().clean()
        if not any(data.get(k) for k in ("run", "protocol", "measured_from", "measured_to")):
            raise forms.ValidationError(_("Give a run, a protocol or a date range."))
        start, end = data.get("measured_from"), data.get("measured_to")
        for name in ("measured_from", "measured_to"):
            day = data.get(name)
            if day is not None and not FIRST_DAY <= day <= LAST_DAY:
                self.add_error(name, _("Out of range."))
        if start and end and start > end:
            self.add_error("measured_to", _("Must not be before the start."))
        return data


@lab_view
def qc_export(request: HttpRequest) -> HttpResponse:
    """QC results of a run, a protocol version or a date range, as CSV or Excel."""
    lab = require_lab(request)
    protocols = list(protocol_selectors.protocols_for_user(request.user, lab=lab))
    form = ExportForm(request.GET or None, protocols=protocols)
    if request.GET and form.is_valid():
        data = form.cleaned_data
        run_id = None
        if data["run"]:
            run = run_selectors.run_by_code(lab=lab, code=data["run"].strip())
            if run is None:
                form.add_error("run", _("No run with this code in this lab."))
            else:
                run_id = run.pk
        if not form.errors:
            start = (
                datetime.combine(data["measured_from"], time.min, lab.tz)
                if data["measured_from"]
                else None
            )
            end = (
                datetime.combine(data["measured_to"] + timedelta(days=1), time.min, lab.tz)
                if data["measured_to"]
                else None
            )
            rows = export_rows(
                outcome_selectors.qc_results_for_export(
                    user=request.user,
                    lab_id=lab.pk,
                    run_id=run_id,
                    protocol_id=int(data["protocol"]) if data["protocol"] else None,
                    measured_from=start,
                    measured_to=end,
                ),
                tz=lab.tz,
            )
            name = f"qc-results-{lab.slug}-{timezone.localdate():%Y%m%d}"
            if data["format"] == "xlsx":
                response = HttpResponse(
                    xlsx_bytes(rows),
                    content_type=(
                        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
                    ),
                )
                response["Content-Disposition"] = f'attachment; filename="{name}.xlsx"'
                return response
            streaming = StreamingHttpResponse(
                csv_lines(rows), content_type="text/csv; charset=utf-8"
            )
            streaming["Content-Disposition"] = f'attachment; filename="{name}.csv"'
            return streaming
    return render(request, "web/release/export.html", {"nav": "exports", "form": form})
