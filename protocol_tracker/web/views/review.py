"""The reviewer's queue and the signing dialogs: deviation disposition and run rejection (the
release page is :mod:`protocol_tracker.web.views.release`)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from protocol_tracker.core.errors import DomainError, SignatureRefused
from protocol_tracker.outcomes import services as outcome_services
from protocol_tracker.qc import selectors as qc_selectors
from protocol_tracker.qc import services as qc_services
from protocol_tracker.qc.models import DeviationKind, DeviationStatus
from protocol_tracker.runs import selectors as run_selectors
from protocol_tracker.runs.models import Run
from protocol_tracker.web.access import add_domain_error, lab_view, or_404, require, use_lab
from protocol_tracker.web.forms import DispositionForm, InvestigationForm, RejectForm
from protocol_tracker.web.runpage import run_page_data

# FDA OOS guidance: these need a phase I laboratory investigation before a disposition.
INVESTIGATE_FIRST = (DeviationKind.OUT_OF_SPEC, DeviationKind.LATE_RESULT)


def _meaning(user, what: str) -> str:
    name = user.get_full_name() or user.get_username()
    return _(
        "I, %(name)s, sign this record electronically: %(what)s. My signature is the legally "
        "binding equivalent of my handwritten signature, and it is recorded with the date, "
        "time and meaning in the audit trail."
    ) % {"name": name, "what": what}


def _signature_error(form, exc: SignatureRefused) -> None:
    """A wrong password belongs next to the password; a four-eyes refusal to the whole form."""
    is_password = "password" in exc.message.lower() or "password" in (exc.fields or {})
    add_domain_error(form, exc, default_field="password" if is_password else None)


@lab_view
def review_queue(request: HttpRequest) -> HttpResponse:
    lab = request.lab
    context: dict = {"nav": "review"}
    if lab is not None:
        queue = qc_selectors.review_queue(lab=lab)
        context.update({"runs": queue.runs, "stages": queue.stages, "deviations": queue.deviations})
    return render(request, "web/review_queue.html", context)


@lab_view
def deviation_detail(request: HttpRequest, pk: int) -> HttpResponse:
    deviation = or_404(qc_selectors.deviation_for_user, deviation_id=pk, user=request.user)
    use_lab(request, deviation.lab)
    investigate_form = InvestigationForm(prefix="inv")
    sign_form = DispositionForm(prefix="sign")
    if request.method == "POST":
        action = request.POST.get("action")
        require(request.perms.can_review if action == "disposition" else request.perms.can_work)
        if action == "investigate":
            investigate_form = InvestigationForm(request.POST, prefix="inv")
            if investigate_form.is_valid():
                data = investigate_form.cleaned_data
                try:
                    qc_services.deviation_investigate(
                        deviation=deviation,
                        phase=data["phase"],
                        findings=data["findings"],
                        actor=request.user,
                    )
                except DomainError as exc:
                    add_domain_error(investigate_form, exc, default_field="findings")
                else:
                    messages.success(request, _("Investigation recorded."))
                    return redirect("web:deviation", pk=deviation.pk)
        elif action == "disposition":
            sign_form = DispositionForm(request.POST, prefix="sign")
            if sign_form.is_valid():
                data = sign_form.cleaned_data
                try:
                    qc_services.deviation_disposition(
                        deviation=deviation,
                        decision=data["decision"],
                        justification=data["justification"],
                        password=data["password"],
                        actor=request.user,
                    )
                except SignatureRefused as exc:
                    _signature_error(sign_form, exc)
                except DomainError as exc:
                    add_domain_error(sign_form, exc, default_field="decision")
                else:
                    messages.success(
                        request,
                        _("Disposition signed: DEV-%(pk)s is closed.") % {"pk": deviation.pk},
                    )
                    return redirect("web:run", pk=deviation.run_id)
    return render(
        request,
        "web/deviation.html",
        {
            "nav": "review",
            "deviation": deviation,
            "investigate_form": investigate_form,
            "sign_form": sign_form,
            "needs_investigation": deviation.kind in INVESTIGATE_FIRST
            and deviation.status == DeviationStatus.OPEN,
            "meaning": _meaning(
                request.user,
                _(
                    "I approve the disposition of deviation DEV-%(pk)s "
                    "as chosen above, for the reason given"
                )
                % {"pk": deviation.pk},
            ),
        },
    )


def _run_for_signing(request: HttpRequest, pk: int) -> Run:
    run = or_404(run_selectors.run_for_user, run_id=pk, user=request.user)
    use_lab(request, run.lab)
    require(request.perms.can_review)
    return run


@lab_view
def run_reject(request: HttpRequest, pk: int) -> HttpResponse:
    run = _run_for_signing(request, pk)
    data = run_page_data(run, with_audit=False)
    form = RejectForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            outcome_services.run_reject(
                run=run,
                actor=request.user,
                password=form.cleaned_data["password"],
                reason=form.cleaned_data["reason"],
            )
        except SignatureRefused as exc:
            _signature_error(form, exc)
        except DomainError as exc:
            add_domain_error(form, exc, default_field="reason")
        else:
            messages.success(request, _("Run %(code)s rejected.") % {"code": run.code})
            return redirect("web:run", pk=run.pk)
    data.update(
        {
            "nav": "review",
            "form": form,
            "action": "reject",
            "meaning": _meaning(
                request.user,
                _("I reject batch %(code)s: it must not be used, for the reason given")
                % {"code": run.code},
            ),
        }
    )
    return render(request, "web/run_sign.html", data)
