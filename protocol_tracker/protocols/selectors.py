"""Reads of protocol templates: lab-scoped, prefetched, and the version-to-version diff."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db.models import Prefetch, QuerySet

from labs.selectors import visible_to
from protocol_tracker.core.actors import Person
from protocol_tracker.protocols.definition import (
    CHECKPOINT_KEYS,
    EQUIPMENT_KEY,
    I18N_KEY,
    MATERIALS_KEY,
    OPTIONAL_CHECKPOINT_KEYS,
    TASK_KEYS,
    canonical_definition,
    definition_hash,
    timedelta_to_hours,
    topological_order,
)
from protocol_tracker.protocols.definition.conventions import (
    convention_content,
    convention_hash,
    conventions_of,
)
from protocol_tracker.protocols.models import (
    CheckpointTemplate,
    ConventionConfirmation,
    DraftAuthor,
    ProtocolApproval,
    ProtocolStatus,
    ProtocolTemplate,
    StageTemplate,
    TaskTemplate,
    ValueType,
)
from protocol_tracker.signatures.selectors import signature_id_subquery

if TYPE_CHECKING:
    from labs.models import Lab
    from protocol_tracker.core.actors import Actor

__all__ = [
    "NUMERIC_VALUE_TYPES",
    "ConventionRow",
    "checkpoint_detail",
    "checkpoint_on_stage",
    "checkpoints_of_protocol",
    "checkpoints_pending_allowed",
    "protocol_approvals",
    "protocol_authors",
    "protocol_change_diff",
    "protocol_choices_for_lab",
    "protocol_conventions",
    "protocol_detail",
    "protocol_diff",
    "protocol_export",
    "protocol_latest_published",
    "protocol_review_hash",
    "protocol_versions",
    "protocols_for_user",
    "protocols_startable",
    "protocols_visible_to",
    "stage_order",
    "trend_checkpoints",
]

NUMERIC_VALUE_TYPES = (ValueType.NUMBER, ValueType.PERCENT)


def protocols_for_user(
    user: Person, *, lab: Lab | int | None = None, status: str | None = None
) -> QuerySet[ProtocolTemplate]:
    """Protocol versions of the user's labs (or of one of them), newest version of each code
    first."""
    qs = ProtocolTemplate.objects.for_user(user).select_related("lab", "created_by", "published_by")
    if lab is not None:
        qs = qs.filter(lab=lab)
    if status is not None:
        qs = qs.filter(status=status)
    return qs.order_by("lab__name", "code", "-version")


def protocols_visible_to(viewer: Actor) -> QuerySet[ProtocolTemplate]:
    """Protocol versions the caller (a person or an instrument) may read: the API's list."""
    return visible_to(ProtocolTemplate.objects.all(), viewer)


def protocols_startable(*, lab: Lab | int) -> QuerySet[ProtocolTemplate]:
    """The published versions a new run in ``lab`` may use, by code, newest version first."""
    return (
        ProtocolTemplate.objects.for_lab(lab)
        .filter(status=ProtocolStatus.PUBLISHED)
        .order_by("code", "-version")
    )


def protocol_choices_for_lab(*, lab: Lab | int) -> list[tuple[str, str]]:
    """(code, name) of every protocol in ``lab``, by code: one pair per name a code had."""
    return list(
        ProtocolTemplate.objects.for_lab(lab)
        .order_by("code")
        .values_list("code", "name")
        .distinct()
    )


def _stage_prefetch() -> Prefetch:
    return Prefetch(
        "stages",
        queryset=StageTemplate.objects.order_by("order").prefetch_related(  # type: ignore[type-var]
            Prefetch("depends_on", queryset=StageTemplate.objects.order_by("order")),
            Prefetch("tasks", queryset=TaskTemplate.objects.order_by("key")),
            Prefetch("checkpoints", queryset=CheckpointTemplate.objects.order_by("order", "key")),
        ),
    )


def protocol_detail(*, protocol_id: int, viewer: Actor) -> ProtocolTemplate:
    """One protocol the viewer (a person, or an instrument) may see, with stages → depends_on /
    tasks / checkpoints prefetched.

    Five queries whatever the size. Another lab's protocol raises ``DoesNotExist`` like a
    missing one.
    """
    return (
        visible_to(ProtocolTemplate.objects.all(), viewer)
        .select_related("lab", "previous_version", "created_by", "published_by")
        .prefetch_related(_stage_prefetch())
        .get(pk=protocol_id)
    )


def protocol_latest_published(*, lab, code: str) -> ProtocolTemplate | None:
    """The highest published version of ``code`` in ``lab`` (what a new run should use)."""
    return (
        ProtocolTemplate.objects.for_lab(lab)
        .filter(code=code, status=ProtocolStatus.PUBLISHED)
        .order_by("-version")
        .first()
    )


def protocol_versions(*, protocol: ProtocolTemplate) -> QuerySet[ProtocolTemplate]:
    """Every version of the same code in the same lab, newest first (for the compare picker)."""
    return (
        ProtocolTemplate.objects.for_lab(protocol.lab_id)
        .filter(code=protocol.code)
        .select_related("published_by", "created_by")
        .order_by("-version")
    )


def checkpoints_of_protocol(*, protocol: ProtocolTemplate) -> QuerySet[CheckpointTemplate]:
    """Every checkpoint of the protocol version, in stage order."""
    return (
        CheckpointTemplate.objects.for_lab(protocol.lab_id)
        .filter(protocol=protocol)
        .order_by("stage__order", "order", "key")
    )


def checkpoints_pending_allowed(*, protocol: ProtocolTemplate) -> QuerySet[CheckpointTemplate]:
    """The checkpoints a conditional release may leave pending, in stage order."""
    return (
        CheckpointTemplate.objects.for_lab(protocol.lab_id)
        .filter(protocol=protocol, pending_allowed=True)
        .order_by("stage__order", "order")
    )


def checkpoint_on_stage(
    *, lab: Lab | int, stage_id: int, checkpoint_id: int
) -> CheckpointTemplate | None:
    """The checkpoint ``checkpoint_id`` if it belongs to stage template ``stage_id``."""
    return (
        CheckpointTemplate.objects.for_lab(lab).filter(pk=checkpoint_id, stage_id=stage_id).first()
    )


def checkpoint_detail(*, checkpoint_id: int, user: Person) -> CheckpointTemplate:
    """One checkpoint of the user's labs with its protocol (and lab) and stage. Another lab's
    checkpoint raises ``DoesNotExist`` like a missing one."""
    return (
        CheckpointTemplate.objects.for_user(user)
        .select_related("protocol__lab", "stage")
        .get(pk=checkpoint_id)
    )


def trend_checkpoints(*, lab: Lab | int) -> list[CheckpointTemplate]:
    """The numeric checkpoints of ``lab`` that have a trend: one per protocol code and
    checkpoint key (as its newest version defines it), by code, then in stage order. One
    query."""
    checkpoints = (
        CheckpointTemplate.objects.for_lab(lab)
        .filter(value_type__in=NUMERIC_VALUE_TYPES)
        .select_related("protocol", "stage")
        .order_by("protocol__code", "-protocol__version", "stage__order", "order")
    )
    latest: dict[tuple[str, str], CheckpointTemplate] = {}
    for checkpoint in checkpoints:
        latest.setdefault((checkpoint.protocol.code, checkpoint.key), checkpoint)
    return list(latest.values())


def stage_order(protocol: ProtocolTemplate) -> list[StageTemplate]:
    """Stages in topological order (upstream first; ties by ``order``).

    Uses the prefetched stages and edges of :func:`protocol_detail` when present, else two
    queries.
    """
    cache = getattr(protocol, "_prefetched_objects_cache", {})
    if "stages" in cache:
        stages = sorted(cache["stages"], key=lambda s: s.order)
        edges = {s.key: [d.key for d in s.depends_on.all()] for s in stages}
    else:
        stages = list(StageTemplate.objects.filter(protocol=protocol).order_by("order"))
        edges = _edges_by_key(protocol, stages)
    by_key = {s.key: s for s in stages}
    return [by_key[k] for k in topological_order([s.key for s in stages], edges)]


def _edges_by_key(protocol: ProtocolTemplate, stages: list[StageTemplate]) -> dict[str, list[str]]:
    key_of = {s.pk: s.key for s in stages}
    edges: dict[str, list[str]] = {s.key: [] for s in stages}
    through = StageTemplate.depends_on.through
    rows = through.objects.filter(from_stagetemplate__protocol=protocol).values_list(
        "from_stagetemplate_id", "to_stagetemplate_id"
    )
    for from_id, to_id in rows:
        edges[key_of[from_id]].append(key_of[to_id])
    return edges


def protocol_export(*, protocol: ProtocolTemplate) -> dict[str, Any]:
    """The protocol as a canonical definition (the schema of ``protocols.defaults``; hours).

    Importing the result into any lab recreates the same protocol; its hash is the version's
    ``definition_hash``. Four queries, or none after :func:`protocol_detail`.
    """
    cache = getattr(protocol, "_prefetched_objects_cache", {})
    if "stages" in cache:
        stages = sorted(cache["stages"], key=lambda s: s.order)
        edges = {s.key: [d.key for d in s.depends_on.all()] for s in stages}
        tasks = {s.pk: sorted(s.tasks.all(), key=lambda t: t.key) for s in stages}
        checkpoints = {
            s.pk: sorted(s.checkpoints.all(), key=lambda c: (c.order, c.key)) for s in stages
        }
    else:
        stages = list(StageTemplate.objects.filter(protocol=protocol).order_by("order"))
        edges = _edges_by_key(protocol, stages)
        tasks = {s.pk: [] for s in stages}
        for task in TaskTemplate.objects.filter(stage__protocol=protocol).order_by("key"):
            tasks[task.stage_id].append(task)
        checkpoints = {s.pk: [] for s in stages}
        for cp in CheckpointTemplate.objects.filter(protocol=protocol).order_by("order", "key"):
            checkpoints[cp.stage_id].append(cp)
    return {
        "code": protocol.code,
        "name": protocol.name,
        "description": protocol.description,
        "stages": [
            _with_i18n(
                s,
                {
                    "key": s.key,
                    "name": s.name,
                    "kind": s.kind,
                    "expected_duration_hours": timedelta_to_hours(s.expected_duration),
                    "window_early_hours": timedelta_to_hours(s.window_early),
                    "window_late_hours": timedelta_to_hours(s.window_late),
                    "reminder_lead_hours": timedelta_to_hours(s.reminder_lead),
                    "depends_on": sorted(edges[s.key]),
                    "description": s.description,
                    "source": s.source,
                    "tasks": [_task_definition(t) for t in tasks[s.pk]],
                    "checkpoints": [
                        _with_i18n(cp, _checkpoint_definition(cp)) for cp in checkpoints[s.pk]
                    ],
                    **_lines(MATERIALS_KEY, s.materials),
                    **_lines(EQUIPMENT_KEY, s.equipment),
                },
            )
            for s in stages
        ],
    }


def _checkpoint_definition(cp: CheckpointTemplate) -> dict[str, Any]:
    values = {key: getattr(cp, key) for key in CHECKPOINT_KEYS}
    for key in OPTIONAL_CHECKPOINT_KEYS:  # only when set, as the canonical form has them
        if getattr(cp, key) not in (None, []):
            values[key] = getattr(cp, key)
    return values


def _task_definition(task: TaskTemplate) -> dict[str, Any]:
    values = {key: getattr(task, key) for key in TASK_KEYS if key != "every_hours"}
    values["every_hours"] = timedelta_to_hours(task.every)
    return _with_i18n(
        task, {**{key: values[key] for key in TASK_KEYS}, **_lines(MATERIALS_KEY, task.materials)}
    )


def _lines(key: str, lines: list | None) -> dict:
    """A bill of materials or a stage's equipment, when there is one (none: no key)."""
    return {key: lines} if lines else {}


def _with_i18n(item: StageTemplate | TaskTemplate | CheckpointTemplate, values: dict) -> dict:
    """A definition item with its translations, when it has any (none: no key, as imported)."""
    if item.i18n:
        values[I18N_KEY] = item.i18n
    return values


# --- diff ---------------------------------------------------------------------------------


def _changes(old: dict[str, Any], new: dict[str, Any], skip: tuple[str, ...]) -> dict[str, dict]:
    return {
        field: {"old": old.get(field), "new": new.get(field)}
        for field in dict.fromkeys([*old, *new])
        if field not in skip and old.get(field) != new.get(field)
    }


def _diff_rows(
    old: dict[Any, dict], new: dict[Any, dict], *, skip: tuple[str, ...], ident: tuple[str, ...]
) -> dict[str, list]:
    def label(key: Any, row: dict) -> dict[str, Any]:
        parts = key if isinstance(key, tuple) else (key,)
        return {**dict(zip(ident, parts, strict=True)), "name": row.get("name", "")}

    changed = []
    for key in new:
        if key in old:
            fields = _changes(old[key], new[key], skip)
            if fields:
                changed.append({**label(key, new[key]), "fields": fields})
    return {
        "added": [label(k, row) for k, row in new.items() if k not in old],
        "removed": [label(k, row) for k, row in old.items() if k not in new],
        "changed": changed,
    }


def _index(definition: dict[str, Any]) -> tuple[dict, dict, dict]:
    stages, tasks, checkpoints = {}, {}, {}
    for position, stage in enumerate(definition["stages"], start=1):
        stages[stage["key"]] = {**stage, "position": position}
        for task in stage["tasks"]:
            tasks[(stage["key"], task["key"])] = task
        for cp in stage["checkpoints"]:
            checkpoints[cp["key"]] = {**cp, "stage": stage["key"]}
    return stages, tasks, checkpoints


def _diff_of(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    old_stages, old_tasks, old_cps = _index(before)
    new_stages, new_tasks, new_cps = _index(after)
    return {
        "protocol": _changes(before, after, skip=("stages",)),
        "stages": _diff_rows(old_stages, new_stages, skip=("tasks", "checkpoints"), ident=("key",)),
        "tasks": _diff_rows(old_tasks, new_tasks, skip=(), ident=("stage", "key")),
        "checkpoints": _diff_rows(old_cps, new_cps, skip=(), ident=("key",)),
    }


def protocol_diff(*, old: ProtocolTemplate, new: ProtocolTemplate) -> dict[str, Any]:
    """What changed from ``old`` to ``new`` (any two protocols; usually two versions of one code).

    Returns ``{"protocol": {field: {"old", "new"}}, "stages" | "tasks" | "checkpoints":
    {"added": [...], "removed": [...], "changed": [{..., "fields": {field: {"old", "new"}}}]}}``.
    Stages are matched by key, tasks by (stage, key), checkpoints by key (a checkpoint moved to
    another stage shows as a change of its ``stage``). Values are JSON-ready; durations are in
    hours, as in the definition schema (``*_hours`` fields).
    """
    return {
        "old": {"id": old.pk, "version": old.version, "status": old.status},
        "new": {"id": new.pk, "version": new.version, "status": new.status},
        **_diff_of(protocol_export(protocol=old), protocol_export(protocol=new)),
    }


# --- change control -------------------------------------------------------------------------


def protocol_review_hash(*, protocol: ProtocolTemplate) -> str:
    """The hash of the protocol's definition as it stands (what a reviewer approves: publishing
    refuses when the draft changed since)."""
    return definition_hash(canonical_definition(protocol_export(protocol=protocol)))


def protocol_change_diff(*, protocol: ProtocolTemplate) -> dict[str, Any]:
    """What ``protocol`` changes from its previous version (everything, for a first version):
    the diff shown to the approver and signed with the approval."""
    previous = protocol.previous_version
    after = protocol_export(protocol=protocol)
    if previous is None:
        before = {"code": protocol.code, "name": "", "description": "", "stages": []}
        return {"old": None, "new": {"id": protocol.pk, "version": protocol.version},
                **_diff_of(before, after)}  # fmt: skip
    return {
        "old": {"id": previous.pk, "version": previous.version, "status": previous.status},
        "new": {"id": protocol.pk, "version": protocol.version, "status": protocol.status},
        **_diff_of(protocol_export(protocol=previous), after),
    }


@dataclass
class ConventionRow:
    """A convention-marked spec of a protocol and the lab's confirmation of it, if any."""

    stage_key: str
    key: str
    name: str
    content: dict[str, Any]
    convention_hash: str
    confirmation: ConventionConfirmation | None

    @property
    def confirmed(self) -> bool:
        return self.confirmation is not None


def protocol_conventions(*, protocol: ProtocolTemplate) -> list[ConventionRow]:
    """Every convention-marked spec of ``protocol`` with its confirmation in the protocol's lab
    (a confirmation of the same content for the same protocol code, in any version)."""
    canonical = canonical_definition(protocol_export(protocol=protocol))
    found = list(conventions_of(canonical))
    confirmations = {
        (c.checkpoint_key, c.convention_hash): c
        for c in ConventionConfirmation.objects.for_lab(protocol.lab_id)
        .filter(protocol_code=protocol.code, checkpoint_key__in=[cp["key"] for _, cp in found])
        .select_related("confirmed_by", "signature")
    }
    rows = []
    for stage_key, cp in found:
        digest = convention_hash(cp, stage_key)
        rows.append(
            ConventionRow(
                stage_key=stage_key,
                key=cp["key"],
                name=cp["name"],
                content=convention_content(cp, stage_key),
                convention_hash=digest,
                confirmation=confirmations.get((cp["key"], digest)),
            )
        )
    return rows


def protocol_authors(*, protocol: ProtocolTemplate) -> set[int]:
    """Ids of the people who created or edited the draft (none of them may approve it)."""
    authors = set(DraftAuthor.objects.filter(protocol=protocol).values_list("user_id", flat=True))
    if protocol.created_by_id is not None:
        authors.add(protocol.created_by_id)
    return authors


def protocol_approvals(*, protocol: ProtocolTemplate) -> QuerySet[ProtocolApproval]:
    """The signed approval and retirement of a version, oldest first."""
    return (
        ProtocolApproval.objects.for_lab(protocol.lab_id)
        .filter(protocol=protocol)
        .select_related("signed_by", "compared_with")
        .annotate(signature_id=signature_id_subquery(ProtocolApproval))
        .order_by("signed_at", "pk")
    )
