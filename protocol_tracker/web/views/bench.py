"""The bench board (technicians' landing page) and its one-tap actions."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from protocol_tracker.core.errors import DomainError, ValidationFailed
from protocol_tracker.qc import selectors as qc_selectors
from protocol_tracker.qc import services as qc_services
from protocol_tracker.runs import selectors as run_selectors
from protocol_tracker.runs import services as run_services
from protocol_tracker.web.access import domain_message, lab_view, or_404, require, use_lab
from protocol_tracker.web.views.usage import usage_page_for_stage, usage_page_for_task


def board_data(lab, *, user=None, mine: bool = False) -> dict:
    """The bench board of ``lab`` (see :func:`protocol_tracker.runs.selectors.bench_board`) with
    its columns titled for the page."""
    board = run_selectors.bench_board(lab=lab, user=user, mine=mine)
    titles = {"overdue": _("Overdue"), "today": _("Due today"), "next": _("Next 7 days")}
    columns = [
        {
            "key": column.key,
            "title": titles[column.key],
            "stages": column.stages,
            "tasks": column.tasks,
            "stage_count": column.stage_count,
            "task_count": column.task_count,
        }
        for column in board.columns
    ]
    return {"columns": columns, "now": board.now, "limit": board.limit}


@lab_view
def bench(request: HttpRequest) -> HttpResponse:
    lab = request.lab
    mine = request.GET.get("mine") == "1"
    # URL prefixes computed once: the board renders up to six lists of items.
    urls = {
        "run": reverse("web:runs"),
        "stage": reverse("web:stage_start", args=[0]).removesuffix("0/start/"),
        "task": reverse("web:task_done", args=[0]).removesuffix("0/done/"),
    }
    context = {
        "nav": "bench",
        "mine": mine,
        "urls": urls,
        "next": request.get_full_path(),
        "can_work": request.perms.can_work,
    }
    if lab is not None:
        context.update(board_data(lab, user=request.user, mine=mine))
        context["retests"] = qc_selectors.retests_due(lab=lab)
    return render(request, "web/bench.html", context)


def _back(request: HttpRequest, default: str) -> HttpResponse:
    target = request.POST.get("next") or default
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = default
    return redirect(target)


def _to_usage_page(request: HttpRequest, name: str, pk: int) -> HttpResponse:
    target = reverse(name, args=[pk])
    back = request.POST.get("next", "")
    if back and url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
        target += "?" + urlencode({"next": back})
    return redirect(target)


def _run_action(request: HttpRequest, call, success: str, default_next: str) -> HttpResponse:
    try:
        call()
    except DomainError as exc:
        messages.error(request, domain_message(exc))
    else:
        messages.success(request, success)
    return _back(request, default_next)


@require_POST
@lab_view
def stage_start(request: HttpRequest, pk: int) -> HttpResponse:
    stage_run = or_404(run_selectors.stage_run_for_user, stage_run_id=pk, user=request.user)
    use_lab(request, stage_run.run.lab)
    require(request.perms.can_work)
    return _run_action(
        request,
        lambda: run_services.stage_start(stage_run=stage_run, actor=request.user),
        _("Started %(stage)s on %(run)s.")
        % {"stage": stage_run.stage.name, "run": stage_run.run.code},
        "/",
    )


@require_POST
@lab_view
def stage_complete(request: HttpRequest, pk: int) -> HttpResponse:
    stage_run = or_404(run_selectors.stage_run_for_user, stage_run_id=pk, user=request.user)
    use_lab(request, stage_run.run.lab)
    require(request.perms.can_work)
    if usage_page_for_stage(stage_run):  # its bill asks for lots or equipment first
        return _to_usage_page(request, "web:stage_materials", pk)
    note = request.POST.get("note", "").strip()
    try:
        qc_services.stage_complete(stage_run=stage_run, actor=request.user, note=note)
    except ValidationFailed as exc:
        if exc.code == "completion_needs_reasons":  # open bench tasks, or outside the window
            return redirect("web:stage_complete_reasons", pk=stage_run.pk)
        messages.error(request, domain_message(exc))
    except DomainError as exc:
        messages.error(request, domain_message(exc))
    else:
        messages.success(
            request,
            _("Completed %(stage)s on %(run)s.")
            % {"stage": stage_run.stage.name, "run": stage_run.run.code},
        )
    return _back(request, "/")


@require_POST
@lab_view
def task_done(request: HttpRequest, pk: int) -> HttpResponse:
    occurrence = or_404(run_selectors.task_occurrence_for_user, occurrence_id=pk, user=request.user)
    use_lab(request, occurrence.stage_run.run.lab)
    require(request.perms.can_work)
    if usage_page_for_task(occurrence):  # its bill asks for the lots used
        return _to_usage_page(request, "web:task_record", pk)
    return _run_action(
        request,
        lambda: run_services.task_done(occurrence=occurrence, actor=request.user),
        _("Done: %(task)s on %(run)s.")
        % {"task": occurrence.task.name, "run": occurrence.stage_run.run.code},
        "/",
    )
