"""The rules a definition obeys, field by field and as a whole.

The same rules check a definition before it is imported, a draft before it is published and each
field a designer edits, so a protocol cannot pass one path and fail another.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

from protocol_tracker.protocols.definition.canonical import (
    CONSENT_SCOPES,
    HOUR,
    Problems,
    add_problem,
    hours_to_timedelta,
)
from protocol_tracker.protocols.definition.graph import find_cycle
from protocol_tracker.protocols.models import EquipmentKind, RecordedBy, StageKind, ValueType
from protocol_tracker.specs.language import validate_spec
from protocol_tracker.specs.quantities import QuantityError, normalize_stock_unit, parse_quantity
from protocol_tracker.specs.units import is_known_unit

SPEC_LIMIT_KEYS = ("min", "max", "allowed", "expected", "iscn")
_SLUG_RE = re.compile(r"^[-a-zA-Z0-9_]+\Z")
# A material code as a bill of materials names it: the lab's material codes are lower case.
MATERIAL_CODE_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}\Z")


# --- field rules (shared by the designer services, the importer and publishing) --------------


def check_slug(problems: Problems, field: str, value: Any, max_length: int = 64) -> None:
    if not isinstance(value, str) or not _SLUG_RE.match(value):
        add_problem(problems, field, "must be letters, digits, '-' or '_' only")
    elif len(value) > max_length:
        add_problem(problems, field, f"must be at most {max_length} characters")


def check_text(
    problems: Problems,
    field: str,
    value: Any,
    *,
    max_length: int | None = None,
    required: bool = False,
) -> None:
    if not isinstance(value, str):
        add_problem(problems, field, "must be text")
    elif required and not value.strip():
        add_problem(problems, field, "must not be blank")
    elif max_length is not None and len(value) > max_length:
        add_problem(problems, field, f"must be at most {max_length} characters")


def _check_duration(problems: Problems, field: str, value: Any, *, positive: bool) -> None:
    if not isinstance(value, timedelta):
        add_problem(problems, field, "must be a duration")
    elif positive and value <= timedelta(0):
        add_problem(problems, field, "must be positive")
    elif not positive and value < timedelta(0):
        add_problem(problems, field, "must not be negative")


def stage_problems(values: Mapping[str, Any]) -> Problems:
    """Problems with the stage fields present in ``values`` (model field names, timedeltas)."""
    problems: Problems = {}
    if "key" in values:
        check_slug(problems, "key", values["key"])
    if "name" in values:
        check_text(problems, "name", values["name"], max_length=200, required=True)
    if "kind" in values and values["kind"] not in StageKind.values:
        add_problem(problems, "kind", f"must be one of: {', '.join(StageKind.values)}")
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
        add_problem(problems, "order", "must be a whole number ≥ 0")
    if "materials" in values:
        problems.update(material_line_problems(values["materials"]))
    if "equipment" in values:
        problems.update(equipment_line_problems(values["equipment"]))
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
        add_problem(
            problems,
            "every",
            "give either a repeat interval or days from the stage start, not both and not neither",
        )
    elif every is not None:
        if not isinstance(every, timedelta):
            add_problem(problems, "every", "must be a duration")
        elif every < HOUR:
            add_problem(problems, "every", "must be at least 1 hour")
    elif not isinstance(on_days, list) or not on_days:
        add_problem(problems, "on_days", "must be a non-empty list of days")
    elif not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in on_days):
        add_problem(problems, "on_days", "days must be whole numbers ≥ 0")
    elif len(set(on_days)) != len(on_days):
        add_problem(problems, "on_days", "lists a day twice")
    if "materials" in values:
        problems.update(material_line_problems(values["materials"]))
    return problems


def material_line_problems(lines: Any) -> Problems:
    """Problems with a bill of materials (canonical lines), by ``materials[i].field``."""
    problems: Problems = {}
    if not isinstance(lines, list):
        add_problem(problems, "materials", "must be a list of materials")
        return problems
    seen: set[str] = set()
    for i, line in enumerate(lines):
        path = f"materials[{i}]"
        if not isinstance(line, Mapping):
            add_problem(problems, path, "must be an object")
            continue
        code = line.get("material")
        if not isinstance(code, str) or not MATERIAL_CODE_RE.match(code):
            add_problem(
                problems, f"{path}.material", "must be a material code: a-z, 0-9, '-' or '_'"
            )
        elif code in seen:
            add_problem(problems, f"{path}.material", f"'{code}' is listed more than once")
        else:
            seen.add(code)
        check_text(problems, f"{path}.name", line.get("name"), max_length=200, required=True)
        quantity, unit = line.get("quantity"), line.get("unit") or ""
        if quantity is None:
            if unit:
                add_problem(problems, f"{path}.quantity", "is required when a unit is given")
        else:
            try:
                parse_quantity(quantity)
            except QuantityError as exc:
                add_problem(problems, f"{path}.quantity", str(exc))
            try:
                canonical = normalize_stock_unit(unit)
            except QuantityError as exc:
                add_problem(problems, f"{path}.unit", str(exc))
            else:
                if canonical != unit:
                    add_problem(problems, f"{path}.unit", f"write it as '{canonical}'")
        if not isinstance(line.get("required", True), bool):
            add_problem(problems, f"{path}.required", "must be true or false")
    return problems


def equipment_line_problems(lines: Any) -> Problems:
    """Problems with a stage's equipment kinds (canonical lines), by ``equipment[i].field``."""
    problems: Problems = {}
    if not isinstance(lines, list):
        add_problem(problems, "equipment", "must be a list of equipment kinds")
        return problems
    kinds = [line.get("kind") for line in lines if isinstance(line, Mapping)]
    for i, line in enumerate(lines):
        path = f"equipment[{i}]"
        if not isinstance(line, Mapping):
            add_problem(problems, path, "must be an object")
            continue
        if line.get("kind") not in EquipmentKind.values:
            add_problem(
                problems, f"{path}.kind", f"must be one of: {', '.join(EquipmentKind.values)}"
            )
        elif kinds.count(line.get("kind")) > 1:
            add_problem(problems, f"{path}.kind", f"'{line.get('kind')}' is listed more than once")
        if not isinstance(line.get("required", True), bool):
            add_problem(problems, f"{path}.required", "must be true or false")
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
            add_problem(problems, field, "must be true or false")
    if "recorded_by" in values and values["recorded_by"] not in RecordedBy.values:
        add_problem(problems, "recorded_by", f"must be one of: {', '.join(RecordedBy.values)}")
    retest = values.get("retest_every_passages")
    if retest is not None and not (
        isinstance(retest, int) and not isinstance(retest, bool) and retest >= 1
    ):
        add_problem(problems, "retest_every_passages", "must be a whole number ≥ 1")
    days = values.get("retest_every_days")
    if days is not None and not (
        isinstance(days, int) and not isinstance(days, bool) and 1 <= days <= 3650
    ):
        add_problem(problems, "retest_every_days", "must be a whole number of days, 1-3650")
    consent = values.get("requires_consent")
    if consent is not None and not (
        isinstance(consent, list) and all(c in CONSENT_SCOPES for c in consent)
    ):
        add_problem(problems, "requires_consent", f"must be a list of: {', '.join(CONSENT_SCOPES)}")

    value_type, unit, spec = values.get("value_type"), values.get("unit"), values.get("spec")
    type_ok = value_type in ValueType.values
    if "value_type" in values and not type_ok:
        add_problem(problems, "value_type", f"must be one of: {', '.join(ValueType.values)}")
    unit_ok = isinstance(unit, str) and len(unit) <= 32 and is_known_unit(unit)
    if "unit" in values and not unit_ok:
        add_problem(problems, "unit", f"unknown unit '{unit}'")
    if type_ok and unit_ok:
        # Unit and value type first (spec None: validate_spec stops after them), then the spec.
        for message in validate_spec(None, value_type=value_type, unit=unit):
            add_problem(problems, "unit", message)
        if "spec" in values:
            if not isinstance(spec, dict):
                add_problem(problems, "spec", "must be an object (use {} for no spec)")
            else:
                fit = set(validate_spec(None, value_type=value_type, unit=unit))
                for message in validate_spec(spec, value_type=value_type, unit=unit):
                    if message not in fit:
                        add_problem(problems, "spec", message)
    elif "spec" in values and not isinstance(spec, dict):
        add_problem(problems, "spec", "must be an object (use {} for no spec)")
    return problems


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
        for field, messages in {
            **material_line_problems(stage.get("materials", [])),
            **equipment_line_problems(stage.get("equipment", [])),
        }.items():
            problems += [f"{label}: {field} {m}" for m in messages]
        for task in stage["tasks"]:
            for field, messages in {
                **task_problems(_task_values(task)),
                **material_line_problems(task.get("materials", [])),
            }.items():
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
