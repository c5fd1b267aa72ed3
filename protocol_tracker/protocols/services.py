"""Writes for protocol templates: design a draft, publish it, version, retire, import.

Designing and publishing need the ``lab_admin`` role in the protocol's lab (``actor=None`` is the
system: seeding and migrations). A published or retired version is frozen: every edit here
raises :class:`InvalidTransition`; the admin is read-only for it; and a database trigger refuses
raw writes too (migration 0003; on SQLite, updates and inserts).

Publishing a new version leaves the earlier published version published: runs pinned to it go on
as they were, and the lab decides when to stop starting new runs on it (``protocol_retire``, or
``protocol_publish(..., retire_previous=True)``). New runs should use
``selectors.protocol_latest_published``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from labs.models import CAN_ADMINISTER, Lab
from labs.selectors import has_role
from protocol_tracker.audit.services import Change, audit_record, audit_record_many
from protocol_tracker.core.errors import InvalidTransition, NotPermitted, ValidationFailed
from protocol_tracker.protocols import definition as defn
from protocol_tracker.protocols.models import (
    CheckpointTemplate,
    ProtocolStatus,
    ProtocolTemplate,
    RecordedBy,
    StageTemplate,
    TaskTemplate,
)
from protocol_tracker.protocols.selectors import protocol_export

__all__ = [
    "checkpoint_template_add",
    "checkpoint_template_remove",
    "checkpoint_template_update",
    "protocol_create_draft",
    "protocol_draft_discard",
    "protocol_import",
    "protocol_import_defaults",
    "protocol_new_version",
    "protocol_publish",
    "protocol_retire",
    "protocol_update",
    "protocol_validate",
    "stage_template_add",
    "stage_template_remove",
    "stage_template_update",
    "stage_templates_reorder",
    "task_template_add",
    "task_template_remove",
    "task_template_update",
]

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
TASK_FIELDS = ("key", "name", "every", "on_days", "description")
CHECKPOINT_FIELDS = (
    "key",
    "assay",
    "name",
    "metric",
    "unit",
    "value_type",
    "spec",
    "blocking",
    "recorded_by",
    "analyte",
    "pending_allowed",
    "retest_every_passages",
    "source",
    "notes",
    "order",
)


# --- guards -------------------------------------------------------------------------------


def _require_designer(actor, lab_id: int) -> None:
    """Protocol design needs lab_admin in the protocol's lab; None is the system."""
    if actor is None:
        return
    if not has_role(actor, lab_id, CAN_ADMINISTER):
        raise NotPermitted("only a lab admin of this lab may design, publish or retire protocols")


def _frozen_error(protocol: ProtocolTemplate) -> InvalidTransition:
    return InvalidTransition(
        f"protocol '{protocol.name} v{protocol.version}' is {protocol.status} and frozen; "
        "create a new version to change it",
        code="protocol_frozen",
    )


def _lock(protocol: ProtocolTemplate) -> ProtocolTemplate:
    return (
        ProtocolTemplate.objects.select_for_update(of=("self",))
        .select_related("lab")
        .get(pk=protocol.pk)
    )


def _lock_draft(protocol: ProtocolTemplate, actor) -> ProtocolTemplate:
    """Check the role, lock the protocol row and insist it is still a draft."""
    _require_designer(actor, protocol.lab_id)
    locked = _lock(protocol)
    if locked.is_frozen:
        raise _frozen_error(locked)
    return locked


def _raise_if(problems: dict[str, list[str]], message: str) -> None:
    if problems:
        raise ValidationFailed(message, fields=problems)


def _user(actor):
    return actor if getattr(actor, "is_authenticated", False) else None


def _snapshot(obj, fields: Sequence[str]) -> dict[str, Any]:
    return {field: getattr(obj, field) for field in fields}


def _lock_lab(lab: Lab) -> None:
    # Version numbers are "highest + 1": serialise their allocation per lab.
    Lab.objects.select_for_update().filter(pk=lab.pk).values_list("pk", flat=True).get()


def _latest_frozen(lab: Lab, code: str) -> ProtocolTemplate | None:
    # previous_version links frozen versions only, so a draft can always be discarded.
    return (
        ProtocolTemplate.objects.filter(lab=lab, code=code)
        .exclude(status=ProtocolStatus.DRAFT)
        .order_by("-version")
        .first()
    )


def _next_version(lab: Lab, code: str) -> int:
    highest = ProtocolTemplate.objects.filter(lab=lab, code=code).aggregate(v=Max("version"))["v"]
    return (highest or 0) + 1


# --- protocols ----------------------------------------------------------------------------


@transaction.atomic
def protocol_create_draft(
    *, lab: Lab, code: str, name: str, description: str = "", actor
) -> ProtocolTemplate:
    """A new empty draft; its version is one more than the highest of ``code`` in the lab."""
    _require_designer(actor, lab.pk)
    problems: dict[str, list[str]] = {}
    defn.check_slug(problems, "code", code)
    defn.check_text(problems, "name", name, max_length=200, required=True)
    defn.check_text(problems, "description", description)
    _raise_if(problems, "the protocol has invalid fields")
    _lock_lab(lab)
    version = _next_version(lab, code)
    previous = _latest_frozen(lab, code)
    protocol = ProtocolTemplate.objects.create(
        lab=lab, code=code, name=name, description=description, version=version,
        previous_version=previous, created_by=_user(actor),
    )  # fmt: skip
    audit_record(
        actor=actor,
        action="protocol.draft_created",
        obj=protocol,
        lab_id=lab.pk,
        after={"code": code, "name": name, "version": version},
    )
    return protocol


@transaction.atomic
def protocol_update(*, protocol: ProtocolTemplate, actor, **changes: Any) -> ProtocolTemplate:
    """Change a draft's ``name`` or ``description``."""
    protocol = _lock_draft(protocol, actor)
    problems: dict[str, list[str]] = {}
    for field, value in changes.items():
        if field == "name":
            defn.check_text(problems, field, value, max_length=200, required=True)
        elif field == "description":
            defn.check_text(problems, field, value)
        else:
            problems[field] = ["cannot be changed here"]
    _raise_if(problems, "the protocol has invalid fields")
    before = _snapshot(protocol, list(changes))
    if before == changes:
        return protocol
    for field, value in changes.items():
        setattr(protocol, field, value)
    protocol.save(update_fields=list(changes))
    audit_record(
        actor=actor,
        action="protocol.updated",
        obj=protocol,
        lab_id=protocol.lab_id,
        before=before,
        after=dict(changes),
    )
    return protocol


def protocol_validate(*, protocol: ProtocolTemplate) -> list[str]:
    """Every reason ``protocol`` may not be published, as sentences; [] when it may.

    Rules: at least one stage; unique keys; dependencies on known stages; no dependency cycle
    (the cycle is named); at least one root (several roots are allowed, see
    ``definition.definition_problems``); positive durations and non-negative windows and lead
    times; tasks repeat every ≥ 1 h or on days ≥ 0; known units; valid specs (min ≤ max, ...);
    a spec on every blocking checkpoint.
    """
    return defn.definition_problems(_canonical(protocol))


def _canonical(protocol: ProtocolTemplate) -> dict[str, Any]:
    return defn.canonical_definition(protocol_export(protocol=protocol))


def _publish_locked(
    protocol: ProtocolTemplate, actor, *, canonical: dict[str, Any], retire_previous: bool
) -> list[Change]:
    problems = defn.definition_problems(canonical)
    if problems:
        raise ValidationFailed(
            f"protocol '{protocol}' cannot be published: " + "; ".join(problems),
            code="protocol_invalid",
            fields={"protocol": problems},
        )
    protocol.status = ProtocolStatus.PUBLISHED
    protocol.published_at = timezone.now()
    protocol.published_by = _user(actor)
    protocol.definition_hash = defn.definition_hash(canonical)
    protocol.save(update_fields=["status", "published_at", "published_by", "definition_hash"])
    changes = [
        Change(
            action="protocol.published",
            obj=protocol,
            lab_id=protocol.lab_id,
            before={"status": ProtocolStatus.DRAFT},
            after={"status": ProtocolStatus.PUBLISHED, "definition_hash": protocol.definition_hash},
        )
    ]
    if retire_previous:
        earlier = list(
            ProtocolTemplate.objects.select_for_update()
            .filter(lab_id=protocol.lab_id, code=protocol.code, status=ProtocolStatus.PUBLISHED)
            .exclude(pk=protocol.pk)
            .order_by("pk")
        )
        for old in earlier:
            old.status = ProtocolStatus.RETIRED
            old.save(update_fields=["status"])
            changes.append(
                Change(
                    action="protocol.retired",
                    obj=old,
                    lab_id=old.lab_id,
                    before={"status": ProtocolStatus.PUBLISHED},
                    after={"status": ProtocolStatus.RETIRED},
                    reason=f"superseded by v{protocol.version}",
                )
            )
    return changes


@transaction.atomic
def protocol_publish(
    *, protocol: ProtocolTemplate, actor, retire_previous: bool = False
) -> ProtocolTemplate:
    """Freeze a draft. Refuses with :class:`ValidationFailed` listing every problem.

    Earlier published versions stay published unless ``retire_previous``: runs pinned to them
    are unaffected either way.
    """
    _require_designer(actor, protocol.lab_id)
    protocol = _lock(protocol)
    if protocol.is_frozen:
        raise InvalidTransition(
            f"protocol '{protocol}' is {protocol.status}; only a draft can be published"
        )
    changes = _publish_locked(
        protocol, actor, canonical=_canonical(protocol), retire_previous=retire_previous
    )
    audit_record_many(actor=actor, changes=changes)
    return protocol


@transaction.atomic
def protocol_retire(*, protocol: ProtocolTemplate, actor, reason: str = "") -> ProtocolTemplate:
    """Stop offering a published version for new runs; runs already pinned to it go on."""
    _require_designer(actor, protocol.lab_id)
    protocol = _lock(protocol)
    if protocol.status != ProtocolStatus.PUBLISHED:
        raise InvalidTransition(
            f"protocol '{protocol}' is {protocol.status}; only a published version can be retired"
        )
    protocol.status = ProtocolStatus.RETIRED
    protocol.save(update_fields=["status"])
    audit_record(
        actor=actor,
        action="protocol.retired",
        obj=protocol,
        lab_id=protocol.lab_id,
        before={"status": ProtocolStatus.PUBLISHED},
        after={"status": ProtocolStatus.RETIRED},
        reason=reason,
    )
    return protocol


@transaction.atomic
def protocol_draft_discard(*, protocol: ProtocolTemplate, actor) -> None:
    """Delete a draft and its stages (a draft is not a GMP record; the deletion is audited)."""
    protocol = _lock_draft(protocol, actor)
    summary = {"code": protocol.code, "version": protocol.version, "name": protocol.name}
    audit_record(
        actor=actor,
        action="protocol.draft_discarded",
        obj=protocol,
        lab_id=protocol.lab_id,
        before=summary,
    )
    _delete_stages(StageTemplate.objects.filter(protocol=protocol))
    protocol.delete()


def _materialize(protocol: ProtocolTemplate, canonical: dict[str, Any]) -> dict[str, int]:
    """Create the stages, edges, tasks and checkpoints of a canonical definition (bulk)."""
    stages = StageTemplate.objects.bulk_create([
        StageTemplate(
            protocol=protocol, order=position, key=s["key"], name=s["name"], kind=s["kind"],
            expected_duration=defn.hours_to_timedelta(s["expected_duration_hours"]),
            window_early=defn.hours_to_timedelta(s["window_early_hours"]),
            window_late=defn.hours_to_timedelta(s["window_late_hours"]),
            reminder_lead=defn.hours_to_timedelta(s["reminder_lead_hours"]),
            description=s["description"], source=s["source"],
        )
        for position, s in enumerate(canonical["stages"], start=1)
    ])  # fmt: skip
    by_key = {s.key: s for s in stages}
    through = StageTemplate.depends_on.through
    edges = through.objects.bulk_create([
        through(from_stagetemplate_id=by_key[s["key"]].pk, to_stagetemplate_id=by_key[d].pk)
        for s in canonical["stages"] for d in s["depends_on"]
    ])  # fmt: skip
    tasks = TaskTemplate.objects.bulk_create([
        TaskTemplate(stage=by_key[s["key"]], key=t["key"], name=t["name"],
                     every=defn.hours_to_timedelta(t["every_hours"]), on_days=t["on_days"],
                     description=t["description"])
        for s in canonical["stages"] for t in s["tasks"]
    ])  # fmt: skip
    checkpoints = CheckpointTemplate.objects.bulk_create([
        CheckpointTemplate(protocol=protocol, stage=by_key[s["key"]], order=position,
                           **{k: c[k] for k in defn.CHECKPOINT_KEYS})
        for s in canonical["stages"] for position, c in enumerate(s["checkpoints"], start=1)
    ])  # fmt: skip
    return {
        "stages": len(stages),
        "dependencies": len(edges),
        "tasks": len(tasks),
        "checkpoints": len(checkpoints),
    }


@transaction.atomic
def protocol_new_version(*, protocol: ProtocolTemplate, actor) -> ProtocolTemplate:
    """A new draft copied from a published or retired version (stages, edges, tasks, specs).

    Its version is one more than the highest of the code in the lab; ``previous_version``
    points at ``protocol``. A constant number of queries whatever the protocol's size.
    """
    _require_designer(actor, protocol.lab_id)
    source = _lock(protocol)
    if not source.is_frozen:
        raise InvalidTransition(f"protocol '{source}' is a draft; edit it instead of copying it")
    canonical = _canonical(source)
    _lock_lab(source.lab)
    draft = ProtocolTemplate.objects.create(
        lab=source.lab, code=source.code, name=source.name, description=source.description,
        version=_next_version(source.lab, source.code), previous_version=source,
        created_by=_user(actor),
    )  # fmt: skip
    counts = _materialize(draft, canonical)
    audit_record(
        actor=actor,
        action="protocol.version_created",
        obj=draft,
        lab_id=draft.lab_id,
        after={
            "code": draft.code,
            "version": draft.version,
            "copied_from": source.pk,
            "copied_from_version": source.version,
            **counts,
        },
    )
    return draft


def _draft_hash(protocol: ProtocolTemplate) -> str:
    return defn.definition_hash(_canonical(protocol))


@transaction.atomic
def protocol_import(
    *, lab: Lab, definition: dict, actor=None, publish: bool = True
) -> ProtocolTemplate:
    """Load one definition (schema of ``defaults.py``, hours) into ``lab``; idempotent.

    If a version of the code in the lab already has exactly this definition (same canonical
    hash) the newest such version is returned (and published, if it is a draft and ``publish``).
    Otherwise a new version is created with the next number. The definition must pass every
    publishing rule even when ``publish`` is False; a bad one writes nothing.
    """
    _require_designer(actor, lab.pk)
    try:
        canonical = defn.canonical_definition(definition)
    except defn.DefinitionError as exc:
        raise ValidationFailed("the protocol definition is malformed", fields=exc.fields) from None
    problems: dict[str, list[str]] = {}
    defn.check_slug(problems, "code", canonical["code"])
    defn.check_text(problems, "name", canonical["name"], max_length=200, required=True)
    _raise_if(problems, "the protocol definition is malformed")
    rule_problems = defn.definition_problems(canonical)
    if rule_problems:
        raise ValidationFailed(
            f"protocol '{canonical['code']}' cannot be imported: " + "; ".join(rule_problems),
            code="protocol_invalid",
            fields={"protocol": rule_problems},
        )
    digest = defn.definition_hash(canonical)
    _lock_lab(lab)
    versions = list(
        ProtocolTemplate.objects.filter(lab=lab, code=canonical["code"])
        .select_related("lab")
        .order_by("-version")
    )
    for existing in versions:
        same = (
            existing.definition_hash == digest
            if existing.is_frozen
            else _draft_hash(existing) == digest
        )
        if same:
            if publish and not existing.is_frozen:
                existing = _lock(existing)
                audit_record_many(
                    actor=actor,
                    changes=_publish_locked(
                        existing, actor, canonical=canonical, retire_previous=False
                    ),
                )
            return existing

    protocol = ProtocolTemplate.objects.create(
        lab=lab, code=canonical["code"], name=canonical["name"],
        description=canonical["description"], version=(versions[0].version + 1 if versions else 1),
        previous_version=next((v for v in versions if v.is_frozen), None),
        created_by=_user(actor),
    )  # fmt: skip
    counts = _materialize(protocol, canonical)
    changes = [
        Change(
            action="protocol.imported",
            obj=protocol,
            lab_id=lab.pk,
            after={
                "code": protocol.code,
                "version": protocol.version,
                "definition_hash": digest,
                **counts,
            },
        )
    ]
    if publish:
        changes += _publish_locked(protocol, actor, canonical=canonical, retire_previous=False)
    audit_record_many(actor=actor, changes=changes)
    return protocol


@transaction.atomic
def protocol_import_defaults(*, lab: Lab, actor=None) -> list[ProtocolTemplate]:
    """Both default protocols of ``defaults.py``, published in ``lab`` (idempotent)."""
    from protocol_tracker.protocols.defaults import PROTOCOLS

    return [protocol_import(lab=lab, definition=d, actor=actor, publish=True) for d in PROTOCOLS]


# --- stages -------------------------------------------------------------------------------


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
    return {**_snapshot(stage, STAGE_FIELDS), "depends_on": sorted(depends_on)}


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
    actor,
) -> StageTemplate:
    """Add a stage to a draft. ``depends_on`` names stages already in the protocol; ``order``
    defaults to after the last stage."""
    protocol = _lock_draft(protocol, actor)
    values = {
        "key": key,
        "name": name,
        "kind": kind,
        "expected_duration": expected_duration,
        "window_early": window_early,
        "window_late": window_late,
        "reminder_lead": reminder_lead,
        "description": description,
        "source": source,
    }
    if order is not None:
        values["order"] = order
    problems = defn.stage_problems(values)
    known = _stage_keys(protocol)
    if key in known:
        problems.setdefault("key", []).append(f"stage '{key}' already exists in this protocol")
    _check_depends_on(problems, depends_on, stage_key=key, known=known, edges=_edges(protocol))
    if order is not None and "order" not in problems:
        taken = StageTemplate.objects.filter(protocol=protocol, order=order).first()
        if taken is not None:
            problems.setdefault("order", []).append(f"order {order} is taken by '{taken.key}'")
    _raise_if(problems, "the stage has invalid fields")
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
def stage_template_update(*, stage: StageTemplate, actor, **changes: Any) -> StageTemplate:
    """Change fields of a draft's stage (any of ``STAGE_FIELDS`` and ``depends_on``)."""
    protocol = _lock_draft(stage.protocol, actor)
    stage = StageTemplate.objects.get(pk=stage.pk)
    unknown = [f for f in changes if f not in (*STAGE_FIELDS, "depends_on")]
    problems: dict[str, list[str]] = {f: ["cannot be changed"] for f in unknown}
    fields = {f: v for f, v in changes.items() if f in STAGE_FIELDS}
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
    _raise_if(problems, "the stage has invalid fields")
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
            before={k: v for k, v in before.items() if after[k] != v},
            after={k: v for k, v in after.items() if before[k] != v},
        )
    return stage


def _delete_stages(stages) -> None:
    through = StageTemplate.depends_on.through
    stage_ids = list(stages.values_list("pk", flat=True))
    through.objects.filter(from_stagetemplate_id__in=stage_ids).delete()
    through.objects.filter(to_stagetemplate_id__in=stage_ids).delete()
    TaskTemplate.objects.filter(stage_id__in=stage_ids).delete()
    CheckpointTemplate.objects.filter(stage_id__in=stage_ids).delete()
    StageTemplate.objects.filter(pk__in=stage_ids).delete()


@transaction.atomic
def stage_template_remove(*, stage: StageTemplate, actor) -> None:
    """Remove a draft's stage with its tasks and checkpoints. Refused while others depend on it."""
    protocol = _lock_draft(stage.protocol, actor)
    stage = StageTemplate.objects.get(pk=stage.pk)
    dependants = sorted(stage.dependants.values_list("key", flat=True))
    if dependants:
        raise ValidationFailed(
            f"stage '{stage.key}' is needed by {', '.join(repr(d) for d in dependants)}; "
            "remove those dependencies first",
            fields={"depends_on": [f"needed by '{d}'" for d in dependants]},
        )
    before = {
        **_stage_audit(stage, stage.depends_on.values_list("key", flat=True)),
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
    _delete_stages(StageTemplate.objects.filter(pk=stage.pk))


@transaction.atomic
def stage_templates_reorder(
    *, protocol: ProtocolTemplate, keys: Sequence[str], actor
) -> list[StageTemplate]:
    """Renumber a draft's stages 1..n in the order of ``keys`` (every stage key, once)."""
    protocol = _lock_draft(protocol, actor)
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


# --- tasks --------------------------------------------------------------------------------


@transaction.atomic
def task_template_add(
    *,
    stage: StageTemplate,
    key: str,
    name: str,
    every: timedelta | None = None,
    on_days: list[int] | None = None,
    description: str = "",
    actor,
) -> TaskTemplate:
    """Add recurring bench work to a draft's stage: ``every`` (≥ 1 h) or ``on_days`` (≥ 0)."""
    protocol = _lock_draft(stage.protocol, actor)
    values = {
        "key": key,
        "name": name,
        "every": every,
        "on_days": on_days,
        "description": description,
    }
    problems = defn.task_problems(values)
    if TaskTemplate.objects.filter(stage=stage, key=key).exists():
        problems.setdefault("key", []).append(f"task '{key}' already exists in this stage")
    _raise_if(problems, "the task has invalid fields")
    if on_days is not None:
        values["on_days"] = sorted(on_days)
    task = TaskTemplate.objects.create(stage=stage, **values)
    audit_record(
        actor=actor,
        action="task_template.added",
        obj=task,
        lab_id=protocol.lab_id,
        after={"stage": stage.key, **_snapshot(task, TASK_FIELDS)},
    )
    return task


@transaction.atomic
def task_template_update(*, task: TaskTemplate, actor, **changes: Any) -> TaskTemplate:
    """Change a draft's task; setting ``every`` or ``on_days`` to None switches the schedule."""
    protocol = _lock_draft(task.stage.protocol, actor)
    task = TaskTemplate.objects.select_related("stage").get(pk=task.pk)
    problems: dict[str, list[str]] = {
        f: ["cannot be changed"] for f in changes if f not in TASK_FIELDS
    }
    merged = {**_snapshot(task, TASK_FIELDS), **changes}
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
    _raise_if(problems, "the task has invalid fields")
    if merged.get("on_days") is not None:
        merged["on_days"] = sorted(merged["on_days"])
    before = _snapshot(task, TASK_FIELDS)
    changed = [f for f in TASK_FIELDS if before[f] != merged[f]]
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
def task_template_remove(*, task: TaskTemplate, actor) -> None:
    protocol = _lock_draft(task.stage.protocol, actor)
    task = TaskTemplate.objects.select_related("stage").get(pk=task.pk)
    audit_record(
        actor=actor,
        action="task_template.removed",
        obj=task,
        lab_id=protocol.lab_id,
        before={"stage": task.stage.key, **_snapshot(task, TASK_FIELDS)},
    )
    TaskTemplate.objects.filter(pk=task.pk).delete()


# --- checkpoints --------------------------------------------------------------------------


@transaction.atomic
def checkpoint_template_add(
    *,
    stage: StageTemplate,
    key: str,
    assay: str,
    name: str,
    metric: str,
    unit: str,
    value_type: str,
    spec: dict,
    blocking: bool = True,
    recorded_by: str = RecordedBy.ANY,
    analyte: str = "",
    pending_allowed: bool = False,
    retest_every_passages: int | None = None,
    source: str = "",
    notes: str = "",
    actor,
) -> CheckpointTemplate:
    """Add a QC checkpoint to a draft's stage; unit and spec are checked against the value
    type. A blocking checkpoint may be saved without a spec, but cannot be published so."""
    protocol = _lock_draft(stage.protocol, actor)
    values = {
        "key": key,
        "assay": assay,
        "name": name,
        "metric": metric,
        "unit": unit,
        "value_type": value_type,
        "spec": spec,
        "blocking": blocking,
        "recorded_by": recorded_by,
        "analyte": analyte,
        "pending_allowed": pending_allowed,
        "retest_every_passages": retest_every_passages,
        "source": source,
        "notes": notes,
    }
    problems = defn.checkpoint_problems(values)
    if CheckpointTemplate.objects.filter(protocol=protocol, key=key).exists():
        problems.setdefault("key", []).append(f"checkpoint '{key}' already exists in this protocol")
    _raise_if(problems, "the checkpoint has invalid fields")
    highest = CheckpointTemplate.objects.filter(stage=stage).aggregate(o=Max("order"))["o"]
    checkpoint = CheckpointTemplate.objects.create(
        protocol=protocol, stage=stage, order=(highest or 0) + 1, **values
    )
    audit_record(
        actor=actor,
        action="checkpoint_template.added",
        obj=checkpoint,
        lab_id=protocol.lab_id,
        after={"stage": stage.key, **_snapshot(checkpoint, CHECKPOINT_FIELDS)},
    )
    return checkpoint


@transaction.atomic
def checkpoint_template_update(
    *, checkpoint: CheckpointTemplate, actor, **changes: Any
) -> CheckpointTemplate:
    """Change a draft's checkpoint; unit, value type and spec are re-checked together."""
    protocol = _lock_draft(checkpoint.protocol, actor)
    checkpoint = CheckpointTemplate.objects.get(pk=checkpoint.pk)
    problems: dict[str, list[str]] = {
        f: ["cannot be changed"] for f in changes if f not in CHECKPOINT_FIELDS
    }
    before = _snapshot(checkpoint, CHECKPOINT_FIELDS)
    merged = {**before, **{k: v for k, v in changes.items() if k in CHECKPOINT_FIELDS}}
    checked = {
        k: v for k, v in merged.items() if k in changes or k in ("unit", "value_type", "spec")
    }
    problems.update(defn.checkpoint_problems(checked))
    if "order" in changes and not (isinstance(changes["order"], int) and changes["order"] >= 0):
        problems.setdefault("order", []).append("must be a whole number ≥ 0")
    if (
        "key" in changes
        and changes["key"] != checkpoint.key
        and CheckpointTemplate.objects.filter(protocol=protocol, key=changes["key"]).exists()
    ):
        problems.setdefault("key", []).append(
            f"checkpoint '{changes['key']}' already exists in this protocol"
        )
    _raise_if(problems, "the checkpoint has invalid fields")
    changed = [f for f in CHECKPOINT_FIELDS if before[f] != merged[f]]
    if changed:
        for field in changed:
            setattr(checkpoint, field, merged[field])
        checkpoint.save(update_fields=changed)
        audit_record(
            actor=actor,
            action="checkpoint_template.updated",
            obj=checkpoint,
            lab_id=protocol.lab_id,
            before={f: before[f] for f in changed},
            after={f: merged[f] for f in changed},
        )
    return checkpoint


@transaction.atomic
def checkpoint_template_remove(*, checkpoint: CheckpointTemplate, actor) -> None:
    protocol = _lock_draft(checkpoint.protocol, actor)
    checkpoint = CheckpointTemplate.objects.select_related("stage").get(pk=checkpoint.pk)
    audit_record(
        actor=actor,
        action="checkpoint_template.removed",
        obj=checkpoint,
        lab_id=protocol.lab_id,
        before={"stage": checkpoint.stage.key, **_snapshot(checkpoint, CHECKPOINT_FIELDS)},
    )
    CheckpointTemplate.objects.filter(pk=checkpoint.pk).delete()
