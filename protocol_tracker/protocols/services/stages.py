"""Design a draft's stages: add, change, remove, reorder, and their dependency graph."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.db.models import Max

from protocol_tracker.audit.services import audit_record
from protocol_tracker.core.actors import Actor
from protocol_tracker.core.errors import ValidationFailed
from protocol_tracker.protocols import definition as defn
from protocol_tracker.protocols.models import ProtocolTemplate, StageTemplate
from protocol_tracker.protocols.services.content import delete_stages
from protocol_tracker.protocols.services.guards import lock_draft, raise_if, snapshot

STAGE_FIELDS = (
    "key",
    "name",
    "kind",
    "expected_duration",
    "window_early",
    "window_late",
    "reminder_lead",
    "description",
    "source",
    "order",
)
# The bill of materials and the equipment kinds: edited like the fields above, audited only
# when a stage has them.
LINE_FIELDS = ("materials", "equipment")


def _canonical_lines(values: dict[str, Any], problems: dict[str, list[str]]) -> None:
    """The bill of materials and equipment in ``values`` in their canonical form (in place)."""
    for key in (defn.MATERIALS_KEY, defn.EQUIPMENT_KEY):
        if key in values:
            try:
                values[key] = defn.canonical_lines(key, values[key])
            except defn.DefinitionError as exc:
                problems.update(exc.fields)
                values.pop(key)


def _stage_keys(protocol: ProtocolTemplate) -> dict[str, int]:
    return dict(StageTemplate.objects.filter(protocol=protocol).values_list("key", "pk"))


def _edges(protocol: ProtocolTemplate) -> dict[str, list[str]]:
    through = StageTemplate.depends_on.through
    edges: dict[str, list[str]] = {}
    rows = through.objects.filter(from_stagetemplate__protocol=protocol).values_list(
        "from_stagetemplate__key", "to_stagetemplate__key"
    )
    for src, dst in rows:
        edges.setdefault(src, []).append(dst)
    return edges


def _check_depends_on(
    problems: dict[str, list[str]],
    depends_on: Any,
    *,
    stage_key: str,
    known: dict[str, int],
    edges: dict[str, list[str]],
) -> None:
    if isinstance(depends_on, str) or not all(isinstance(d, str) for d in depends_on):
        problems.setdefault("depends_on", []).append("must be a list of stage keys")
        return
    for dep in depends_on:
        if dep == stage_key:
            problems.setdefault("depends_on", []).append("a stage cannot depend on itself")
        elif dep not in known:
            problems.setdefault("depends_on", []).append(f"unknown stage '{dep}'")
    if "depends_on" in problems:
        return
    graph = {**edges, stage_key: list(depends_on)}
    cycle = defn.find_cycle(sorted(set(known) | {stage_key}), graph)
    if cycle is not None:
        problems.setdefault("depends_on", []).append(
            f"would make a dependency cycle: {' → '.join(cycle)}"
        )


def _set_depends_on(stage: StageTemplate, keys: Sequence[str], known: dict[str, int]) -> None:
    through = StageTemplate.depends_on.through
    through.objects.filter(from_stagetemplate=stage).delete()
    through.objects.bulk_create(
        [
            through(from_stagetemplate_id=stage.pk, to_stagetemplate_id=known[k])
            for k in dict.fromkeys(keys)
        ]
    )


def _stage_audit(stage: StageTemplate, depends_on: Sequence[str]) -> dict[str, Any]:
    lines = {f: getattr(stage, f) for f in LINE_FIELDS if getattr(stage, f)}
    return {**snapshot(stage, STAGE_FIELDS), "depends_on": sorted(depends_on), **lines}


@transaction.atomic
def stage_template_add(
    *,
    protocol: ProtocolTemplate,
    key: str,
    name: str,
    kind: str,
    expected_duration: timedelta,
    window_early: timedelta,
    window_late: timedelta,
    reminder_lead: timedelta | None = None,
    depends_on: Sequence[str] = (),
    description: str = "",
    source: str = "",
    order: int | None = None,
    materials: Sequence[dict] = (),
    equipment: Sequence[dict] = (),
    actor: Actor | None,
) -> StageTemplate:
    """Add a stage to a draft. ``depends_on`` names stages already in the protocol; ``order``
    defaults to after the last stage; ``materials`` (its bill of materials) and ``equipment``
    are definition lines."""
    protocol = lock_draft(protocol, actor)
    values: dict[str, Any] = {
        "key": key,
        "name": name,
        "kind": kind,
        "expected_duration": expected_duration,
        "window_early": window_early,
        "window_late": window_late,
        "reminder_lead": reminder_lead,
        "description": description,
        "source": source,
        "materials": list(materials),
        "equipment": list(equipment),
    }
    if order is not None:
        values["order"] = order
    problems: dict[str, list[str]] = {}
    _canonical_lines(values, problems)
    problems.update(defn.stage_problems(values))
    known = _stage_keys(protocol)
    if key in known:
        problems.setdefault("key", []).append(f"stage '{key}' already exists in this protocol")
    _check_depends_on(problems, depends_on, stage_key=key, known=known, edges=_edges(protocol))
    if order is not None and "order" not in problems:
        taken = StageTemplate.objects.filter(protocol=protocol, order=order).first()
        if taken is not None:
            problems.setdefault("order", []).append(f"order {order} is taken by '{taken.key}'")
    raise_if(problems, "the stage has invalid fields")
    if order is None:
        highest = StageTemplate.objects.filter(protocol=protocol).aggregate(o=Max("order"))["o"]
        values["order"] = (highest or 0) + 1
    stage = StageTemplate.objects.create(protocol=protocol, **values)
    _set_depends_on(stage, depends_on, known)
    audit_record(
        actor=actor,
        action="stage_template.added",
        obj=stage,
        lab_id=protocol.lab_id,
        after=_stage_audit(stage, depends_on),
    )
    return stage


@transaction.atomic
def stage_template_update(
    *, stage: StageTemplate, actor: Actor | None, **changes: Any
) -> StageTemplate:
    """Change fields of a draft's stage (any of ``STAGE_FIELDS`` and ``depends_on``)."""
    protocol = lock_draft(stage.protocol, actor)
    stage = StageTemplate.objects.get(pk=stage.pk)
    unknown = [f for f in changes if f not in (*STAGE_FIELDS, *LINE_FIELDS, "depends_on")]
    problems: dict[str, list[str]] = {f: ["cannot be changed"] for f in unknown}
    fields = {f: v for f, v in changes.items() if f in (*STAGE_FIELDS, *LINE_FIELDS)}
    _canonical_lines(fields, problems)
    problems.update(defn.stage_problems(fields))
    known = _stage_keys(protocol)
    edges = _edges(protocol)
    new_key = fields.get("key", stage.key)
    if new_key != stage.key and new_key in known:
        problems.setdefault("key", []).append(f"stage '{new_key}' already exists in this protocol")
    if "order" in fields and fields["order"] != stage.order and "order" not in problems:
        taken = StageTemplate.objects.filter(protocol=protocol, order=fields["order"]).first()
        if taken is not None:
            problems.setdefault("order", []).append(
                f"order {fields['order']} is taken by '{taken.key}'"
            )
    old_depends = sorted(edges.get(stage.key, []))
    if "depends_on" in changes:
        others = {k: pk for k, pk in known.items() if k != stage.key}
        graph = {k: v for k, v in edges.items() if k != stage.key}
        _check_depends_on(
            problems, changes["depends_on"], stage_key=stage.key, known=others, edges=graph
        )
    raise_if(problems, "the stage has invalid fields")
    before = _stage_audit(stage, old_depends)
    changed = [f for f, v in fields.items() if getattr(stage, f) != v]
    for field in changed:
        setattr(stage, field, fields[field])
    if changed:
        stage.save(update_fields=changed)
    new_depends = sorted(set(changes.get("depends_on", old_depends)))
    if new_depends != old_depends:
        _set_depends_on(stage, new_depends, known)
    after = _stage_audit(stage, new_depends)
    if after != before:
        audit_record(
            actor=actor,
            action="stage_template.updated",
            obj=stage,
            lab_id=protocol.lab_id,
            before={k: v for k, v in before.items() if after.get(k) != v},
            after={k: v for k, v in after.items() if before.get(k) != v},
        )
    return stage


@transaction.atomic
def stage_template_remove(*, stage: StageTemplate, actor: Actor | None) -> None:
    """Remove a draft's stage with its tasks and checkpoints. Refused while others depend on it."""
    protocol = lock_draft(stage.protocol, actor)
    stage = StageTemplate.objects.get(pk=stage.pk)
    dependants = sorted(stage.dependants.values_list("key", flat=True))
    if dependants:
        raise ValidationFailed(
            f"stage '{stage.key}' is needed by {', '.join(repr(d) for d in dependants)}; "
            "remove those dependencies first",
            fields={"depends_on": [f"needed by '{d}'" for d in dependants]},
        )
    before = {
        **_stage_audit(stage, list(stage.depends_on.values_list("key", flat=True))),
        "tasks": sorted(stage.tasks.values_list("key", flat=True)),
        "checkpoints": sorted(stage.checkpoints.values_list("key", flat=True)),
    }
    audit_record(
        actor=actor,
        action="stage_template.removed",
        obj=stage,
        lab_id=protocol.lab_id,
        before=before,
    )
    delete_stages(StageTemplate.objects.filter(pk=stage.pk))


@transaction.atomic
def stage_templates_reorder(
    *, protocol: ProtocolTemplate, keys: Sequence[str], actor: Actor | None
) -> list[StageTemplate]:
    """Renumber a draft's stages 1..n in the order of ``keys`` (every stage key, once)."""
    protocol = lock_draft(protocol, actor)
    stages = {s.key: s for s in StageTemplate.objects.filter(protocol=protocol)}
    if sorted(keys) != sorted(stages):
        raise ValidationFailed(
            "give every stage key of the protocol exactly once",
            fields={"keys": [f"expected {sorted(stages)}"]},
        )
    before = {s.key: s.order for s in stages.values()}
    offset = max(before.values(), default=0) + 1
    ordered = [stages[k] for k in keys]
    # Two passes: the unique (protocol, order) constraint holds after each statement.
    for position, stage in enumerate(ordered):
        stage.order = offset + position
    StageTemplate.objects.bulk_update(ordered, ["order"])
    for position, stage in enumerate(ordered, start=1):
        stage.order = position
    StageTemplate.objects.bulk_update(ordered, ["order"])
    audit_record(
        actor=actor,
        action="stage_template.reordered",
        obj=protocol,
        lab_id=protocol.lab_id,
        before={"order": before},
        after={"order": {s.key: s.order for s in ordered}},
    )
    return ordered
