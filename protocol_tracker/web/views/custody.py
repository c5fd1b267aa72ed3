"""Identity checkpoints (scan to verify, immediate green or red), computed checkpoints, and a
run's labels (printing is recorded; the document comes back at once) and their reconciliation."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from labs.selectors import role_in_lab
from protocol_tracker.core.errors import DomainError
from protocol_tracker.custody import services as custody
from protocol_tracker.custody.models import ItemKind
from protocol_tracker.custody.services.common import CAN_HANDLE
from protocol_tracker.identity import selectors as identity_selectors
from protocol_tracker.identity import services as identity
from protocol_tracker.protocols.models import ValueType
from protocol_tracker.protocols.selectors import checkpoint_on_stage
from protocol_tracker.qc import selectors as qc_selectors
from protocol_tracker.runs import selectors as run_selectors
from protocol_tracker.web.access import (
    add_domain_error,
    domain_message,
    lab_view,
    or_404,
    require,
    use_lab,
)
from protocol_tracker.web.custody_forms import LabelPrintForm, ReconcileForm, ScanForm


def may_handle(request: HttpRequest) -> bool:
    return request.perms.role in CAN_HANDLE


def _stage_and_checkpoint(request: HttpRequest, stage_pk: int, checkpoint_pk: int):
    stage_run = or_404(run_selectors.stage_run_for_user, stage_run_id=stage_pk, user=request.user)
    checkpoint = checkpoint_on_stage(
        lab=stage_run.run.lab_id, stage_id=stage_run.stage_id, checkpoint_id=checkpoint_pk
    )
    if checkpoint is None:
        raise Http404("no such checkpoint on this stage")
    use_lab(request, stage_run.run.lab)
    return stage_run, checkpoint


@lab_view
def identity_scan(request: HttpRequest, stage_pk: int, checkpoint_pk: int) -> HttpResponse:
    """The scan page of an identity checkpoint: the field a USB scanner types into (then
    Enter), the camera, and the typed-by-hand fallback with a witness."""
    stage_run, checkpoint = _stage_and_checkpoint(request, stage_pk, checkpoint_pk)
    if checkpoint.value_type != ValueType.IDENTITY:
        raise Http404("not an identity checkpoint")
    require(may_handle(request))
    scan = None
    form = ScanForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            scan = custody.identity_scan_record(
                stage_run=stage_run,
                checkpoint=checkpoint,
                scanned=data["scanned"],
                actor=request.user,
                method=form.chosen_method,
                witness=data["witness"],
                witness_password=data["witness_password"],
                idempotency_key=data["idempotency_key"],
            )
        except DomainError as exc:
            add_domain_error(form, exc, default_field="scanned")
        else:
            form = ScanForm()  # ready for the next label, with a fresh key
    deviation = None
    if scan is not None and not scan.passed:
        deviation = qc_selectors.deviation_of_result(
            result=scan.qc_result, lab=stage_run.run.lab_id
        )
    context = {
        "nav": "runs",
        "form": form,
        "stage_run": stage_run,
        "checkpoint": checkpoint,
        "scan": scan,
        "deviation": deviation,
        "expected_coi": stage_run.run.donor.coi.value if stage_run.run.donor.coi_id else "",
        "item_kinds": [
            str(ItemKind(kind).label) if kind in ItemKind.values else kind
            for kind in (checkpoint.spec or {}).get("item_kinds") or []
        ],
        "witness_always": (checkpoint.spec or {}).get("witness") == "always",
    }
    if request.htmx:
        return render(request, "web/custody/scan_result.html", context)
    return render(request, "web/custody/scan.html", context)


@require_POST
@lab_view
def computed_record(request: HttpRequest, stage_pk: int, checkpoint_pk: int) -> HttpResponse:
    stage_run, checkpoint = _stage_and_checkpoint(request, stage_pk, checkpoint_pk)
    require(may_handle(request))
    try:
        result = custody.computed_result_record(
            stage_run=stage_run, checkpoint=checkpoint, actor=request.user
        )
    except DomainError as exc:
        messages.error(request, domain_message(exc))
    else:
        messages.success(
            request,
            _("Recorded %(checkpoint)s from the records: %(value)s.")
            % {"checkpoint": checkpoint.name, "value": result.display_value},
        )
    return redirect(reverse("web:run", args=[stage_run.run_id]) + f"#stage-{stage_run.pk}")


@require_POST
@lab_view
def run_labels_print(request: HttpRequest, pk: int) -> HttpResponse:
    """Print labels for new items of the run: the print is recorded and the PDF (or ZPL) is the
    answer."""
    run = or_404(run_selectors.run_for_user, run_id=pk, user=request.user)
    use_lab(request, run.lab)
    require(may_handle(request))
    form = LabelPrintForm(request.POST)
    if not form.is_valid():
        messages.error(
            request, _("Check the label form: %(errors)s") % {"errors": form.errors.as_text()}
        )
        return redirect(reverse("web:run", args=[run.pk]) + "#custody")
    data = form.cleaned_data
    output = "zpl" if data["output"] == "zpl" else "pdf"
    try:
        printed = custody.run_labels_print(
            run=run,
            template=data["template"],
            kind=data["kind"],
            count=data["count"],
            copies=data["copies"],
            output=output,
            sheet="a4" if data["output"] == "a4" else "roll",
            with_patient_identifiers=data["with_patient_identifiers"],
            actor=request.user,
        )
    except DomainError as exc:
        messages.error(request, domain_message(exc))
        return redirect(reverse("web:run", args=[run.pk]) + "#custody")
    response = HttpResponse(printed.document.content, content_type=printed.document.content_type)
    disposition = "inline" if output == "pdf" else "attachment"
    response["Content-Disposition"] = f'{disposition}; filename="{printed.filename}"'
    return response


@require_POST
@lab_view
def label_reconcile(request: HttpRequest, pk: int) -> HttpResponse:
    record = or_404(identity_selectors.label_print_for_user, label_print_id=pk, user=request.user)
    require(role_in_lab(request.user, record.lab_id) in identity.CAN_PRINT)
    form = ReconcileForm(request.POST)
    run_id = record.subject_id if record.subject_type == custody.RUN_SUBJECT else None
    target = reverse("web:run", args=[run_id]) + "#labels" if run_id else reverse("web:runs")
    if form.is_valid():
        try:
            identity.label_reconcile(
                label_print=record,
                used=form.cleaned_data["used"],
                destroyed=form.cleaned_data["destroyed"],
                reason=form.cleaned_data["reason"],
                actor=request.user,
            )
        except DomainError as exc:
            messages.error(request, domain_message(exc))
        else:
            messages.success(request, _("Labels of LP-%(pk)s accounted for.") % {"pk": record.pk})
    else:
        messages.error(request, form.errors.as_text())
    return redirect(target)
