"""A definition's shape: its keys, the canonical form every path compares, and its hash.

:func:`canonical_definition` fills in defaults, normalises hours and sorts what has no order of
its own, so the same protocol always hashes alike (:func:`definition_hash`) whether it came from
the defaults, an import or the rows of a draft. Wrong shapes raise :class:`DefinitionError`; the
field values are judged by :mod:`.rules`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

from protocol_tracker.protocols.models import RecordedBy

HOUR = timedelta(hours=1)

PROTOCOL_KEYS = ("code", "name", "description", "stages")
STAGE_KEYS = (
    "key",
    "name",
    "kind",
    "expected_duration_hours",
    "window_early_hours",
    "window_late_hours",
    "depends_on",
    "reminder_lead_hours",
    "description",
    "source",
    "tasks",
    "checkpoints",
)
TASK_KEYS = ("key", "name", "every_hours", "on_days", "description")
CHECKPOINT_KEYS = (
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
)

# Checkpoint fields added after the first versions: in the canonical form (and its hash) only
# when set, so a protocol without them hashes as it always did.
OPTIONAL_CHECKPOINT_KEYS = ("retest_every_days", "requires_consent")
# Consent scopes a checkpoint may require (runs.models.ConsentScope; a test holds them equal).
CONSENT_SCOPES = ("reprogramming", "banking", "genetic_testing", "future_use")

# Translations a stage, task or checkpoint may carry, per language: {"zh-hans": {"name": …,
# "description": …}}. Part of the version (and of its hash) when present; absent, the canonical
# form has no "i18n" key, so a protocol without translations hashes as it always did.
I18N_KEY = "i18n"
I18N_LANGUAGES = ("zh-hans",)
I18N_FIELDS = ("name", "description")

# A stage's and a task's bill of materials, and the kinds of equipment a stage is worked with:
# part of the version (and of its hash) when present; absent, the canonical form has no key, so
# a protocol without them hashes as it always did. A material is named by the lab's material
# code; ``quantity`` and ``unit`` (both or neither) are the amount usually drawn.
MATERIALS_KEY = "materials"
EQUIPMENT_KEY = "equipment"
MATERIAL_LINE_KEYS = ("material", "name", "quantity", "unit", "required")
EQUIPMENT_LINE_KEYS = ("kind", "required")

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


def add_problem(problems: Problems, field: str, message: str) -> None:
    """File ``message`` under ``field`` (a model field name or a path into the definition)."""
    problems.setdefault(field, []).append(message)


# --- the canonical form -------------------------------------------------------------------


def _require(
    raw: Any, allowed: Sequence[str], required: Sequence[str], path: str, errors: Problems
) -> dict[str, Any] | None:
    if not isinstance(raw, Mapping):
        add_problem(errors, path or "definition", "must be an object")
        return None
    for key in raw:
        if key not in allowed:
            add_problem(errors, f"{path}.{key}" if path else str(key), "unknown key")
    for key in required:
        if key not in raw:
            add_problem(errors, f"{path}.{key}" if path else key, "is required")
    return dict(raw)


def _i18n(raw: Any, path: str, errors: Problems) -> dict[str, dict[str, str]]:
    """The translations of one item, validated: known languages and fields, text only."""
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        add_problem(errors, path, "must be an object of languages")
        return {}
    out: dict[str, dict[str, str]] = {}
    for language, fields in raw.items():
        if language not in I18N_LANGUAGES:
            add_problem(errors, f"{path}.{language}", f"unknown language (one of {I18N_LANGUAGES})")
            continue
        if not isinstance(fields, Mapping):
            add_problem(errors, f"{path}.{language}", "must be an object of fields")
            continue
        texts = {}
        for name, text in fields.items():
            if name not in I18N_FIELDS:
                add_problem(errors, f"{path}.{language}.{name}", f"one of {I18N_FIELDS}")
            elif not isinstance(text, str) or not text.strip():
                add_problem(errors, f"{path}.{language}.{name}", "must be text")
            else:
                texts[name] = text.strip()
        if texts:
            out[language] = dict(sorted(texts.items()))
    return dict(sorted(out.items()))


def _with_i18n(item: dict[str, Any], raw: Mapping, path: str, errors: Problems) -> dict[str, Any]:
    translations = _i18n(raw.get(I18N_KEY), f"{path}.{I18N_KEY}", errors)
    if translations:
        item[I18N_KEY] = translations
    return item


def _number(value: Any) -> Any:
    """A whole float as an int (so 50 and 50.0 hash alike); anything else as given."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _material_lines(raw: Any, path: str, errors: Problems) -> list[dict[str, Any]]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        add_problem(errors, path, "must be a list of materials")
        return []
    lines = []
    for i, line_raw in enumerate(raw):
        lpath = f"{path}[{i}]"
        line = _require(
            line_raw, (*MATERIAL_LINE_KEYS, I18N_KEY), ("material", "name"), lpath, errors
        )
        if line is None:
            continue
        material = line.get("material")
        lines.append(
            _with_i18n(
                {
                    "material": material.strip().lower() if isinstance(material, str) else material,
                    "name": line.get("name"),
                    "quantity": _number(line.get("quantity")),
                    "unit": line.get("unit") or "",
                    "required": line.get("required", True),
                },
                line,
                lpath,
                errors,
            )
        )
    return lines


def _equipment_lines(raw: Any, path: str, errors: Problems) -> list[dict[str, Any]]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        add_problem(errors, path, "must be a list of equipment kinds")
        return []
    lines = []
    for i, line_raw in enumerate(raw):
        line = _require(line_raw, EQUIPMENT_LINE_KEYS, ("kind",), f"{path}[{i}]", errors)
        if line is not None:
            lines.append({"kind": line.get("kind"), "required": line.get("required", True)})
    return sorted(lines, key=lambda line: str(line["kind"]))


def canonical_lines(key: str, raw: Any) -> list[dict[str, Any]]:
    """A bill of materials (``key`` "materials") or a stage's equipment ("equipment") in its
    canonical form, for the designer's edits; DefinitionError for a wrong shape."""
    errors: Problems = {}
    reader = _material_lines if key == MATERIALS_KEY else _equipment_lines
    lines = reader(raw, key, errors)
    if errors:
        raise DefinitionError(errors)
    return lines


def _with_lines(item: dict[str, Any], key: str, lines: list[dict[str, Any]]) -> dict[str, Any]:
    if lines:
        item[key] = lines
    return item


def _hours(value: Any, path: str, errors: Problems, *, optional: bool = False) -> Any:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        add_problem(errors, path, "must be a number of hours")
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
        add_problem(errors, "stages", "must be a list")
        stages_raw = []
    stages = []
    for i, stage_raw in enumerate(stages_raw):
        path = f"stages[{i}]"
        stage = _require(
            stage_raw,
            (*STAGE_KEYS, I18N_KEY, MATERIALS_KEY, EQUIPMENT_KEY),
            ("key", "name", "kind", "expected_duration_hours"),
            path,
            errors,
        )
        if stage is None:
            continue
        depends_on = stage.get("depends_on") or []
        if not isinstance(depends_on, list) or not all(isinstance(d, str) for d in depends_on):
            add_problem(errors, f"{path}.depends_on", "must be a list of stage keys")
            depends_on = []
        tasks = []
        for j, task_raw in enumerate(stage.get("tasks") or []):
            tpath = f"{path}.tasks[{j}]"
            task = _require(
                task_raw, (*TASK_KEYS, I18N_KEY, MATERIALS_KEY), ("key", "name"), tpath, errors
            )
            if task is None:
                continue
            tasks.append(
                _with_lines(
                    _with_i18n(
                        {
                            "key": task.get("key"),
                            "name": task.get("name"),
                            "every_hours": _hours(
                                task.get("every_hours"),
                                f"{tpath}.every_hours",
                                errors,
                                optional=True,
                            ),
                            "on_days": task.get("on_days"),
                            "description": task.get("description") or "",
                        },
                        task,
                        tpath,
                        errors,
                    ),
                    MATERIALS_KEY,
                    _material_lines(task.get(MATERIALS_KEY), f"{tpath}.{MATERIALS_KEY}", errors),
                )
            )
        checkpoints = []
        for j, cp_raw in enumerate(stage.get("checkpoints") or []):
            cpath = f"{path}.checkpoints[{j}]"
            cp = _require(
                cp_raw,
                (*CHECKPOINT_KEYS, *OPTIONAL_CHECKPOINT_KEYS, I18N_KEY),
                ("key", "assay", "name", "metric", "value_type"),
                cpath,
                errors,
            )
            if cp is None:
                continue
            spec = cp.get("spec")
            optional = {k: cp[k] for k in OPTIONAL_CHECKPOINT_KEYS if cp.get(k) not in (None, [])}
            if isinstance(optional.get("requires_consent"), list):
                optional["requires_consent"] = sorted(set(map(str, optional["requires_consent"])))
            checkpoints.append(
                _with_i18n(
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
                        **optional,
                    },
                    cp,
                    cpath,
                    errors,
                )
            )
        stage_item = _with_lines(
            _with_lines(
                {},
                MATERIALS_KEY,
                _material_lines(stage.get(MATERIALS_KEY), f"{path}.{MATERIALS_KEY}", errors),
            ),
            EQUIPMENT_KEY,
            _equipment_lines(stage.get(EQUIPMENT_KEY), f"{path}.{EQUIPMENT_KEY}", errors),
        )
        stages.append(
            _with_i18n(
                {
                    "key": stage.get("key"),
                    "name": stage.get("name"),
                    "kind": stage.get("kind"),
                    "expected_duration_hours": _hours(
                        stage.get("expected_duration_hours"),
                        f"{path}.expected_duration_hours",
                        errors,
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
                    **stage_item,
                },
                stage,
                path,
                errors,
            )
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
