"""Design the recurring bench work (task templates) of a draft's stages."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from django.db import transaction

from protocol_tracker.audit.services import audit_record
from protocol_tracker.core.actors import Actor
from protocol_tracker.protocols import definition as defn
from protocol_tracker.protocols.models import StageTemplate, TaskTemplate
from protocol_tracker.protocols.services.guards import lock_draft, raise_if, snapshot

TASK_FIELDS = ("key", "name", "every", "on_days", "description")
# The bill of materials: edited like the fields above, audited only when the task has one.
EDITABLE = (*TASK_FIELDS, "materials")


def _audit(task: TaskTemplate) -> dict[str, Any]:
    return {
        **snapshot(task, TASK_FIELDS),
        **({"materials": task.materials} if task.materials else {}),
    }


@transaction.atomic
def task_template_add(
    *,
    stage: StageTemplate,
    key: str,
    name: str,
    every: timedelta | None = None,
    on_days: list[int] | None = None,
    description: str = "",
    materials: Sequence[dict] = (),
    actor: Actor | None,
) -> TaskTemplate:
    """Add recurring bench work to a draft's stage: ``every`` (≥ 1 h) or ``on_days`` (≥ 0);
    ``materials`` is its bill of materials (definition lines)."""
    protocol = lock_draft(stage.protocol, actor)
    values: dict[str, Any] = {
        "key": key,
        "name": name,
        "every": every,
        "on_days": on_days,
        "description": description,
    }
    problems: dict[str, list[str]] = {}
    try:
        values["materials"] = defn.canonical_lines(defn.MATERIALS_KEY, list(materials))
    except defn.DefinitionError as exc:
        problems.update(exc.fields)
    problems.update(defn.task_problems(values))
    if TaskTemplate.objects.filter(stage=stage, key=key).exists():
        problems.setdefault("key", []).append(f"task '{key}' already exists in this stage")
    raise_if(problems, "the task has invalid fields")
    if on_days is not None:
        values["on_days"] = sorted(on_days)
    task = TaskTemplate.objects.create(stage=stage, **values)
    audit_record(
        actor=actor,
        action="task_template.added",
        obj=task,
        lab_id=protocol.lab_id,
        after={"stage": stage.key, **_audit(task)},
    )
    return task


@transaction.atomic
def task_template_update(
    *, task: TaskTemplate, actor: Actor | None, **changes: Any
) -> TaskTemplate:
    """Change a draft's task; setting ``every`` or ``on_days`` to None switches the schedule."""
    protocol = lock_draft(task.stage.protocol, actor)
    task = TaskTemplate.objects.select_related("stage").get(pk=task.pk)
    problems: dict[str, list[str]] = {
        f: ["cannot be changed"] for f in changes if f not in EDITABLE
    }
    if "materials" in changes:
        try:
            changes["materials"] = defn.canonical_lines(defn.MATERIALS_KEY, changes["materials"])
        except defn.DefinitionError as exc:
            problems.update(exc.fields)
            changes.pop("materials")
    merged = {**snapshot(task, EDITABLE), **changes}
    problems.update(
        {
            f: m
            for f, m in defn.task_problems(
                {k: v for k, v in merged.items() if k in changes or k in ("every", "on_days")}
            ).items()
        }
    )
    if (
        "key" in changes
        and changes["key"] != task.key
        and TaskTemplate.objects.filter(stage_id=task.stage_id, key=changes["key"]).exists()
    ):
        problems.setdefault("key", []).append(f"task '{changes['key']}' already exists")
    raise_if(problems, "the task has invalid fields")
    if merged.get("on_days") is not None:
        merged["on_days"] = sorted(merged["on_days"])
    before = snapshot(task, EDITABLE)
    changed = [f for f in EDITABLE if before[f] != merged[f]]
    if changed:
        for field in changed:
            setattr(task, field, merged[field])
        task.save(update_fields=changed)
        audit_record(
            actor=actor,
            action="task_template.updated",
            obj=task,
            lab_id=protocol.lab_id,
            before={f: before[f] for f in changed},
            after={f: merged[f] for f in changed},
        )
    return task


@transaction.atomic
def task_template_remove(*, task: TaskTemplate, actor: Actor | None) -> None:
    protocol = lock_draft(task.stage.protocol, actor)
    task = TaskTemplate.objects.select_related("stage").get(pk=task.pk)
    audit_record(
        actor=actor,
        action="task_template.removed",
        obj=task,
        lab_id=protocol.lab_id,
        before={"stage": task.stage.key, **_audit(task)},
    )
    TaskTemplate.objects.filter(pk=task.pk).delete()
