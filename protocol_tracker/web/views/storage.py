"""Cell-bank storage: tanks and boxes, the box map, a vial (thaw with a scan, check out,
transfer), a vessel (split, observe), a run's freeze, the scan lookup, and the inventory's
import and export."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from protocol_tracker.cellbank import selectors as bank_selectors
from protocol_tracker.cellbank import services as bank_services
from protocol_tracker.cellbank.exports import export_csv, export_xlsx
from protocol_tracker.cellbank.labels import vessel_label, vial_label
from protocol_tracker.core.errors import DomainError, RowErrors
from protocol_tracker.equipment.models import Equipment
from protocol_tracker.inventory import selectors as storage_selectors
from protocol_tracker.inventory import services as storage_services
from protocol_tracker.inventory.labels import position_label
from protocol_tracker.inventory.models import Rack
from protocol_tracker.materials.models import LotStatus, MaterialLot
from protocol_tracker.materials.selectors import lots_by_scan
from protocol_tracker.runs import selectors as run_selectors
from protocol_tracker.runs.models import StageRun
from protocol_tracker.runs.services import WORKING_STAGE_STATUSES
from protocol_tracker.usage.services import LotUse
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
    BoxForm,
    CheckOutForm,
    FreezeForm,
    ImportForm,
    ObserveForm,
    RackForm,
    SplitForm,
    TankForm,
    ThawForm,
    TransferForm,
)


@lab_view
def storage_index(request: HttpRequest) -> HttpResponse:
    lab = require_lab(request)
    tanks = list(storage_selectors.tanks_for_user(request.user).filter(lab=lab))
    racks = list(Rack.objects.for_lab(lab).select_related("tank").order_by("tank__code", "code"))
    return render(
        request,
        "web/stock/storage.html",
        {
            "nav": "storage",
            "tanks": tanks,
            "banks": bank_selectors.bank_counts(lab=lab),
            "tank_form": TankForm(prefix="tank"),
            "rack_form": RackForm(prefix="rack"),
            "box_form": BoxForm(prefix="box", racks=racks),
        },
    )


@require_POST
@lab_view
def storage_create(request: HttpRequest, what: str) -> HttpResponse:
    """A tank, a rack (of a tank) or a box (reviewers and lab admins)."""
    lab = require_lab(request)
    require(request.perms.can_manage)
    try:
        if what == "tank":
            form = TankForm(request.POST, prefix="tank")
            if form.is_valid():
                storage_services.tank_create(lab=lab, actor=request.user, **form.cleaned_data)
        elif what == "rack":
            form = RackForm(request.POST, prefix="rack")
            tank_id = request.POST.get("tank", "")
            tank = (
                storage_selectors.tanks_for_user(request.user)
                .filter(lab=lab, pk=int(tank_id))
                .first()
                if tank_id.isdigit()
                else None
            )
            if tank is None:
                raise Http404("no tank")
            if form.is_valid():
                storage_services.rack_create(tank=tank, actor=request.user, **form.cleaned_data)
        elif what == "box":
            racks = list(Rack.objects.for_lab(lab).select_related("tank"))
            form = BoxForm(request.POST, prefix="box", racks=racks)
            if form.is_valid():
                data = form.cleaned_data
                rack = next(r for r in racks if str(r.pk) == data.pop("rack"))
                storage_services.box_create(rack=rack, actor=request.user, **data)
        else:
            raise Http404("unknown")
    except DomainError as exc:
        messages.error(request, domain_message(exc))
        return redirect("web:storage")
    if form.errors:
        messages.error(request, "; ".join(f"{k}: {' '.join(v)}" for k, v in form.errors.items()))
    else:
        messages.success(request, _("Saved."))
    return redirect("web:storage")


@lab_view
def box_map(request: HttpRequest, pk: int) -> HttpResponse:
    box = or_404(storage_selectors.box_for_user, box_id=pk, user=request.user)
    use_lab(request, box.lab)
    grid = bank_selectors.box_map(box=box)
    return render(request, "web/stock/box_map.html", {"nav": "storage", "grid": grid, "box": box})


def _vial_for(request, pk):
    vial = or_404(bank_selectors.vial_for_user, vial_id=pk, user=request.user)
    use_lab(request, vial.lab)
    return vial


def _vial_page(request, vial, status: int = 200, **forms_) -> HttpResponse:
    return render(
        request,
        "web/stock/vial_detail.html",
        {
            "nav": "storage",
            "vial": vial,
            "label": vial_label(vial),
            "position_label": position_label(vial.position),
            "thaw_form": forms_.get("thaw_form")
            or ThawForm(prefix="thaw", initial={"run_code": vial.run.code if vial.run_id else ""}),
            "checkout_form": forms_.get("checkout_form") or CheckOutForm(prefix="out"),
            "transfer_form": forms_.get("transfer_form") or TransferForm(prefix="move"),
            "error": forms_.get("error", ""),
        },
        status=status,
    )


@lab_view
def vial_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _vial_page(request, _vial_for(request, pk))


@require_POST
@lab_view
def vial_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    """thaw (a scan of its label, into a vessel of a run of the same donor) / checkout /
    transfer."""
    vial = _vial_for(request, pk)
    require(request.perms.can_work)
    forms_: dict = {}
    try:
        if action == "thaw":
            form = forms_["thaw_form"] = ThawForm(request.POST, prefix="thaw")
            if form.is_valid():
                data = form.cleaned_data
                run = run_selectors.run_by_code(lab=vial.lab, code=data["run_code"].strip())
                if run is None:
                    form.add_error("run_code", _("No run with this code in this lab."))
                else:
                    vessel = bank_services.vial_thaw(
                        vial=vial,
                        scanned_code=data["scanned_code"],
                        run=run,
                        actor=request.user,
                        vessel_kind=data["vessel_kind"],
                        cells_seeded=data["cells_seeded"],
                        note=data["note"],
                    )
                    messages.success(
                        request,
                        _("Vial %(vial)s thawed into %(vessel)s.")
                        % {"vial": vial.code, "vessel": vessel.code},
                    )
                    return redirect("web:vessel", pk=vessel.pk)
        elif action == "checkout":
            form = forms_["checkout_form"] = CheckOutForm(request.POST, prefix="out")
            if form.is_valid():
                bank_services.vial_check_out(vial=vial, actor=request.user, **form.cleaned_data)
                messages.success(request, _("Vial checked out."))
                return redirect("web:vial", pk=vial.pk)
        elif action == "transfer":
            form = forms_["transfer_form"] = TransferForm(request.POST, prefix="move")
            if form.is_valid():
                data = form.cleaned_data
                target = storage_selectors.position_by_path(lab=vial.lab, path=data["to_position"])
                if target is None:
                    form.add_error("to_position", _("No such position in this lab."))
                else:
                    bank_services.vial_transfer(
                        vial=vial,
                        scanned_code=data["scanned_code"],
                        to_position=target,
                        actor=request.user,
                        reason=data["reason"],
                    )
                    messages.success(request, _("Vial moved."))
                    return redirect("web:vial", pk=vial.pk)
        else:
            raise Http404("unknown action")
    except DomainError as exc:
        add_domain_error(form, exc, default_field="scanned_code")
    return _vial_page(request, _vial_for(request, pk), status=422, **forms_)


def _vessel_for(request, pk):
    vessel = or_404(bank_selectors.vessel_for_user, vessel_id=pk, user=request.user)
    use_lab(request, vessel.run.lab)
    return vessel


@lab_view
def vessel_detail(request: HttpRequest, pk: int) -> HttpResponse:
    vessel = _vessel_for(request, pk)
    split_form = SplitForm(
        request.POST if request.POST.get("action") == "split" else None,
        prefix="split",
        initial={"kind": vessel.kind},
    )
    observe_form = ObserveForm(
        request.POST if request.POST.get("action") == "observe" else None, prefix="obs"
    )
    status = 200
    if request.method == "POST":
        require(request.perms.can_work)
        form = split_form if request.POST.get("action") == "split" else observe_form
        if form.is_valid():
            try:
                if form is split_form:
                    bank_services.vessel_split(
                        vessel=vessel, actor=request.user, **form.cleaned_data
                    )
                    messages.success(
                        request, _("Split into %(k)s vessels.") % {"k": form.cleaned_data["ratio"]}
                    )
                else:
                    bank_services.vessel_observe(
                        vessel=vessel, actor=request.user, **form.cleaned_data
                    )
                    messages.success(request, _("Observation recorded."))
                return redirect("web:vessel", pk=vessel.pk)
            except DomainError as exc:
                add_domain_error(form, exc)
        status = 422
    return render(
        request,
        "web/stock/vessel_detail.html",
        {
            "nav": "storage",
            "vessel": vessel,
            "label": vessel_label(vessel),
            "split_form": split_form,
            "observe_form": observe_form,
        },
        status=status,
    )


@lab_view
def run_freeze(request: HttpRequest, pk: int) -> HttpResponse:
    """Freeze vials of a run: a stage in progress, the freeze medium lot (scanned or picked),
    the box to fill, the controlled-rate freezer and its profile."""
    run = or_404(run_selectors.run_for_user, run_id=pk, user=request.user)
    lab = run.lab
    use_lab(request, lab)
    require(request.perms.can_work)
    stage_runs = list(
        StageRun.objects.for_lab(lab)
        .filter(run=run, status__in=WORKING_STAGE_STATUSES)
        .select_related("stage")
        .order_by("order")
    )
    lots = list(
        MaterialLot.objects.for_lab(lab)
        .filter(status=LotStatus.RELEASED, material__kind="medium")
        .select_related("material")
        .order_by("expiry_date")
    )
    boxes = list(storage_selectors.boxes_of_lab(lab=lab))
    freezers = list(
        Equipment.objects.for_lab(lab).filter(kind="controlled_rate_freezer").order_by("code")
    )
    form = FreezeForm(
        request.POST or None,
        request.FILES or None,
        stage_runs=stage_runs,
        lots=lots,
        boxes=boxes,
        freezers=freezers,
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        lot = None
        if data["medium_scan"]:
            found = lots_by_scan(lab=lab, code=data["medium_scan"])
            lot = found[0] if len(found) == 1 else None
            if lot is None:
                form.add_error("medium_scan", _("No lot reads this code."))
        elif data["medium_lot"]:
            lot = next((m for m in lots if str(m.pk) == data["medium_lot"]), None)
        else:
            form.add_error("medium_lot", _("Scan or pick the freeze medium lot."))
        if lot is not None and not form.errors:
            profile = data.get("profile")
            try:
                freeze = bank_services.vials_freeze(
                    stage_run=next(s for s in stage_runs if str(s.pk) == data["stage_run"]),
                    actor=request.user,
                    count=data["count"],
                    cells_per_vial=data["cells_per_vial"],
                    contents=data["contents"],
                    bank=data["bank"],
                    medium=LotUse(lot, data["medium_quantity"], data["medium_unit"]),
                    box=next(b for b in boxes if str(b.pk) == data["box"]),
                    freezer=next((e for e in freezers if str(e.pk) == data["freezer"]), None),
                    profile=profile.read() if profile else None,
                    profile_filename=profile.name if profile else "",
                    note=data["note"],
                )
            except DomainError as exc:
                add_domain_error(form, exc, default_field="box")
            else:
                messages.success(request, _("%(n)s vials frozen.") % {"n": freeze.vial_count})
                return redirect("web:box", pk=freeze.vials.first().position.box_id)
    return render(
        request,
        "web/stock/freeze.html",
        {"nav": "runs", "run": run, "form": form},
        status=422 if form.errors else 200,
    )


@lab_view
def scan_lookup(request: HttpRequest) -> HttpResponse:
    """Look up what a scanned label names in the current lab: a vial, a lot, a position, a
    vessel, a piece of equipment."""
    lab = require_lab(request)
    code = request.GET.get("code", "").strip()[:200]
    if code:
        vial = bank_selectors.vial_by_scan(lab=lab, code=code)
        if vial is not None:
            return redirect("web:vial", pk=vial.pk)
        lots = lots_by_scan(lab=lab, code=code)
        if len(lots) == 1:
            return redirect("web:lot", pk=lots[0].pk)
        position = storage_selectors.position_by_path(lab=lab, path=code)
        if position is not None:
            return redirect(reverse("web:box", args=[position.box_id]) + f"#pos-{position.pk}")
        vessel = bank_selectors.vessel_by_scan(lab=lab, code=code)
        if vessel is not None:
            return redirect("web:vessel", pk=vessel.pk)
        messages.error(request, _("Nothing in this lab reads %(code)s.") % {"code": code})
    back = request.GET.get("back", "")
    if back.startswith("/") and not back.startswith("//"):
        return redirect(back)
    return redirect("web:storage")


@lab_view
def inventory_import(request: HttpRequest) -> HttpResponse:
    lab = require_lab(request)
    require(request.perms.can_manage)
    form = ImportForm(request.POST or None, request.FILES or None)
    rows: list = []
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            result = bank_services.inventory_import(
                lab=lab, data=form.cleaned_data["file"].read(), actor=request.user
            )
        except RowErrors as exc:
            rows = exc.rows
            form.add_error(None, exc.message)
        except DomainError as exc:
            add_domain_error(form, exc, default_field="file")
        else:
            messages.success(
                request,
                _(
                    "Imported %(materials)s materials, %(lots)s lots (in quarantine) and %(vials)s "
                    "vials."
                )
                % {"materials": result.materials, "lots": result.lots, "vials": result.vials},
            )
            return redirect("web:storage")
        status = 422
    return render(
        request,
        "web/stock/import.html",
        {"nav": "storage", "form": form, "rows": rows},
        status=status,
    )


@lab_view
def inventory_export(request: HttpRequest, kind: str) -> HttpResponse:
    lab = require_lab(request)
    rows = bank_selectors.inventory_export_rows(lab=lab)
    stamp = timezone.now().astimezone(lab.tz).strftime("%Y%m%d-%H%M")
    if kind == "xlsx":
        response = HttpResponse(
            export_xlsx(rows, bank_selectors.EXPORT_COLUMNS),
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
    elif kind == "csv":
        response = HttpResponse(
            export_csv(rows, bank_selectors.EXPORT_COLUMNS), content_type="text/csv; charset=utf-8"
        )
    else:
        raise Http404("unknown format")
    response["Content-Disposition"] = f'attachment; filename="inventory-{lab.slug}-{stamp}.{kind}"'
    return response
