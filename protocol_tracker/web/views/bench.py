"""The bench board (technicians' landing page) and its one-tap actions."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from django.contrib import messages
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from protocol_tracker.core.errors import DomainError
from protocol_tracker.runs.models import (
    OPEN_STAGE_STATUSES,
    RunStatus,
    StageRun,
    StageStatus,
    TaskOccurrence,
)
from protocol_tracker.web.access import domain_message, lab_view, require, scoped_or_404, use_lab

BOARD_LIMIT = 12  # per column and kind: a gloved hand scrolls a short list
# As the engine's stage_runs_due: a released run's open stages are its post-release ones
# (transplant, follow-up).
WORKING_RUNS = (RunStatus.ACTIVE, RunStatus.RELEASED)


def _day_bounds(lab) -> tuple[datetime, datetime, datetime]:
    now = timezone.now()
    local = timezone.localtime(now, lab.tz)
    end_today = datetime.combine(local.date() + timedelta(days=1), time.min, tzinfo=lab.tz)
    horizon = end_today + timedelta(days=7)
    return now, end_today, horizon


def board_data(lab, *, user=None, mine: bool = False) -> dict:
    """Open stage runs and bench tasks of ``lab``: overdue, due today, next 7 days.

    A fixed number of queries whatever the number of runs: each list is capped and counted
    in one aggregate.
    """
    now, end_today, horizon = _day_bounds(lab)
    stages = (
        StageRun.objects.for_lab(lab)
        .filter(status__in=OPEN_STAGE_STATUSES, run__status__in=WORKING_RUNS)
        .select_related("run", "stage", "assignee")
        .only(
            "pk",
            "status",
            "due_at",
            "run_id",
            "stage_id",
            "assignee_id",
            "run__code",
            "stage__name",
            "assignee__username",
        )
        .order_by("due_at", "pk")
    )
    tasks = (
        TaskOccurrence.objects.for_lab(lab)
        .filter(
            done_at__isnull=True,
            skipped=False,
            stage_run__status=StageStatus.IN_PROGRESS,
            stage_run__run__status__in=WORKING_RUNS,
        )
        .select_related("task", "stage_run", "stage_run__run", "stage_run__stage")
        .only(
            "pk",
            "due_at",
            "task__name",
            "stage_run__run_id",
            "stage_run__run__code",
            "stage_run__stage__name",
        )
        .order_by("due_at", "pk")
    )
    if mine and user is not None:
        stages = stages.filter(Q(assignee=user) | Q(assignee__isnull=True, run__assignee=user))
        tasks = tasks.filter(
            Q(stage_run__assignee=user)
            | Q(stage_run__assignee__isnull=True, stage_run__run__assignee=user)
        )
    windows = {
        "overdue": Q(due_at__lt=now),
        "today": Q(due_at__gte=now, due_at__lt=end_today),
        "next": Q(due_at__gte=end_today, due_at__lt=horizon),
    }
    stage_counts = stages.aggregate(**{k: Count("pk", filter=q) for k, q in windows.items()})
    task_counts = tasks.aggregate(**{k: Count("pk", filter=q) for k, q in windows.items()})
    columns = []
    for key, title in (
        ("overdue", _("Overdue")),
        ("today", _("Due today")),
        ("next", _("Next 7 days")),
    ):
        columns.append(
            {
                "key": key,
                "title": title,
                "stages": list(stages.filter(windows[key])[:BOARD_LIMIT]),
                "tasks": list(tasks.filter(windows[key])[:BOARD_LIMIT]),
                "stage_count": stage_counts[key],
                "task_count": task_counts[key],
            }
        )
    return {"columns": columns, "now": now, "limit": BOARD_LIMIT}


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
    return render(request, "web/bench.html", context)


def _back(request: HttpRequest, default: str) -> HttpResponse:
    target = request.POST.get("next") or default
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = default
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
    from protocol_tracker.runs import services

    stage_run = scoped_or_404(request, StageRun.objects.select_related("run__lab", "stage"), pk=pk)
    use_lab(request, stage_run.run.lab)
    require(request.perms.can_work)
    return _run_action(
        request,
        lambda: services.stage_start(stage_run=stage_run, actor=request.user),
        _("Started %(stage)s on %(run)s.")
        % {"stage": stage_run.stage.name, "run": stage_run.run.code},
        "/",
    )


@require_POST
@lab_view
def stage_complete(request: HttpRequest, pk: int) -> HttpResponse:
    from protocol_tracker.qc import services

    stage_run = scoped_or_404(request, StageRun.objects.select_related("run__lab", "stage"), pk=pk)
    use_lab(request, stage_run.run.lab)
    require(request.perms.can_work)
    note = request.POST.get("note", "").strip()
    return _run_action(
        request,
        lambda: services.stage_complete(stage_run=stage_run, actor=request.user, note=note),
        _("Completed %(stage)s on %(run)s.")
        % {"stage": stage_run.stage.name, "run": stage_run.run.code},
        "/",
    )


@require_POST
@lab_view
def task_done(request: HttpRequest, pk: int) -> HttpResponse:
    from protocol_tracker.runs import services

    occurrence = scoped_or_404(
        request, TaskOccurrence.objects.select_related("task", "stage_run__run__lab"), pk=pk
    )
    use_lab(request, occurrence.stage_run.run.lab)
    require(request.perms.can_work)
    return _run_action(
        request,
        lambda: services.task_done(occurrence=occurrence, actor=request.user),
        _("Done: %(task)s on %(run)s.")
        % {"task": occurrence.task.name, "run": occurrence.stage_run.run.code},
        "/",
    )
