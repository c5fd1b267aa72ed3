"""Runs: the filtered list, the run page and the printable batch record."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as gettext_now
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from protocol_tracker.core.errors import DomainError
from protocol_tracker.protocols import selectors as protocol_selectors
from protocol_tracker.qc import selectors as qc_selectors
from protocol_tracker.runs import selectors as run_selectors
from protocol_tracker.runs import services as run_services
from protocol_tracker.runs.models import Run, RunStatus
from protocol_tracker.web.access import (
    add_domain_error,
    domain_message,
    lab_view,
    or_404,
    require,
    require_lab,
    use_lab,
)
from protocol_tracker.web.custody_page import custody_context, custody_record_context
from protocol_tracker.web.forms import DATETIME_FORMATS, LocalDateTimeInput, local_now_minute
from protocol_tracker.web.runpage import run_page_data
from protocol_tracker.web.stockpage import stock_run_context
from protocol_tracker.web.views.clinical import batch_followup
from protocol_tracker.web.views.release import review_context

PAGE_SIZE = 50


class RunFilterForm(forms.Form):
    q = forms.CharField(
        label=_("Run or donor code"),
        required=False,
        widget=forms.TextInput(attrs={"type": "search"}),
    )
    status = forms.ChoiceField(
        label=_("Status"), required=False, choices=[("", _("Any status")), *RunStatus.choices]
    )
    protocol = forms.ChoiceField(label=_("Protocol"), required=False)
    mine = forms.BooleanField(label=_("Assigned to me"), required=False)
    flagged = forms.BooleanField(label=_("With open deviations"), required=False)

    def __init__(self, *args, protocols=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["protocol"].choices = [("", _("Any protocol"))] + [
            (code, name) for code, name in protocols
        ]


@lab_view
def run_list(request: HttpRequest) -> HttpResponse:
    lab = request.lab
    protocols: list[tuple[str, str]] = []
    if lab is not None:
        protocols = protocol_selectors.protocol_choices_for_lab(lab=lab)
    form = RunFilterForm(request.GET or None, protocols=dict(protocols).items())
    runs = Run.objects.none()
    if lab is not None:
        data = form.cleaned_data if form.is_valid() else {}
        # Scoped, with progress and open-deviation counts.
        runs = qc_selectors.runs_with_deviation_counts(
            request.user,
            lab=lab,
            search=data.get("q", ""),
            status=data.get("status", ""),
            protocol_code=data.get("protocol", ""),
            assignee=request.user if data.get("mine") else None,
            flagged=bool(data.get("flagged")),
        )
    page = Paginator(runs, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "web/run_list.html",
        {
            "nav": "runs",
            "form": form,
            "page": page,
            "query": query.urlencode(),
        },
    )


def _run_for(request: HttpRequest, pk: int) -> Run:
    run = or_404(run_selectors.run_for_user, run_id=pk, user=request.user)
    use_lab(request, run.lab)
    return run


@lab_view
def run_detail(request: HttpRequest, pk: int) -> HttpResponse:
    run = _run_for(request, pk)
    context = run_page_data(run)
    context.update(custody_context(run))
    context.update(stock_run_context(run))
    context["nav"] = "runs"
    return render(request, "web/run_detail.html", context)


@lab_view
def batch_record(request: HttpRequest, pk: int) -> HttpResponse:
    run = _run_for(request, pk)
    context = run_page_data(run)
    context.update(custody_record_context(run))
    context.update(review_context(run))
    context.update(stock_run_context(run))
    context["nav"] = "runs"
    context.update(batch_followup(run))
    return render(request, "web/batch_record.html", context)


class RunCreateForm(forms.Form):
    service_fields = {"code": "donor_code", "planned_start": "planned_start"}

    protocol = forms.ChoiceField(label=_("Protocol (published version)"))
    donor_code = forms.CharField(
        label=_("Donor code"),
        max_length=32,
        help_text=_("A pseudonym such as DON-0042, never a name. A new code registers the donor."),
    )
    consent_given = forms.BooleanField(
        label=_("Consent recorded (needed for a new donor)"), required=False
    )
    parent_code = forms.CharField(label=_("Parent run code (lineage)"), required=False)
    planned_start = forms.DateTimeField(
        label=_("Planned start"),
        widget=LocalDateTimeInput(),
        input_formats=DATETIME_FORMATS,
        help_text=_("In the lab's time zone."),
    )

    def __init__(self, *args, protocols=(), **kwargs):
        kwargs.setdefault("initial", {}).setdefault("planned_start", local_now_minute())
        super().__init__(*args, **kwargs)
        self.fields["protocol"].choices = [(str(p.pk), str(p)) for p in protocols]


@lab_view
def run_new(request: HttpRequest) -> HttpResponse:
    """Register the donor if new, then create a planned run (one transaction)."""
    lab = require_lab(request)
    require(request.perms.can_work)
    protocols = list(protocol_selectors.protocols_startable(lab=lab))
    form = RunCreateForm(request.POST or None, protocols=protocols)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        protocol = next(p for p in protocols if str(p.pk) == data["protocol"])
        code = data["donor_code"].strip().upper()
        parent = None
        if data["parent_code"]:
            parent = run_selectors.run_by_code(lab=lab, code=data["parent_code"].strip())
            if parent is None:
                form.add_error("parent_code", gettext_now("No run with this code in this lab."))
        if not form.errors:
            try:
                with transaction.atomic():
                    donor = run_selectors.donor_by_code(lab=lab, code=code)
                    if donor is None:
                        donor = run_services.donor_create(
                            lab=lab,
                            code=code,
                            consent_given=data["consent_given"],
                            actor=request.user,
                        )
                    run = run_services.run_create(
                        lab=lab,
                        protocol=protocol,
                        donor=donor,
                        actor=request.user,
                        parent=parent,
                        planned_start=data["planned_start"],
                    )
            except DomainError as exc:
                add_domain_error(form, exc, default_field="donor_code")
            else:
                messages.success(request, gettext_now("Run %(code)s created.") % {"code": run.code})
                return redirect("web:run", pk=run.pk)
    return render(request, "web/run_new.html", {"nav": "runs", "form": form})


@require_POST
@lab_view
def run_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    """start / hold / resume a run."""
    run = _run_for(request, pk)
    require(request.perms.can_work)
    try:
        if action == "start":
            run = run_services.run_start(run=run, actor=request.user)
        elif action == "hold":
            run = run_services.run_hold(
                run=run, actor=request.user, reason=request.POST.get("reason", "")
            )
        elif action == "resume":
            run = run_services.run_resume(run=run, actor=request.user)
        else:
            raise Http404("unknown action")
    except DomainError as exc:
        messages.error(request, domain_message(exc))
    else:
        messages.success(
            request,
            gettext_now("Run %(code)s: %(status)s.")
            % {"code": run.code, "status": run.get_status_display()},
        )
    return redirect("web:run", pk=run.pk)
