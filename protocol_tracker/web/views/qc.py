"""QC entry with a live spec check, the out-of-spec confirmation, and corrections."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from protocol_tracker import specs
from protocol_tracker.core.errors import DomainError
from protocol_tracker.protocols.selectors import checkpoint_on_stage
from protocol_tracker.qc import selectors as qc_selectors
from protocol_tracker.qc import services as qc_services
from protocol_tracker.qc.models import QCResult
from protocol_tracker.runs import selectors as run_selectors
from protocol_tracker.web import display
from protocol_tracker.web.access import add_domain_error, lab_view, or_404, require, use_lab
from protocol_tracker.web.forms import QCCorrectionForm, QCValueForm


def _stage_and_checkpoint(request: HttpRequest, stage_pk: int, checkpoint_pk: int):
    stage_run = or_404(run_selectors.stage_run_for_user, stage_run_id=stage_pk, user=request.user)
    checkpoint = checkpoint_on_stage(
        lab=stage_run.run.lab_id, stage_id=stage_run.stage_id, checkpoint_id=checkpoint_pk
    )
    if checkpoint is None:
        raise Http404("no such checkpoint on this stage")
    use_lab(request, stage_run.run.lab)
    return stage_run, checkpoint


def _verdict_for(form, checkpoint) -> display.LiveVerdict:
    raw = form.data.get(form.add_prefix("value"), "")
    unit = form.data.get(form.add_prefix("unit"), "") or None
    return display.live_verdict(checkpoint, raw, unit)


def _deviation_message(request: HttpRequest, result: QCResult, lab_id: int) -> None:
    deviation = qc_selectors.deviation_of_result(result=result, lab=lab_id)
    if deviation is not None:
        messages.warning(
            request,
            _("Out of spec: deviation DEV-%(pk)s was opened for review.") % {"pk": deviation.pk},
        )


def _needs_confirmation(form, checkpoint) -> bool:
    """An out-of-spec value is saved only once confirmed, and only the value that was confirmed."""
    raw = form.data.get("value", "")
    verdict = display.live_verdict(checkpoint, raw, form.cleaned_data.get("unit"))
    if verdict.verdict != specs.FAIL:
        return False
    confirmed = form.cleaned_data.get("confirm_oos") and form.data.get("confirmed_value") == raw
    return not confirmed


@lab_view
def qc_entry(request: HttpRequest, stage_pk: int, checkpoint_pk: int) -> HttpResponse:
    stage_run, checkpoint = _stage_and_checkpoint(request, stage_pk, checkpoint_pk)
    require(request.perms.can_work)
    confirm = False
    if request.method == "POST":
        form = QCValueForm(request.POST, checkpoint=checkpoint)
        if form.is_valid():
            if _needs_confirmation(form, checkpoint):
                confirm = True
            else:
                data = form.cleaned_data
                try:
                    result = qc_services.qc_result_record(
                        stage_run=stage_run,
                        checkpoint=checkpoint,
                        value=data["value"],
                        unit=data["unit"],
                        measured_at=data["measured_at"],
                        actor=request.user,
                        comment=data["comment"],
                        idempotency_key=data["idempotency_key"],
                    )
                except DomainError as exc:
                    add_domain_error(form, exc, default_field="value")
                else:
                    messages.success(
                        request,
                        _("Recorded %(checkpoint)s: %(value)s.")
                        % {"checkpoint": checkpoint.name, "value": result.display_value},
                    )
                    _deviation_message(request, result, stage_run.run.lab_id)
                    return redirect(
                        reverse("web:run", args=[stage_run.run_id]) + f"#stage-{stage_run.pk}"
                    )
    else:
        form = QCValueForm(checkpoint=checkpoint)
    return render(
        request,
        "web/qc_entry.html",
        {
            "nav": "runs",
            "form": form,
            "stage_run": stage_run,
            "checkpoint": checkpoint,
            "verdict": _verdict_for(form, checkpoint),
            "confirm": confirm,
            "check_url": reverse("web:qc_check", args=[stage_run.pk, checkpoint.pk]),
            "allowed": (checkpoint.spec or {}).get("allowed") or [],
        },
    )


@require_POST
@lab_view
def qc_check(request: HttpRequest, stage_pk: int, checkpoint_pk: int) -> HttpResponse:
    """htmx: the verdict for what is typed so far (writes nothing)."""
    _stage, checkpoint = _stage_and_checkpoint(request, stage_pk, checkpoint_pk)
    raw = request.POST.get("value", "")
    unit = request.POST.get("unit", "") or None
    verdict = display.live_verdict(checkpoint, raw, unit)
    return render(request, "web/partials/verdict.html", {"verdict": verdict})


@lab_view
def qc_correct(request: HttpRequest, pk: int) -> HttpResponse:
    result = or_404(qc_selectors.qc_result_for_user, result_id=pk, user=request.user)
    stage_run, checkpoint = result.stage_run, result.checkpoint
    lab = stage_run.run.lab
    use_lab(request, lab)
    require(request.perms.can_work)
    correction = qc_selectors.qc_result_correction(result=result, lab=lab)
    if correction is not None:
        messages.info(request, _("This result was already corrected; correct the newest one."))
        return redirect("web:qc_correct", pk=correction.pk)
    confirm = False
    if request.method == "POST":
        form = QCCorrectionForm(request.POST, checkpoint=checkpoint)
        if form.is_valid():
            if _needs_confirmation(form, checkpoint):
                confirm = True
            else:
                data = form.cleaned_data
                try:
                    new = qc_services.qc_result_correct(
                        result=result,
                        value=data["value"],
                        unit=data["unit"],
                        measured_at=data["measured_at"],
                        reason=data["reason"],
                        actor=request.user,
                    )
                except DomainError as exc:
                    add_domain_error(form, exc, default_field="value")
                else:
                    messages.success(
                        request,
                        _("Corrected %(checkpoint)s: %(old)s → %(new)s.")
                        % {
                            "checkpoint": checkpoint.name,
                            "old": result.display_value,
                            "new": new.display_value,
                        },
                    )
                    _deviation_message(request, new, stage_run.run.lab_id)
                    return redirect(
                        reverse("web:run", args=[stage_run.run_id]) + f"#stage-{stage_run.pk}"
                    )
    else:
        initial = {"unit": result.unit}
        if result.value_number is not None:
            initial["value"] = f"{result.value_number:g}"
        elif result.value_bool is not None:
            initial["value"] = "yes" if result.value_bool else "no"
        else:
            initial["value"] = result.value_text
        form = QCCorrectionForm(checkpoint=checkpoint, initial=initial)
    return render(
        request,
        "web/qc_entry.html",
        {
            "nav": "runs",
            "form": form,
            "stage_run": stage_run,
            "checkpoint": checkpoint,
            "verdict": _verdict_for(form, checkpoint)
            if form.is_bound
            else display.live_verdict(
                checkpoint, form.initial.get("value"), form.initial.get("unit")
            ),
            "confirm": confirm,
            "correcting": result,
            "history": qc_selectors.qc_result_history(result=result, lab=lab),
            "check_url": reverse("web:qc_check", args=[stage_run.pk, checkpoint.pk]),
            "allowed": (checkpoint.spec or {}).get("allowed") or [],
        },
    )
