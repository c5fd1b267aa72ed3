"""Materials and lots: the catalogue and stock list, a material's creation, a lot's receipt
(with its certificate), its page (label, where used) and its signed release and recall."""

from __future__ import annotations

from django.contrib import messages
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from protocol_tracker.core.errors import DomainError
from protocol_tracker.materials import selectors as material_selectors
from protocol_tracker.materials import services as material_services
from protocol_tracker.materials.labels import lot_label
from protocol_tracker.materials.models import LotStatus
from protocol_tracker.materials.services import lab_today
from protocol_tracker.recalls.services import lot_recall
from protocol_tracker.usage.selectors import lot_where_used
from protocol_tracker.web.access import (
    add_domain_error,
    domain_message,
    lab_view,
    or_404,
    require,
    require_lab,
    use_lab,
)
from protocol_tracker.web.stock_forms import (
    CoaForm,
    LotReceiveForm,
    LotSignForm,
    MaterialForm,
    ReasonForm,
    RecallForm,
)
from protocol_tracker.web.views.review import _meaning


@lab_view
def materials_list(request: HttpRequest) -> HttpResponse:
    lab = require_lab(request)
    status = request.GET.get("status", "")
    if status not in LotStatus.values:
        status = ""
    lots = list(
        material_selectors.lots_for_user(request.user, status=status or None).filter(lab=lab)[:500]
    )
    today = lab_today(lab, timezone.now())
    for lot in lots:
        lot.days_left = (lot.expiry_date - today).days
        lot.near = lot.status == LotStatus.RELEASED and lot.days_left <= lot.material.warning_days
    return render(
        request,
        "web/stock/materials.html",
        {
            "nav": "materials",
            "materials": material_selectors.materials_for_user(request.user).filter(lab=lab),
            "lots": lots,
            "status": status,
            "statuses": LotStatus.choices,
        },
    )


@lab_view
def material_new(request: HttpRequest) -> HttpResponse:
    lab = require_lab(request)
    require(request.perms.can_manage)
    form = MaterialForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            material = material_services.material_create(
                lab=lab, actor=request.user, **form.cleaned_data
            )
        except DomainError as exc:
            add_domain_error(form, exc, default_field="code")
        else:
            messages.success(request, _("%(name)s added to the catalogue.") % {"name": material})
            return redirect("web:materials")
    status = 422 if form.errors else 200
    return render(
        request, "web/stock/material_new.html", {"nav": "materials", "form": form}, status=status
    )


@lab_view
def lot_receive(request: HttpRequest) -> HttpResponse:
    lab = require_lab(request)
    require(request.perms.can_work)
    choices = list(material_selectors.materials_of_lab(lab=lab).filter(is_active=True))
    form = LotReceiveForm(request.POST or None, request.FILES or None, materials=choices)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        material = next(m for m in choices if str(m.pk) == data["material"])
        coa = data.get("coa")
        try:
            lot = material_services.lot_receive(
                material=material,
                lot_number=data["lot_number"],
                expiry_date=data["expiry_date"],
                quantity=data["quantity"],
                unit=data["unit"] or None,
                coa=coa.read() if coa else None,
                coa_filename=coa.name if coa else "",
                notes=data["notes"],
                actor=request.user,
            )
        except DomainError as exc:
            add_domain_error(form, exc, default_field="lot_number")
        else:
            messages.success(
                request, _("Lot %(lot)s received into quarantine.") % {"lot": lot.code}
            )
            return redirect("web:lot", pk=lot.pk)
    status = 422 if form.errors else 200
    return render(
        request, "web/stock/lot_receive.html", {"nav": "materials", "form": form}, status=status
    )


def _lot_for(request: HttpRequest, pk: int):
    lot = or_404(material_selectors.lot_for_user, lot_id=pk, user=request.user)
    use_lab(request, lot.lab)
    return lot


def _lot_page(request, lot, status: int = 200, **forms_) -> HttpResponse:
    uses = lot_where_used(lot=lot)
    return render(
        request,
        "web/stock/lot_detail.html",
        {
            "nav": "materials",
            "lot": lot,
            "label": lot_label(lot),
            "uses": uses,
            "run_count": len({u["run_id"] for u in uses}),
            "release_form": forms_.get("release_form") or LotSignForm(prefix="release"),
            "recall_form": forms_.get("recall_form") or RecallForm(prefix="recall"),
            "coa_form": forms_.get("coa_form") or CoaForm(prefix="coa"),
            "consumed_form": forms_.get("consumed_form") or ReasonForm(prefix="used"),
            "release_meaning": _meaning(request.user, _("I release this lot for use")),
            "recall_meaning": _meaning(request.user, _("I recall this lot")),
        },
        status=status,
    )


@lab_view
def lot_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _lot_page(request, _lot_for(request, pk))


@lab_view
def lot_coa_download(request: HttpRequest, pk: int) -> HttpResponse:
    lot = _lot_for(request, pk)
    if not lot.coa:
        raise Http404("no certificate")
    return FileResponse(lot.coa.open("rb"), as_attachment=True, filename=lot.coa_filename)


@require_POST
@lab_view
def lot_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    """release / recall (reviewers, signed), coa / consumed (anyone who works)."""
    lot = _lot_for(request, pk)
    if action not in ("release", "recall", "coa", "consumed"):
        raise Http404("unknown action")
    require(request.perms.can_review if action in ("release", "recall") else request.perms.can_work)
    forms_: dict = {}
    try:
        if action == "release":
            form = forms_["release_form"] = LotSignForm(request.POST, prefix="release")
            if form.is_valid():
                material_services.lot_release(
                    lot=lot,
                    actor=request.user,
                    password=form.cleaned_data["password"],
                    statement=form.cleaned_data["statement"],
                )
                messages.success(request, _("Lot released with your signature."))
                return redirect("web:lot", pk=lot.pk)
        elif action == "recall":
            form = forms_["recall_form"] = RecallForm(request.POST, prefix="recall")
            if form.is_valid():
                deviations = lot_recall(
                    lot=lot,
                    actor=request.user,
                    password=form.cleaned_data["password"],
                    reason=form.cleaned_data["reason"],
                )
                messages.warning(
                    request,
                    _(
                        "Lot recalled: %(n)s run(s) that used it are flagged, each with a "
                        "deviation; the reviewers are told."
                    )
                    % {"n": len(deviations)},
                )
                return redirect("web:lot", pk=lot.pk)
        elif action == "coa":
            form = forms_["coa_form"] = CoaForm(request.POST, request.FILES, prefix="coa")
            if form.is_valid():
                upload = form.cleaned_data["coa"]
                material_services.lot_coa_attach(
                    lot=lot, data=upload.read(), filename=upload.name, actor=request.user
                )
                messages.success(request, _("Certificate attached."))
                return redirect("web:lot", pk=lot.pk)
        else:
            form = forms_["consumed_form"] = ReasonForm(request.POST, prefix="used")
            if form.is_valid():
                material_services.lot_mark_consumed(
                    lot=lot, actor=request.user, reason=form.cleaned_data["reason"]
                )
                messages.success(request, _("Lot marked used up."))
                return redirect("web:lot", pk=lot.pk)
    except DomainError as exc:
        if "password" in exc.message.lower():
            form.add_error("password", domain_message(exc))
        elif set(exc.fields) <= set(form.fields):
            add_domain_error(form, exc)
        else:  # the rule is about the lot itself: say it whole
            form.add_error(None, domain_message(exc))
    lot = _lot_for(request, pk)
    return _lot_page(request, lot, status=422, **forms_)
