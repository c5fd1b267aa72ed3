"""Equipment: the list with due dates and whether each may be used now, a piece's page with its
calibration and maintenance records, new equipment, and instruments registered in one step
(the assays they may post picked from the lab's published protocols)."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from protocol_tracker.core.errors import DomainError
from protocol_tracker.equipment import selectors as equipment_selectors
from protocol_tracker.equipment import services as equipment_services
from protocol_tracker.equipment.selectors import equipment_state
from protocol_tracker.web.access import (
    add_domain_error,
    lab_view,
    or_404,
    require,
    require_lab,
    use_lab,
)
from protocol_tracker.web.stock_forms import (
    AssaysForm,
    CalibrationForm,
    EquipmentForm,
    InstrumentForm,
    MaintenanceForm,
    StatusForm,
)


@lab_view
def equipment_list(request: HttpRequest) -> HttpResponse:
    lab = require_lab(request)
    now = timezone.now()
    pieces = list(equipment_selectors.equipment_for_user(request.user).filter(lab=lab))
    rows = [(piece, equipment_state(piece, now=now)) for piece in pieces]
    return render(request, "web/stock/equipment.html", {"nav": "equipment", "rows": rows})


@lab_view
def equipment_new(request: HttpRequest) -> HttpResponse:
    lab = require_lab(request)
    require(request.perms.can_manage)
    form = EquipmentForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            piece = equipment_services.equipment_create(
                lab=lab, actor=request.user, **form.cleaned_data
            )
        except DomainError as exc:
            add_domain_error(form, exc, default_field="code")
        else:
            messages.success(request, _("%(name)s added to the register.") % {"name": piece})
            return redirect("web:equipment_detail", pk=piece.pk)
    return render(
        request,
        "web/stock/equipment_new.html",
        {"nav": "equipment", "form": form, "instrument": False},
        status=422 if form.errors else 200,
    )


@lab_view
def instrument_new(request: HttpRequest) -> HttpResponse:
    lab = require_lab(request)
    require(request.perms.can_manage)
    assays = equipment_selectors.instrument_assays_of_lab(lab=lab)
    form = InstrumentForm(request.POST or None, assays=assays)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            instrument = equipment_services.instrument_register(
                lab=lab,
                actor=request.user,
                name=data["name"],
                kind=data["kind"],
                make=data["make"],
                model=data["model"],
                serial=data["serial"],
                allowed_assays=list(data["allowed_assays"]),
                calibration_interval_days=data["calibration_interval_days"],
            )
        except DomainError as exc:
            add_domain_error(form, exc, default_field="name")
        else:
            messages.success(
                request,
                _(
                    "Instrument %(name)s registered. Issue its API token with: manage.py "
                    "create_instrument_token --lab %(lab)s --name %(name)s"
                )
                % {"name": instrument.name, "lab": lab.slug},
            )
            return redirect("web:equipment_detail", pk=instrument.equipment.pk)
    return render(
        request,
        "web/stock/equipment_new.html",
        {"nav": "equipment", "form": form, "instrument": True},
        status=422 if form.errors else 200,
    )


def _piece_for(request: HttpRequest, pk: int):
    piece = or_404(
        equipment_selectors.equipment_detail_for_user, equipment_id=pk, user=request.user
    )
    use_lab(request, piece.lab)
    return piece


def _page(request, piece, status: int = 200, **forms_) -> HttpResponse:
    assays = (
        equipment_selectors.instrument_assays_of_lab(lab=piece.lab) if piece.instrument_id else []
    )
    return render(
        request,
        "web/stock/equipment_detail.html",
        {
            "nav": "equipment",
            "piece": piece,
            "state": equipment_state(piece, now=timezone.now()),
            "calibration_form": forms_.get("calibration_form") or CalibrationForm(prefix="cal"),
            "maintenance_form": forms_.get("maintenance_form") or MaintenanceForm(prefix="mnt"),
            "status_form": forms_.get("status_form") or StatusForm(prefix="st"),
            "assays_form": forms_.get("assays_form")
            or AssaysForm(
                prefix="as",
                assays=assays,
                initial={
                    "allowed_assays": piece.instrument.allowed_assays if piece.instrument_id else []
                },
            ),
        },
        status=status,
    )


@lab_view
def equipment_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _page(request, _piece_for(request, pk))


@require_POST
@lab_view
def equipment_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    """calibrate / maintain / status (anyone who works; a return to service by a reviewer or
    lab admin, as the service decides) / assays (reviewer or lab admin)."""
    piece = _piece_for(request, pk)
    if action not in ("calibrate", "maintain", "status", "assays"):
        raise Http404("unknown action")
    require(request.perms.can_manage if action == "assays" else request.perms.can_work)
    forms_: dict = {}
    try:
        if action in ("calibrate", "maintain"):
            form_class, prefix, key = (
                (CalibrationForm, "cal", "calibration_form")
                if action == "calibrate"
                else (MaintenanceForm, "mnt", "maintenance_form")
            )
            form = forms_[key] = form_class(request.POST, request.FILES, prefix=prefix)
            if form.is_valid():
                data = form.cleaned_data
                certificate = data.get("certificate")
                common = {
                    "equipment": piece,
                    "performed_at": data["performed_at"],
                    "performed_by": data["performed_by"],
                    "next_due": data["next_due"],
                    "notes": data["notes"],
                    "actor": request.user,
                    "certificate": certificate.read() if certificate else None,
                    "certificate_filename": certificate.name if certificate else "",
                }
                if action == "calibrate":
                    equipment_services.calibration_record_add(
                        passed=data["passed"] == "yes", **common
                    )
                else:
                    equipment_services.maintenance_record_add(kind=data["kind"], **common)
                messages.success(request, _("Record saved."))
                return redirect("web:equipment_detail", pk=piece.pk)
        elif action == "status":
            form = forms_["status_form"] = StatusForm(request.POST, prefix="st")
            if form.is_valid():
                equipment_services.equipment_status_set(
                    equipment=piece, actor=request.user, **form.cleaned_data
                )
                messages.success(request, _("Status changed."))
                return redirect("web:equipment_detail", pk=piece.pk)
        else:
            if not piece.instrument_id:
                raise Http404("not an instrument")
            assays = equipment_selectors.instrument_assays_of_lab(lab=piece.lab)
            form = forms_["assays_form"] = AssaysForm(request.POST, prefix="as", assays=assays)
            if form.is_valid():
                equipment_services.instrument_assays_set(
                    instrument=piece.instrument,
                    actor=request.user,
                    allowed_assays=list(form.cleaned_data["allowed_assays"]),
                )
                messages.success(request, _("Assays saved."))
                return redirect("web:equipment_detail", pk=piece.pk)
    except DomainError as exc:
        add_domain_error(form, exc)
    return _page(request, _piece_for(request, pk), status=422, **forms_)
