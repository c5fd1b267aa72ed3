"""Completing a stage that needs reasons: its open bench tasks resolved, the window reason."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from protocol_tracker.core.errors import DomainError, ValidationFailed
from protocol_tracker.qc import services as qc_services
from protocol_tracker.runs import selectors as run_selectors
from protocol_tracker.runs import services as run_services
from protocol_tracker.runs.models import TaskResolution
from protocol_tracker.web.access import (
    add_domain_error,
    domain_message,
    lab_view,
    or_404,
    require,
    use_lab,
)


class CompletionForm(forms.Form):
    note = forms.CharField(
        label=gettext_lazy("Note"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    window_reason = forms.CharField(
        label=gettext_lazy("Why the stage finishes outside its allowed window"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args, tasks=(), outside=False, **kwargs):
        super().__init__(*args, **kwargs)
        if outside:
            self.fields["window_reason"].required = True
        else:
            del self.fields["window_reason"]
        self.tasks = list(tasks)
        for occ in self.tasks:
            self.fields[f"resolution_{occ.pk}"] = forms.ChoiceField(
                label=_("Resolution"), choices=TaskResolution.choices, widget=forms.RadioSelect
            )
            self.fields[f"reason_{occ.pk}"] = forms.CharField(label=_("Reason"), max_length=2000)

    def task_rows(self):
        return [(occ, self[f"resolution_{occ.pk}"], self[f"reason_{occ.pk}"]) for occ in self.tasks]

    def resolutions(self) -> list[run_services.TaskResolutionInput]:
        return [
            run_services.TaskResolutionInput(
                occ.pk,
                self.cleaned_data[f"resolution_{occ.pk}"],
                self.cleaned_data[f"reason_{occ.pk}"],
            )
            for occ in self.tasks
        ]


@lab_view
def stage_complete_reasons(request: HttpRequest, pk: int) -> HttpResponse:
    """Completing a stage that has open bench tasks or finishes outside its window: each task's
    resolution with a reason, and the window reason first."""
    stage_run = or_404(run_selectors.stage_run_for_user, stage_run_id=pk, user=request.user)
    use_lab(request, stage_run.run.lab)
    require(request.perms.can_work)
    now = timezone.now()
    tasks = [o for o in run_services.open_tasks_of_stage(stage_run) if o.due_at <= now]
    stage = stage_run.stage
    outside = not (
        stage_run.due_at - stage.window_early <= now <= stage_run.due_at + stage.window_late
    )
    form = CompletionForm(request.POST or None, tasks=tasks, outside=outside)
    if request.method == "POST" and form.is_valid():
        try:
            qc_services.stage_complete(
                stage_run=stage_run,
                actor=request.user,
                note=form.cleaned_data["note"],
                window_reason=form.cleaned_data.get("window_reason", ""),
                task_resolutions=form.resolutions(),
            )
        except ValidationFailed as exc:
            add_domain_error(form, exc, default_field="note")
        except DomainError as exc:
            messages.error(request, domain_message(exc))
        else:
            messages.success(
                request,
                _("Completed %(stage)s on %(run)s.")
                % {"stage": stage.name, "run": stage_run.run.code},
            )
            return redirect("web:run", pk=stage_run.run_id)
    return render(
        request,
        "web/release/stage_complete.html",
        {
            "nav": "bench",
            "stage_run": stage_run,
            "form": form,
            "outside": outside,
            "not_due": len(run_services.open_tasks_of_stage(stage_run)) - len(tasks),
        },
    )
