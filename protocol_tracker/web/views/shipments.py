"""Shipments (with their temperature plot), custody hand-offs, and the patient identifiers of a
donor (clinicians: record them; reveal them, each reveal audited)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from labs.models import CAN_SEE_PATIENT
from protocol_tracker.core.errors import DomainError
from protocol_tracker.custody import selectors as custody_selectors
from protocol_tracker.custody import services as custody
from protocol_tracker.identity import selectors as identity_selectors
from protocol_tracker.identity import services as identity
from protocol_tracker.runs import selectors as run_selectors
from protocol_tracker.web.access import (
    add_domain_error,
    domain_message,
    lab_view,
    or_404,
    require,
    use_lab,
)
from protocol_tracker.web.custody_forms import (
    HandOffForm,
    HandOffReceiveForm,
    IdentifiersForm,
    LoggerForm,
    ReceiveShipmentForm,
    RevealForm,
    ShipmentForm,
)
from protocol_tracker.web.custody_page import temperature_plot
from protocol_tracker.web.views.custody import may_handle


def _run(request: HttpRequest, pk: int):
    run = or_404(run_selectors.run_for_user, run_id=pk, user=request.user)
    use_lab(request, run.lab)
    return run


def _to_run(run_id: int, anchor: str = "custody") -> str:
    return reverse("web:run", args=[run_id]) + f"#{anchor}"


@lab_view
def shipment_new(request: HttpRequest, pk: int) -> HttpResponse:
    run = _run(request, pk)
    require(may_handle(request))
    form = ShipmentForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            shipment = custody.shipment_create(run=run, actor=request.user, **data)
        except DomainError as exc:
            add_domain_error(form, exc, default_field="courier")
        else:
            messages.success(request, _("Shipment SH-%(pk)s recorded.") % {"pk": shipment.pk})
            return redirect("web:shipment", pk=shipment.pk)
    return render(
        request, "web/custody/shipment_new.html", {"nav": "runs", "run": run, "form": form}
    )


@lab_view
def shipment_detail(request: HttpRequest, pk: int) -> HttpResponse:
    shipment = or_404(custody_selectors.shipment_for_user, shipment_id=pk, user=request.user)
    use_lab(request, shipment.run.lab)
    return render(
        request,
        "web/custody/shipment.html",
        {
            "nav": "runs",
            "shipment": shipment,
            "run": shipment.run,
            "logger_files": list(shipment.logger_files.all()),
            "plot": temperature_plot(shipment, tz=shipment.run.lab.tz),
            "receive_form": ReceiveShipmentForm(),
            "logger_form": LoggerForm(),
            "can_handle": may_handle(request),
        },
    )


@require_POST
@lab_view
def shipment_receive(request: HttpRequest, pk: int) -> HttpResponse:
    shipment = or_404(custody_selectors.shipment_for_user, shipment_id=pk, user=request.user)
    use_lab(request, shipment.run.lab)
    require(may_handle(request))
    form = ReceiveShipmentForm(request.POST)
    if form.is_valid():
        try:
            custody.shipment_receive(
                shipment=shipment, received_at=form.cleaned_data["received_at"], actor=request.user
            )
        except DomainError as exc:
            messages.error(request, domain_message(exc))
        else:
            messages.success(request, _("Shipment SH-%(pk)s received.") % {"pk": shipment.pk})
    else:
        messages.error(request, form.errors.as_text())
    return redirect("web:shipment", pk=shipment.pk)


@require_POST
@lab_view
def shipment_logger(request: HttpRequest, pk: int) -> HttpResponse:
    shipment = or_404(custody_selectors.shipment_for_user, shipment_id=pk, user=request.user)
    use_lab(request, shipment.run.lab)
    require(may_handle(request))
    form = LoggerForm(request.POST, request.FILES)
    if form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            if upload.size > custody.LOGGER_MAX_BYTES:
                raise DomainError(_("The logger file is too large."))
            logger = custody.shipment_logger_attach(
                shipment=shipment, data=upload.read(), filename=upload.name, actor=request.user
            )
        except DomainError as exc:
            messages.error(request, domain_message(exc))
        else:
            if logger.deviation_id:
                messages.warning(
                    request,
                    _("Temperature out of range: deviation DEV-%(pk)s was opened for review.")
                    % {"pk": logger.deviation_id},
                )
            else:
                messages.success(request, _("Logger file kept: every reading within range."))
    else:
        messages.error(request, form.errors.as_text())
    return redirect("web:shipment", pk=shipment.pk)


@lab_view
def handoff_new(request: HttpRequest, pk: int) -> HttpResponse:
    run = _run(request, pk)
    require(may_handle(request))
    items = list(custody_selectors.items_of_run(run=run))
    form = HandOffForm(request.POST or None, items=items)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        item = next(i for i in items if i.item_id == data.pop("item"))
        try:
            custody.handoff_send(item=item, actor=request.user, **data)
        except DomainError as exc:
            add_domain_error(form, exc, default_field="scanned")
        else:
            messages.success(request, _("Hand-off of %(item)s recorded.") % {"item": item.item_id})
            return redirect(_to_run(run.pk))
    return render(
        request, "web/custody/handoff_new.html", {"nav": "runs", "run": run, "form": form}
    )


@lab_view
def handoff_receive(request: HttpRequest, pk: int) -> HttpResponse:
    handoff = or_404(custody_selectors.handoff_for_user, handoff_id=pk, user=request.user)
    use_lab(request, handoff.run.lab)
    require(may_handle(request))
    form = HandOffReceiveForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            custody.handoff_receive(handoff=handoff, actor=request.user, **form.cleaned_data)
        except DomainError as exc:
            add_domain_error(form, exc, default_field="scanned")
        else:
            messages.success(request, _("%(item)s received.") % {"item": handoff.item.item_id})
            return redirect(_to_run(handoff.run_id))
    return render(
        request,
        "web/custody/handoff_receive.html",
        {"nav": "runs", "handoff": handoff, "form": form},
    )


@lab_view
def donor_identifiers(request: HttpRequest, pk: int) -> HttpResponse:
    """A donor's patient identifiers: which are on record for everyone who may see the donor;
    recording and revealing them for the roles that may see the patient."""
    donor = or_404(run_selectors.donor_for_user, donor_id=pk, user=request.user)
    use_lab(request, donor.lab)
    may_see = request.perms.role in CAN_SEE_PATIENT
    form = IdentifiersForm(request.POST or None) if may_see else None
    revealed = None
    reveal_form = (
        RevealForm(request.POST if request.POST.get("purpose") else None) if may_see else None
    )
    if request.method == "POST":
        require(may_see)
        if donor.coi is None:
            messages.error(request, _("This donor has no COI."))
        elif "purpose" in request.POST:
            if reveal_form.is_valid():
                try:
                    revealed = identity.patient_identifiers_read(
                        coi=donor.coi,
                        actor=request.user,
                        purpose=reveal_form.cleaned_data["purpose"],
                    )
                except DomainError as exc:
                    add_domain_error(reveal_form, exc, default_field="purpose")
        elif form.is_valid():
            try:
                identity.patient_identifiers_record(
                    coi=donor.coi,
                    values=form.values(),
                    reason=form.cleaned_data["reason"],
                    actor=request.user,
                )
            except DomainError as exc:
                add_domain_error(form, exc, default_field="hospital_record")
            else:
                messages.success(request, _("Patient identifiers recorded."))
                return redirect("web:donor_identifiers", pk=donor.pk)
    kinds = identity_selectors.patient_identifier_kinds(coi=donor.coi) if donor.coi else []
    return render(
        request,
        "web/custody/identifiers.html",
        {
            "nav": "runs",
            "donor": donor,
            "kinds": kinds,
            "may_see": may_see,
            "form": form,
            "reveal_form": reveal_form,
            "revealed": revealed,
        },
    )
