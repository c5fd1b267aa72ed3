"""Change control in the protocol designer: edit and remove a draft's stages, tasks and
checkpoints; a reviewer confirms its conventions and approves it for use (signed, four eyes,
with the diff shown); a reviewer retires a published version (signed)."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from protocol_tracker.core.errors import DomainError, SignatureRefused
from protocol_tracker.protocols import selectors
from protocol_tracker.protocols import services as protocol_services
from protocol_tracker.protocols.definition import timedelta_to_hours
from protocol_tracker.protocols.models import ProtocolStatus, ProtocolTemplate, ValueType
from protocol_tracker.web.access import add_domain_error, domain_message, lab_view, require, use_lab
from protocol_tracker.web.forms import SignForm
from protocol_tracker.web.protocol_forms import CheckpointForm, StageForm, TaskForm
from protocol_tracker.web.views.release import refusal
from protocol_tracker.web.views.review import _meaning, _signature_error

PARTS = ("stage", "task", "checkpoint")


def _protocol(request: HttpRequest, pk: int) -> ProtocolTemplate:
    try:
        protocol = selectors.protocol_detail(protocol_id=pk, viewer=request.user)
    except ProtocolTemplate.DoesNotExist:
        raise Http404("no such protocol") from None
    use_lab(request, protocol.lab)
    return protocol


def _item(protocol: ProtocolTemplate, part: str, item: int):
    """The draft's stage, task or checkpoint ``item`` (from the prefetched detail), or 404."""
    for stage in protocol.stages.all():
        if part == "stage":
            if stage.pk == item:
                return stage
            continue
        for row in stage.tasks.all() if part == "task" else stage.checkpoints.all():
            if row.pk == item:
                return row
    raise Http404("no such part")


def _stage_initial(stage) -> dict:
    return {
        "key": stage.key, "name": stage.name, "kind": stage.kind,
        "expected_duration_hours": timedelta_to_hours(stage.expected_duration),
        "window_early_hours": timedelta_to_hours(stage.window_early),
        "window_late_hours": timedelta_to_hours(stage.window_late),
        "reminder_lead_hours": timedelta_to_hours(stage.reminder_lead),
        "depends_on": [d.key for d in stage.depends_on.all()],
        "description": stage.description, "source": stage.source,
    }  # fmt: skip


def _checkpoint_initial(cp) -> dict:
    spec = cp.spec or {}
    expected = spec.get("expected")
    if isinstance(expected, bool):
        expected = "yes" if expected else "no"
    return {
        "key": cp.key, "name": cp.name, "assay": cp.assay, "metric": cp.metric,
        "value_type": cp.value_type, "unit": cp.unit, "spec_min": spec.get("min"),
        "min_inclusive": spec.get("min_inclusive", True), "spec_max": spec.get("max"),
        "max_inclusive": spec.get("max_inclusive", True),
        "allowed": ", ".join(spec.get("allowed") or []), "expected": expected or "",
        "blocking": cp.blocking, "recorded_by": cp.recorded_by,
        "pending_allowed": cp.pending_allowed, "source": cp.source,
    }  # fmt: skip


def _edit_form(protocol, part: str, obj, data=None):
    stages = list(protocol.stages.all())
    if part == "stage":
        keys = [(s.key, f"{s.order}. {s.name}") for s in stages if s.pk != obj.pk]
        return StageForm(data, stage_keys=keys, initial=_stage_initial(obj), prefix="edit")
    if part == "task":
        initial = {
            "key": obj.key,
            "name": obj.name,
            "every_hours": timedelta_to_hours(obj.every),
            "on_days": ", ".join(str(d) for d in obj.on_days or []),
            "description": obj.description,
        }
        form = TaskForm(data, initial=initial, prefix="edit")
    else:
        form = CheckpointForm(data, initial=_checkpoint_initial(obj), prefix="edit")
    del form.fields["stage"]  # a task or checkpoint stays in its stage
    return form


@lab_view
def protocol_part_edit(request: HttpRequest, pk: int, part: str, item: int) -> HttpResponse:
    """Change a stage, bench task or checkpoint (with its spec) of a draft."""
    protocol = _protocol(request, pk)
    require(request.perms.can_design)
    if part not in PARTS:
        raise Http404("unknown part")
    if protocol.status != ProtocolStatus.DRAFT:
        messages.error(request, _("Only a draft can be edited; create a new version."))
        return redirect("web:protocol", pk=protocol.pk)
    obj = _item(protocol, part, item)
    form = _edit_form(protocol, part, obj, request.POST or None)
    if request.method == "POST" and form.is_valid():
        changes = form.service_kwargs()
        try:
            if part == "stage":
                protocol_services.stage_template_update(stage=obj, actor=request.user, **changes)
            elif part == "task":
                protocol_services.task_template_update(task=obj, actor=request.user, **changes)
            else:
                protocol_services.checkpoint_template_update(
                    checkpoint=obj, actor=request.user, **changes
                )
        except DomainError as exc:
            add_domain_error(form, exc, default_field="key")
        else:
            messages.success(request, _("Saved."))
            return redirect("web:protocol", pk=protocol.pk)
    return render(
        request,
        "web/protocols/edit_part.html",
        {
            "nav": "protocols",
            "protocol": protocol,
            "part": part,
            "obj": obj,
            "form": form,
            "is_boolean": part == "checkpoint" and obj.value_type == ValueType.BOOLEAN,
        },
        status=422 if request.method == "POST" else 200,
    )


@require_POST
@lab_view
def protocol_part_remove(request: HttpRequest, pk: int, part: str, item: int) -> HttpResponse:
    protocol = _protocol(request, pk)
    require(request.perms.can_design)
    if part not in PARTS:
        raise Http404("unknown part")
    obj = _item(protocol, part, item)
    try:
        if part == "stage":
            protocol_services.stage_template_remove(stage=obj, actor=request.user)
        elif part == "task":
            protocol_services.task_template_remove(task=obj, actor=request.user)
        else:
            protocol_services.checkpoint_template_remove(checkpoint=obj, actor=request.user)
    except DomainError as exc:
        messages.error(request, domain_message(exc))
    else:
        messages.success(request, _("Removed: %(name)s.") % {"name": obj.name})
    return redirect("web:protocol", pk=protocol.pk)


class ConfirmForm(SignForm):
    keys = forms.MultipleChoiceField(
        label=gettext_lazy("Conventions"), widget=forms.CheckboxSelectMultiple
    )
    comment = forms.CharField(
        label=gettext_lazy("Comment (optional)"),
        required=False,
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    field_order = ["keys", "comment", "password"]

    def __init__(self, *args, keys=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["keys"].choices = [(k, k) for k in keys]


class ApproveForm(SignForm):
    reason = forms.CharField(
        label=gettext_lazy("Reason for the approval"),
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    reviewed_hash = forms.CharField(widget=forms.HiddenInput, max_length=64)
    retire_previous = forms.BooleanField(
        label=gettext_lazy("Retire the previous version"), required=False
    )
    field_order = ["reason", "retire_previous", "password"]


def _label(item: dict) -> str:
    return f"{item.get('name') or item.get('key')} ({item.get('key')})"


def _diff_rows(diff: dict) -> list[dict]:
    """The change diff as rows for the page: what, which, and each changed field."""
    rows = [
        {"what": _("protocol"), "state": "changed", "name": field,
         "fields": [(field, change["old"], change["new"])]}
        for field, change in diff.get("protocol", {}).items()
    ]  # fmt: skip
    labels = {"stages": _("stage"), "tasks": _("bench task"), "checkpoints": _("checkpoint")}
    for part, label in labels.items():
        section = diff.get(part, {})
        rows.extend(
            {"what": label, "state": state, "name": _label(item), "fields": []}
            for state in ("added", "removed")
            for item in section.get(state, [])
        )
        rows.extend(
            {"what": label, "state": "changed", "name": _label(item),
             "fields": [(f, c["old"], c["new"]) for f, c in item["fields"].items()]}
            for item in section.get("changed", [])
        )  # fmt: skip
    return rows


@lab_view
def protocol_approve(request: HttpRequest, pk: int) -> HttpResponse:
    """The approval page of a draft: what changed, its conventions to confirm, the signature."""
    protocol = _protocol(request, pk)
    require(request.perms.can_review)
    if protocol.status != ProtocolStatus.DRAFT:
        return redirect("web:protocol", pk=protocol.pk)
    conventions = selectors.protocol_conventions(protocol=protocol)
    unconfirmed = [row.key for row in conventions if not row.confirmed]
    review_hash = selectors.protocol_review_hash(protocol=protocol)
    confirm_form = ConfirmForm(keys=unconfirmed, prefix="conv")
    approve_form = ApproveForm(initial={"reviewed_hash": review_hash}, prefix="approve")
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "confirm":
            confirm_form = ConfirmForm(request.POST, keys=unconfirmed, prefix="conv")
            if confirm_form.is_valid():
                data = confirm_form.cleaned_data
                try:
                    protocol_services.conventions_confirm(
                        protocol=protocol,
                        checkpoint_keys=data["keys"],
                        actor=request.user,
                        password=data["password"],
                        comment=data["comment"],
                    )
                except SignatureRefused as exc:
                    _signature_error(confirm_form, exc)
                except DomainError as exc:
                    refusal(confirm_form, exc, default_field="keys")
                else:
                    messages.success(
                        request, _("%(n)s convention(s) confirmed.") % {"n": len(data["keys"])}
                    )
                    return redirect("web:protocol_approve", pk=protocol.pk)
        elif action == "publish":
            approve_form = ApproveForm(request.POST, prefix="approve")
            if approve_form.is_valid():
                data = approve_form.cleaned_data
                try:
                    protocol_services.protocol_publish(
                        protocol=protocol,
                        actor=request.user,
                        password=data["password"],
                        reason=data["reason"],
                        reviewed_hash=data["reviewed_hash"],
                        retire_previous=data["retire_previous"],
                    )
                except SignatureRefused as exc:
                    _signature_error(approve_form, exc)
                except DomainError as exc:
                    refusal(approve_form, exc, default_field="reason")
                else:
                    messages.success(request, _("Approved for use: this version is now frozen."))
                    return redirect("web:protocol", pk=protocol.pk)
        else:
            raise Http404("unknown action")
    return render(
        request,
        "web/protocols/approve.html",
        {
            "nav": "protocols",
            "protocol": protocol,
            "diff_rows": _diff_rows(selectors.protocol_change_diff(protocol=protocol)),
            "conventions": conventions,
            "unconfirmed": unconfirmed,
            "problems": protocol_services.protocol_validate(protocol=protocol),
            "is_author": request.user.pk in selectors.protocol_authors(protocol=protocol),
            "confirm_form": confirm_form,
            "approve_form": approve_form,
            "confirm_meaning": _meaning(
                request.user,
                _("I confirm the conventions selected above as acceptance criteria of this lab"),
            ),
            "approve_meaning": _meaning(
                request.user,
                _("I approve %(protocol)s for use: I reviewed its content and the changes shown")
                % {"protocol": protocol},
            ),
        },
    )


class RetireSignForm(SignForm):
    reason = forms.CharField(label=gettext_lazy("Reason for retiring"), max_length=4000)
    field_order = ["reason", "password"]


@lab_view
def protocol_retire(request: HttpRequest, pk: int) -> HttpResponse:
    """Retire a published version with a reviewer's signature and a reason."""
    protocol = _protocol(request, pk)
    require(request.perms.can_review)
    form = RetireSignForm(request.POST or None, prefix="retire")
    if request.method == "POST" and form.is_valid():
        try:
            protocol_services.protocol_retire(
                protocol=protocol,
                actor=request.user,
                password=form.cleaned_data["password"],
                reason=form.cleaned_data["reason"],
            )
        except SignatureRefused as exc:
            _signature_error(form, exc)
        except DomainError as exc:
            add_domain_error(form, exc, default_field="reason")
        else:
            messages.success(request, _("Retired: no new runs will use this version."))
            return redirect("web:protocol", pk=protocol.pk)
    return render(
        request,
        "web/protocols/retire.html",
        {
            "nav": "protocols",
            "protocol": protocol,
            "form": form,
            "meaning": _meaning(
                request.user,
                _("I retire %(protocol)s: no new run may use it") % {"protocol": protocol},
            ),
        },
    )
