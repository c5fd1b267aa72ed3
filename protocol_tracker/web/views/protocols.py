"""The protocol designer: drafts, stages, tasks, checkpoints and specs; validate, publish,
new version, retire; two versions side by side."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from protocol_tracker.core.errors import DomainError
from protocol_tracker.protocols import selectors
from protocol_tracker.protocols import services as protocol_services
from protocol_tracker.protocols.models import ProtocolStatus, ProtocolTemplate, StageTemplate
from protocol_tracker.web.access import (
    add_domain_error,
    domain_message,
    lab_view,
    require,
    require_lab,
    use_lab,
)
from protocol_tracker.web.display import spec_label
from protocol_tracker.web.protocol_forms import (
    CheckpointForm,
    CompareForm,
    ProtocolDraftForm,
    StageForm,
    TaskForm,
)


@lab_view
def protocol_list(request: HttpRequest) -> HttpResponse:
    lab = request.lab
    protocols = []
    if lab is not None:
        protocols = list(selectors.protocols_for_user(request.user, lab=lab))
    return render(request, "web/protocol_list.html", {"nav": "protocols", "protocols": protocols})


@lab_view
def protocol_new(request: HttpRequest) -> HttpResponse:
    lab = require_lab(request)
    require(request.perms.can_design)
    form = ProtocolDraftForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            protocol = protocol_services.protocol_create_draft(
                lab=lab, actor=request.user, **form.cleaned_data
            )
        except DomainError as exc:
            add_domain_error(form, exc, default_field="code")
        else:
            messages.success(request, _("Draft created."))
            return redirect("web:protocol", pk=protocol.pk)
    return render(request, "web/protocol_new.html", {"nav": "protocols", "form": form})


@require_POST
@lab_view
def protocol_import_defaults(request: HttpRequest) -> HttpResponse:
    lab = require_lab(request)
    require(request.perms.can_design)
    try:
        imported = protocol_services.protocol_import_defaults(lab=lab, actor=request.user)
    except DomainError as exc:
        messages.error(request, domain_message(exc))
    else:
        messages.success(
            request,
            _("Default protocols available: %(names)s.")
            % {"names": ", ".join(str(p) for p in imported)},
        )
    return redirect("web:protocols")


def _protocol(request: HttpRequest, pk: int) -> ProtocolTemplate:
    try:
        protocol = selectors.protocol_detail(protocol_id=pk, viewer=request.user)
    except ProtocolTemplate.DoesNotExist:
        raise Http404("no such protocol") from None
    use_lab(request, protocol.lab)
    return protocol


def _detail(
    request: HttpRequest,
    protocol: ProtocolTemplate,
    *,
    stage_form=None,
    task_form=None,
    checkpoint_form=None,
    problems=None,
    status=200,
) -> HttpResponse:
    stages = list(protocol.stages.all())
    stage_keys = [(s.key, f"{s.order}. {s.name}") for s in stages]
    stage_choices = [(str(s.pk), f"{s.order}. {s.name}") for s in stages]
    versions = list(selectors.protocol_versions(protocol=protocol))
    return render(
        request,
        "web/protocol_detail.html",
        {
            "nav": "protocols",
            "protocol": protocol,
            "stages": stages,
            "versions": versions,
            "stage_form": stage_form or StageForm(prefix="stage", stage_keys=stage_keys),
            "task_form": task_form or TaskForm(prefix="task", stages=stage_choices),
            "checkpoint_form": checkpoint_form or CheckpointForm(prefix="cp", stages=stage_choices),
            "approvals": list(selectors.protocol_approvals(protocol=protocol)),
            "problems": problems,
            "editable": protocol.status == ProtocolStatus.DRAFT and request.perms.can_design,
        },
        status=status,
    )


@lab_view
def protocol_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _detail(request, _protocol(request, pk))


def _stage_of(protocol: ProtocolTemplate, stage_pk: str) -> StageTemplate:
    for stage in protocol.stages.all():
        if str(stage.pk) == stage_pk:
            return stage
    raise Http404("no such stage")


@require_POST
@lab_view
def protocol_add(request: HttpRequest, pk: int, part: str) -> HttpResponse:
    """Add a stage, a task or a checkpoint to a draft."""
    protocol = _protocol(request, pk)
    require(request.perms.can_design)
    stages = list(protocol.stages.all())
    stage_choices = [(str(s.pk), f"{s.order}. {s.name}") for s in stages]
    if part == "stage":
        form = StageForm(
            request.POST,
            prefix="stage",
            stage_keys=[(s.key, f"{s.order}. {s.name}") for s in stages],
        )
        call = lambda: protocol_services.stage_template_add(  # noqa: E731
            protocol=protocol, actor=request.user, **form.service_kwargs()
        )
        forms_kw = {"stage_form": form}
    elif part == "task":
        form = TaskForm(request.POST, prefix="task", stages=stage_choices)
        call = lambda: protocol_services.task_template_add(  # noqa: E731
            stage=_stage_of(protocol, form.cleaned_data["stage"]),
            actor=request.user,
            **form.service_kwargs(),
        )
        forms_kw = {"task_form": form}
    elif part == "checkpoint":
        form = CheckpointForm(request.POST, prefix="cp", stages=stage_choices)
        call = lambda: protocol_services.checkpoint_template_add(  # noqa: E731
            stage=_stage_of(protocol, form.cleaned_data["stage"]),
            actor=request.user,
            **form.service_kwargs(),
        )
        forms_kw = {"checkpoint_form": form}
    else:
        raise Http404("unknown part")
    if form.is_valid():
        try:
            call()
        except DomainError as exc:
            add_domain_error(form, exc, default_field="key")
        else:
            messages.success(request, _("Added."))
            return redirect("web:protocol", pk=protocol.pk)
    return _detail(request, protocol, status=422, **forms_kw)


@require_POST
@lab_view
def protocol_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    """validate / new_version (approving and retiring are a reviewer's signed acts:
    :mod:`protocol_tracker.web.views.change_control`)."""
    protocol = _protocol(request, pk)
    require(request.perms.can_design)
    try:
        if action == "validate":
            problems = protocol_services.protocol_validate(protocol=protocol)
            if not problems:
                messages.success(request, _("No problems: this draft can be published."))
            return _detail(request, protocol, problems=problems)
        if action == "new_version":
            draft = protocol_services.protocol_new_version(protocol=protocol, actor=request.user)
            messages.success(request, _("New draft version %(v)s created.") % {"v": draft.version})
            return redirect("web:protocol", pk=draft.pk)
    except DomainError as exc:
        problems = [m for ms in (exc.fields or {}).values() for m in ms] or [domain_message(exc)]
        return _detail(request, protocol, problems=problems, status=422)
    raise Http404("unknown action")


@lab_view
def protocol_compare(request: HttpRequest, pk: int) -> HttpResponse:
    protocol = _protocol(request, pk)
    versions = list(selectors.protocol_versions(protocol=protocol))
    choices = [(str(v.pk), f"v{v.version} ({v.get_status_display()})") for v in versions]
    form = CompareForm(request.GET or None, versions=choices)
    diff = old = new = None
    if form.is_valid():
        by_pk = {str(v.pk): v for v in versions}
        old, new = by_pk[form.cleaned_data["old"]], by_pk[form.cleaned_data["new"]]
        diff = selectors.protocol_diff(old=old, new=new)
    elif not form.is_bound and len(versions) >= 2:
        old, new = versions[1], versions[0]
        form = CompareForm(initial={"old": str(old.pk), "new": str(new.pk)}, versions=choices)
        diff = selectors.protocol_diff(old=old, new=new)
    rows = _side_by_side(old, new) if diff is not None else []
    return render(
        request,
        "web/protocol_compare.html",
        {
            "nav": "protocols",
            "protocol": protocol,
            "form": form,
            "diff": diff,
            "old": old,
            "new": new,
            "rows": rows,
        },
    )


def _stage_lines(stage: dict | None) -> list[str]:
    if stage is None:
        return []
    lines = [
        _("%(kind)s, %(hours)s h (−%(early)s h / +%(late)s h)")
        % {
            "kind": stage["kind"],
            "hours": stage["expected_duration_hours"],
            "early": stage["window_early_hours"],
            "late": stage["window_late_hours"],
        },
    ]
    if stage["depends_on"]:
        lines.append(_("after: %(keys)s") % {"keys": ", ".join(stage["depends_on"])})
    lines += [_("task: %(name)s") % {"name": t["name"]} for t in stage["tasks"]]
    lines += [f"QC: {cp['name']} — {spec_label(cp)}" for cp in stage["checkpoints"]]
    return lines


def _side_by_side(old: ProtocolTemplate, new: ProtocolTemplate) -> list[dict]:
    """One row per stage key: the old and the new stage's lines, and whether they differ."""
    old_stages = {s["key"]: s for s in selectors.protocol_export(protocol=old)["stages"]}
    new_stages = {s["key"]: s for s in selectors.protocol_export(protocol=new)["stages"]}
    keys = list(dict.fromkeys([*new_stages, *old_stages]))
    rows = []
    for key in keys:
        a, b = old_stages.get(key), new_stages.get(key)
        a_lines, b_lines = _stage_lines(a), _stage_lines(b)
        state = (
            "added"
            if a is None
            else "removed"
            if b is None
            else ("changed" if (a_lines != b_lines or a["name"] != b["name"]) else "same")
        )
        rows.append(
            {
                "key": key,
                "state": state,
                "old_name": a["name"] if a else "",
                "new_name": b["name"] if b else "",
                "old": [(line, line not in b_lines) for line in a_lines],
                "new": [(line, line not in a_lines) for line in b_lines],
            }
        )
    return rows
