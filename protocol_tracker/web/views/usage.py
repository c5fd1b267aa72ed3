"""Recording the lots and equipment a stage or a bench task used: each line of the bill asks for
its lot (scan its label or pick it), each kind of equipment for the piece used; a lot or a piece
that may not be used is refused with the rule's message, a lot near its expiry warns. The stage's
page also completes it; the bench board's one-tap buttons come here when the bill needs it."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _

from protocol_tracker.core.errors import DomainError
from protocol_tracker.equipment.models import Equipment
from protocol_tracker.equipment.selectors import equipment_by_scan
from protocol_tracker.materials.models import MaterialLot
from protocol_tracker.materials.selectors import lots_by_scan
from protocol_tracker.qc import services as qc_services
from protocol_tracker.runs import selectors as run_selectors
from protocol_tracker.specs.quantities import STOCK_UNITS
from protocol_tracker.usage import selectors as usage_selectors
from protocol_tracker.usage import services as usage_services
from protocol_tracker.usage.models import EquipmentUse, LotConsumption
from protocol_tracker.usage.services import LotUse
from protocol_tracker.web.access import domain_message, lab_view, or_404, require, use_lab


@dataclass
class Picked:
    uses: list[LotUse]
    line_of_use: list[int]  # index of the bill line each use fills
    equipment: list[Equipment]
    errors: dict[str, str]


def _pick(request: HttpRequest, lab, lines, kinds) -> Picked:
    """What the form names: per bill line a lot (a scan wins over the pick), its amount; per kind
    of equipment a piece (scan or pick). Lots and equipment of another lab are never found."""
    post = request.POST
    picked = Picked([], [], [], {})
    for i, line in enumerate(lines):
        scan = post.get(f"scan_{i}", "").strip()
        lot = None
        if scan:
            found = [
                lot
                for lot in lots_by_scan(lab=lab, code=scan)
                if lot.material.code == line.material
            ]
            if len(found) != 1:
                picked.errors[f"line_{i}"] = _("No lot of %(material)s reads %(code)s.") % {
                    "material": line.name,
                    "code": scan[:80],
                }
                continue
            lot = found[0]
        elif post.get(f"lot_{i}", "").isdigit():
            lot = (
                MaterialLot.objects.for_lab(lab)
                .select_related("material", "lab")
                .filter(pk=int(post[f"lot_{i}"]), material__code=line.material)
                .first()
            )
        if lot is None:
            continue
        picked.uses.append(
            LotUse(
                lot,
                post.get(f"qty_{i}", "").strip() or None,
                post.get(f"unit_{i}", ""),
                line.material,
            )
        )
        picked.line_of_use.append(i)
    for j, kind in enumerate(kinds):
        scan = post.get(f"escan_{j}", "").strip()
        piece = None
        if scan:
            piece = equipment_by_scan(lab=lab, code=scan)
            if piece is None or piece.kind != kind.kind:
                picked.errors[f"kind_{j}"] = _("No %(kind)s reads %(code)s.") % {
                    "kind": kind.label,
                    "code": scan[:80],
                }
                continue
        elif post.get(f"equip_{j}", "").isdigit():
            piece = (
                Equipment.objects.for_lab(lab)
                .select_related("lab")
                .filter(pk=int(post[f"equip_{j}"]), kind=kind.kind)
                .first()
            )
        if piece is not None:
            picked.equipment.append(piece)
    return picked


def _place_error(picked: Picked, exc: DomainError) -> dict[str, str]:
    """The service's field errors (``lots[2]``, ``equipment[0]``) on the lines they are about."""
    placed: dict[str, str] = {}
    for name, texts in (exc.fields or {}).items():
        text = "; ".join(str(t) for t in texts) if isinstance(texts, list) else str(texts)
        if name.startswith("lots[") and "]" in name:
            index = int(name[5 : name.index("]")])
            if index < len(picked.line_of_use):
                placed[f"line_{picked.line_of_use[index]}"] = text
    return placed


def _back(request: HttpRequest, default: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or default
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = default
    return target


@lab_view
def stage_materials(request: HttpRequest, pk: int) -> HttpResponse:
    stage_run = or_404(run_selectors.stage_run_for_user, stage_run_id=pk, user=request.user)
    lab = stage_run.run.lab
    use_lab(request, lab)
    require(request.perms.can_work)
    run_page = reverse("web:run", args=[stage_run.run_id]) + f"#stage-{stage_run.pk}"
    recorded = list(
        LotConsumption.objects.for_lab(lab)
        .filter(stage_run=stage_run, task_occurrence__isnull=True)
        .select_related("lot__material")
    )
    used = list(
        EquipmentUse.objects.for_lab(lab).filter(stage_run=stage_run).select_related("equipment")
    )
    lines = usage_selectors.bill_lines(
        lab=lab, bill=stage_run.stage.materials or [], recorded=recorded
    )
    kinds = usage_selectors.kind_lines(
        lab=lab, kinds=stage_run.stage.equipment or [], now=timezone.now(), recorded=used
    )
    errors: dict[str, str] = {}
    error = ""
    status = 200
    if request.method == "POST":
        picked = _pick(request, lab, lines, kinds)
        errors = picked.errors
        complete = request.POST.get("action") == "complete"
        if not errors:
            try:
                if complete:
                    qc_services.stage_complete(
                        stage_run=stage_run,
                        actor=request.user,
                        note=request.POST.get("note", ""),
                        lots=picked.uses,
                        equipment=picked.equipment,
                    )
                else:
                    recorded_now = usage_services.stage_usage_record(
                        stage_run=stage_run,
                        actor=request.user,
                        lots=picked.uses,
                        equipment=picked.equipment,
                    )
                    for warning in recorded_now.warnings:
                        messages.warning(request, warning)
            except DomainError as exc:
                error = domain_message(exc)
                errors = _place_error(picked, exc)
            else:
                if complete:
                    messages.success(
                        request,
                        _("Completed %(stage)s on %(run)s.")
                        % {"stage": stage_run.stage.name, "run": stage_run.run.code},
                    )
                    return redirect(_back(request, run_page))
                messages.success(request, _("Materials and equipment recorded."))
                return redirect(request.get_full_path())
        status = 422
    _attach_errors(lines, kinds, errors)
    return render(
        request,
        "web/stock/stage_materials.html",
        {
            "units": list(STOCK_UNITS),
            "nav": "runs",
            "stage_run": stage_run,
            "lines": lines,
            "kinds": kinds,
            "errors": errors,
            "error": error,
            "gaps": usage_selectors.stage_usage_gaps(stage_run, lab_id=lab.pk),
            "next": _back(request, run_page),
        },
        status=status,
    )


@lab_view
def task_record(request: HttpRequest, pk: int) -> HttpResponse:
    occurrence = or_404(run_selectors.task_occurrence_for_user, occurrence_id=pk, user=request.user)
    lab = occurrence.stage_run.run.lab
    use_lab(request, lab)
    require(request.perms.can_work)
    lines = usage_selectors.bill_lines(lab=lab, bill=occurrence.task.materials or [])
    errors: dict[str, str] = {}
    error = ""
    status = 200
    if request.method == "POST":
        picked = _pick(request, lab, lines, [])
        errors = picked.errors
        if not errors:
            try:
                _done, recorded = usage_services.task_record(
                    occurrence=occurrence,
                    actor=request.user,
                    lots=picked.uses,
                    note=request.POST.get("note", ""),
                )
            except DomainError as exc:
                error = domain_message(exc)
                errors = _place_error(picked, exc)
            else:
                for warning in recorded.warnings:
                    messages.warning(request, warning)
                messages.success(
                    request,
                    _("Done: %(task)s on %(run)s.")
                    % {"task": occurrence.task.name, "run": occurrence.stage_run.run.code},
                )
                return redirect(_back(request, "/"))
        status = 422
    _attach_errors(lines, [], errors)
    return render(
        request,
        "web/stock/task_record.html",
        {
            "nav": "bench",
            "occurrence": occurrence,
            "lines": lines,
            "units": list(STOCK_UNITS),
            "error": error,
            "next": _back(request, "/"),
        },
        status=status,
    )


def _attach_errors(lines, kinds, errors: dict[str, str]) -> None:
    for i, line in enumerate(lines):
        line.error = errors.get(f"line_{i}", "")
    for j, kind in enumerate(kinds):
        kind.error = errors.get(f"kind_{j}", "")


def usage_page_for_stage(stage_run) -> bool:
    """Does completing ``stage_run`` need the materials page (a required line still unfilled)?"""
    return bool(usage_selectors.stage_usage_gaps(stage_run, lab_id=stage_run.run.lab_id))


def usage_page_for_task(occurrence) -> bool:
    """Does logging ``occurrence`` need its lots (a required line of a tracked material)?"""
    bill = [line for line in occurrence.task.materials or [] if line.get("required", True)]
    return bool(
        bill
        and usage_selectors.tracked_codes(
            lab_id=occurrence.stage_run.run.lab_id, codes=[line["material"] for line in bill]
        )
    )
