"""Protocol definitions as plain data: field rules, the stage graph, canonical form and hash.

A *definition* is the schema of :mod:`protocol_tracker.protocols.defaults` (durations in hours).
The same rules check a definition before it is imported, a draft before it is published and each
field a designer edits, so a protocol cannot pass one path and fail another. Nothing here touches
the database.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import timedelta
from typing import Any

from protocol_tracker.protocols.models import RecordedBy, StageKind, ValueType
from protocol_tracker.specs.language import validate_spec
from protocol_tracker.specs.units import is_known_unit

HOUR = timedelta(hours=1)
SPEC_LIMIT_KEYS = ("min", "max", "allowed", "expected")
_SLUG_RE = re.compile(r"^[-a-zA-Z0-9_]+\Z")

PROTOCOL_KEYS = ("code", "name", "description", "stages")
STAGE_KEYS = (
    "key", "name", "kind", "expected_duration_hours", "window_early_hours", "window_late_hours",
    "depends_on", "reminder_lead_hours", "description", "source", "tasks", "checkpoints",
)  # fmt: skip
TASK_KEYS = ("key", "name", "every_hours", "on_days", "description")
CHECKPOINT_KEYS = (
    "key", "assay", "name", "metric", "unit", "value_type", "spec", "blocking", "recorded_by",
    "analyte", "pending_allowed", "retest_every_passages", "source", "notes",
)  # fmt: skip

Problems = dict[str, list[str]]


class DefinitionError(ValueError):
    """A definition whose shape is wrong; ``fields`` maps a path such as ``stages[2].kind``."""

    def __init__(self, fields: Problems) -> None:
        super().__init__("; ".join(f"{k}: {', '.join(v)}" for k, v in fields.items()))
        self.fields = fields


# --- durations ----------------------------------------------------------------------------


def hours_to_timedelta(hours: float | int | None) -> timedelta | None:
    return None if hours is None else timedelta(hours=hours)


def timedelta_to_hours(value: timedelta | None) -> float | int | None:
    """Hours as an int when whole (so 24 and 24.0 hash alike), else a float."""
    if value is None:
        return None
    hours = value / HOUR
    return int(hours) if float(hours).is_integer() else hours


# --- field rules (shared by the designer services, the importer and publishing) --------------


def _add(problems: Problems, field: str, message: str) -> None:
    problems.setdefault(field, []).append(message)


def check_slug(problems: Problems, field: str, value: Any, max_length: int = 64) -> None:
    if not isinstance(value, str) or not _SLUG_RE.match(value):
        _add(problems, field, "must be letters, digits, '-' or '_' only")
    elif len(value) > max_length:
        _add(problems, field, f"must be at most {max_length} characters")


def check_text(
    problems: Problems,
    field: str,
    value: Any,
    *,
    max_length: int | None = None,
    required: bool = False,
) -> None:
    if not isinstance(value, str):
        _add(problems, field, "must be text")
    elif required and not value.strip():
        _add(problems, field, "must not be blank")
    elif max_length is not None and len(value) > max_length:
        _add(problems, field, f"must be at most {max_length} characters")


def _check_duration(problems: Problems, field: str, value: Any, *, positive: bool) -> None:
    if not isinstance(value, timedelta):
        _add(problems, field, "must be a duration")
    elif positive and value <= timedelta(0):
        _add(problems, field, "must be positive")
    elif not positive and value < timedelta(0):
        _add(problems, field, "must not be negative")


def stage_problems(values: Mapping[str, Any]) -> Problems:
    """Problems with the stage fields present in ``values`` (model field names, timedeltas)."""
    problems: Problems = {}
    if "key" in values:
        check_slug(problems, "key", values["key"])
    if "name" in values:
        check_text(problems, "name", values["name"], max_length=200, required=True)
    if "kind" in values and values["kind"] not in StageKind.values:
        _add(problems, "kind", f"must be one of: {', '.join(StageKind.values)}")
    if "expected_duration" in values:
        _check_duration(problems, "expected_duration", values["expected_duration"], positive=True)
    for field in ("window_early", "window_late"):
        if field in values:
            _check_duration(problems, field, values[field], positive=False)
    if values.get("reminder_lead") is not None:
        _check_duration(problems, "reminder_lead", values["reminder_lead"], positive=False)
    for field in ("description", "source"):
        if field in values:
            check_text(problems, field, values[field])
    if "order" in values and not (
        isinstance(values["order"], int)
        and not isinstance(values["order"], bool)
        and values["order"] >= 0
    ):
        _add(problems, "order", "must be a whole number ≥ 0")
    return problems


def task_problems(values: Mapping[str, Any]) -> Problems:
    """Problems with a task's fields; ``values`` must hold both ``every`` and ``on_days``."""
    problems: Problems = {}
    if "key" in values:
        check_slug(problems, "key", values["key"])
    if "name" in values:
        check_text(problems, "name", values["name"], max_length=200, required=True)
    if "description" in values:
        check_text(problems, "description", values["description"])
    every, on_days = values.get("every"), values.get("on_days")
    if (every is None) == (on_days is None):
        _add(
            problems,
            "every",
            "give either a repeat interval or days from the stage start, not both and not neither",
        )
    elif every is not None:
        if not isinstance(every, timedelta):
            _add(problems, "every", "must be a duration")
        elif every < HOUR:
            _add(problems, "every", "must be at least 1 hour")
    elif not isinstance(on_days, list) or not on_days:
        _add(problems, "on_days", "must be a non-empty list of days")
    elif not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in on_days):
        _add(problems, "on_days", "days must be whole numbers ≥ 0")
    elif len(set(on_days)) != len(on_days):
        _add(problems, "on_days", "lists a day twice")
    return problems


def spec_is_empty(spec: Mapping[str, Any] | None) -> bool:
    return not spec or all(spec.get(k) is None for k in SPEC_LIMIT_KEYS)


def checkpoint_problems(values: Mapping[str, Any]) -> Problems:
    """Problems with a checkpoint's fields; unit and spec are judged with the value type."""
    problems: Problems = {}
    if "key" in values:
        check_slug(problems, "key", values["key"])
    if "assay" in values:
        check_slug(problems, "assay", values["assay"])
    if "name" in values:
        check_text(problems, "name", values["name"], max_length=200, required=True)
    if "metric" in values:
        check_text(problems, "metric", values["metric"], max_length=100, required=True)
    if "analyte" in values:
        check_text(problems, "analyte", values["analyte"], max_length=32)
    for field in ("source", "notes"):
        if field in values:
            check_text(problems, field, values[field])
    for field in ("blocking", "pending_allowed"):
        if field in values and not isinstance(values[field], bool):
            _add(problems, field, "must be true or false")
    if "recorded_by" in values and values["recorded_by"] not in RecordedBy.values:
        _add(problems, "recorded_by", f"must be one of: {', '.join(RecordedBy.values)}")
    retest = values.get("retest_every_passages")
    if retest is not None and not (
        isinstance(retest, int) and not isinstance(retest, bool) and retest >= 1
    ):
        _add(problems, "retest_every_passages", "must be a whole number ≥ 1")

    value_type, unit, spec = values.get("value_type"), values.get("unit"), values.get("spec")
    type_ok = value_type in ValueType.values
    if "value_type" in values and not type_ok:
        _add(problems, "value_type", f"must be one of: {', '.join(ValueType.values)}")
    unit_ok = isinstance(unit, str) and len(unit) <= 32 and is_known_unit(unit)
    if "unit" in values and not unit_ok:
        _add(problems, "unit", f"unknown unit '{unit}'")
    if type_ok and unit_ok:
        # Unit and value type first (spec None: validate_spec stops after them), then the spec.
        for message in validate_spec(None, value_type=value_type, unit=unit):
            _add(problems, "unit", message)
        if "spec" in values:
            if not isinstance(spec, dict):
                _add(problems, "spec", "must be an object (use {} for no spec)")
            else:
                fit = set(validate_spec(None, value_type=value_type, unit=unit))
                for message in validate_spec(spec, value_type=value_type, unit=unit):
                    if message not in fit:
                        _add(problems, "spec", message)
    elif "spec" in values and not isinstance(spec, dict):
        _add(problems, "spec", "must be an object (use {} for no spec)")
    return problems


# --- the stage graph ----------------------------------------------------------------------


def find_cycle(keys: Sequence[str], depends_on: Mapping[str, Iterable[str]]) -> list[str] | None:
    """One dependency cycle as ``[a, b, ..., a]`` (a depends on b ...), or None for a DAG."""
    white, grey, black = 0, 1, 2
    colour = dict.fromkeys(keys, white)
    for start in keys:
        if colour[start] != white:
            continue
        path: list[str] = [start]
        colour[start] = grey
        stack = [iter(sorted(depends_on.get(start, ())))]
        while stack:
            child = next(stack[-1], None)
            if child is None:
                stack.pop()
                colour[path.pop()] = black
                continue
            if child not in colour:
                continue
            if colour[child] == grey:
                return [*path[path.index(child) :], child]
            if colour[child] == white:
                colour[child] = grey
                path.append(child)
                stack.append(iter(sorted(depends_on.get(child, ()))))
    return None


def topological_order(keys: Sequence[str], depends_on: Mapping[str, Iterable[str]]) -> list[str]:
    """``keys`` with every stage after the stages it depends on; ties keep the given order.

    Stages caught in a cycle (only possible in a draft) are appended in the given order.
    """
    position = {key: i for i, key in enumerate(keys)}
    pending = {
        key: {d for d in depends_on.get(key, ()) if d in position and d != key} for key in keys
    }
    dependants: dict[str, list[str]] = {key: [] for key in keys}
    for key, deps in pending.items():
        for dep in deps:
            dependants[dep].append(key)
    ready = sorted((k for k, deps in pending.items() if not deps), key=position.__getitem__)
    order: list[str] = []
    while ready:
        key = ready.pop(0)
        order.append(key)
        for child in dependants[key]:
            pending[child].discard(key)
            if not pending[child]:
                ready.append(child)
        ready.sort(key=position.__getitem__)
    if len(order) < len(keys):
        done = set(order)
        order += [k for k in keys if k not in done]
    return order


# --- whole definitions --------------------------------------------------------------------


_STAGE_LABELS = {
    "expected_duration": "expected duration",
    "window_early": "early window",
    "window_late": "late window",
    "reminder_lead": "reminder lead",
}


def _stage_values(stage: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "key": stage["key"], "name": stage["name"], "kind": stage["kind"],
        "expected_duration": hours_to_timedelta(stage["expected_duration_hours"]),
        "window_early": hours_to_timedelta(stage["window_early_hours"]),
        "window_late": hours_to_timedelta(stage["window_late_hours"]),
        "reminder_lead": hours_to_timedelta(stage["reminder_lead_hours"]),
        "description": stage["description"], "source": stage["source"],
    }  # fmt: skip


def _task_values(task: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "key": task["key"], "name": task["name"], "description": task["description"],
        "every": hours_to_timedelta(task["every_hours"]), "on_days": task["on_days"],
    }  # fmt: skip


def definition_problems(definition: Mapping[str, Any]) -> list[str]:
    """Every reason a canonical definition may not be published, as sentences; [] if none.

    The graph must be a DAG with at least one root. Several roots are allowed: a protocol may
    start two independent lines of work at once (say, enrolment and a reagent qualification),
    and the engine simply makes every root ready when a run starts. A cycle-free graph always
    has a root, so "no root" is reported only together with the cycle that causes it.
    """
    problems: list[str] = []
    stages = definition["stages"]
    if not stages:
        return ["the protocol has no stages"]
    keys = [s["key"] for s in stages]
    problems += [f"stage key '{key}' is used more than once" for key in _duplicates(keys)]
    known = set(keys)
    edges = {stage["key"]: list(stage["depends_on"]) for stage in stages}
    problems += [
        f"stage '{stage['key']}' depends on unknown stage '{dep}'"
        for stage in stages
        for dep in stage["depends_on"]
        if dep not in known
    ]
    cycle = find_cycle(list(dict.fromkeys(keys)), edges)
    if cycle is not None:
        problems.append(f"dependency cycle: {' → '.join(cycle)}")
    if not any(not [d for d in s["depends_on"] if d in known] for s in stages):
        problems.append("no root stage: every stage depends on another stage")

    checkpoint_keys: list[str] = []
    for stage in stages:
        label = f"stage '{stage['key']}'"
        for field, messages in stage_problems(_stage_values(stage)).items():
            problems += [f"{label}: {_STAGE_LABELS.get(field, field)} {m}" for m in messages]
        problems += [
            f"{label}: task key '{key}' is used more than once"
            for key in _duplicates([t["key"] for t in stage["tasks"]])
        ]
        for task in stage["tasks"]:
            for field, messages in task_problems(_task_values(task)).items():
                problems += [f"task '{task['key']}' in {label}: {field} {m}" for m in messages]
        for checkpoint in stage["checkpoints"]:
            checkpoint_keys.append(checkpoint["key"])
            prefix = f"checkpoint '{checkpoint['key']}' in {label}"
            for field, messages in checkpoint_problems(checkpoint).items():
                for message in messages:
                    # unit and spec messages already name what they are about
                    shown = message if field in ("unit", "spec") else f"{field} {message}"
                    problems.append(f"{prefix}: {shown}")
            if checkpoint["blocking"] and spec_is_empty(checkpoint["spec"]):
                problems.append(f"{prefix}: a blocking checkpoint needs an acceptance spec")
    problems += [
        f"checkpoint key '{key}' is used more than once" for key in _duplicates(checkpoint_keys)
    ]
    return problems


def _duplicates(keys: Sequence[Any]) -> list[Any]:
    return sorted((k for k, n in Counter(keys).items() if n > 1), key=str)


def _require(
    raw: Any, allowed: Sequence[str], required: Sequence[str], path: str, errors: Problems
) -> dict[str, Any] | None:
    if not isinstance(raw, Mapping):
        _add(errors, path or "definition", "must be an object")
        return None
    for key in raw:
        if key not in allowed:
            _add(errors, f"{path}.{key}" if path else str(key), "unknown key")
    for key in required:
        if key not in raw:
            _add(errors, f"{path}.{key}" if path else key, "is required")
    return dict(raw)


def _hours(value: Any, path: str, errors: Problems, *, optional: bool = False) -> Any:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        _add(errors, path, "must be a number of hours")
        return None
    return timedelta_to_hours(hours_to_timedelta(value))


def canonical_definition(raw: Any) -> dict[str, Any]:
    """The canonical form of a definition: defaults filled in, hours normalised, tasks sorted.

    Raises :class:`DefinitionError` for a wrong shape (unknown or missing keys, wrong types of
    the structural fields). Field values are judged later by :func:`definition_problems`.
    """
    errors: Problems = {}
    top = _require(raw, PROTOCOL_KEYS, ("code", "name", "stages"), "", errors)
    if top is None:
        raise DefinitionError(errors)
    stages_raw = top.get("stages")
    if not isinstance(stages_raw, list):
        _add(errors, "stages", "must be a list")
        stages_raw = []
    stages = []
    for i, stage_raw in enumerate(stages_raw):
        path = f"stages[{i}]"
        stage = _require(
            stage_raw, STAGE_KEYS, ("key", "name", "kind", "expected_duration_hours"), path, errors
        )
        if stage is None:
            continue
        depends_on = stage.get("depends_on") or []
        if not isinstance(depends_on, list) or not all(isinstance(d, str) for d in depends_on):
            _add(errors, f"{path}.depends_on", "must be a list of stage keys")
            depends_on = []
        tasks = []
        for j, task_raw in enumerate(stage.get("tasks") or []):
            tpath = f"{path}.tasks[{j}]"
            task = _require(task_raw, TASK_KEYS, ("key", "name"), tpath, errors)
            if task is None:
                continue
            tasks.append(
                {
                    "key": task.get("key"),
                    "name": task.get("name"),
                    "every_hours": _hours(
                        task.get("every_hours"), f"{tpath}.every_hours", errors, optional=True
                    ),
                    "on_days": task.get("on_days"),
                    "description": task.get("description") or "",
                }
            )
        checkpoints = []
        for j, cp_raw in enumerate(stage.get("checkpoints") or []):
            cpath = f"{path}.checkpoints[{j}]"
            cp = _require(
                cp_raw,
                CHECKPOINT_KEYS,
                ("key", "assay", "name", "metric", "value_type"),
                cpath,
                errors,
            )
            if cp is None:
                continue
            spec = cp.get("spec")
            checkpoints.append(
                {
                    "key": cp.get("key"),
                    "assay": cp.get("assay"),
                    "name": cp.get("name"),
                    "metric": cp.get("metric"),
                    "unit": cp.get("unit") or "",
                    "value_type": cp.get("value_type"),
                    "spec": {} if spec is None else spec,
                    "blocking": cp.get("blocking", True),
                    "recorded_by": cp.get("recorded_by") or RecordedBy.ANY.value,
                    "analyte": cp.get("analyte") or "",
                    "pending_allowed": cp.get("pending_allowed", False),
                    "retest_every_passages": cp.get("retest_every_passages"),
                    "source": cp.get("source") or "",
                    "notes": cp.get("notes") or "",
                }
            )
        stages.append(
            {
                "key": stage.get("key"),
                "name": stage.get("name"),
                "kind": stage.get("kind"),
                "expected_duration_hours": _hours(
                    stage.get("expected_duration_hours"), f"{path}.expected_duration_hours", errors
                ),
                "window_early_hours": _hours(
                    stage.get("window_early_hours", 0), f"{path}.window_early_hours", errors
                ),
                "window_late_hours": _hours(
                    stage.get("window_late_hours", 0), f"{path}.window_late_hours", errors
                ),
                "reminder_lead_hours": _hours(
                    stage.get("reminder_lead_hours"),
                    f"{path}.reminder_lead_hours",
                    errors,
                    optional=True,
                ),
                "depends_on": sorted(set(depends_on)),
                "description": stage.get("description") or "",
                "source": stage.get("source") or "",
                "tasks": sorted(tasks, key=lambda t: str(t["key"])),
                "checkpoints": checkpoints,
            }
        )
    if errors:
        raise DefinitionError(errors)
    return {
        "code": top.get("code"),
        "name": top.get("name"),
        "description": top.get("description") or "",
        "stages": stages,
    }


def definition_hash(canonical: Mapping[str, Any]) -> str:
    raw = json.dumps(canonical, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(raw.encode()).hexdigest()
