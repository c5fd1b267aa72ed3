"""The builders that turn the default protocols' data into definition dicts.

They only fill in defaults: the result is plain dicts and lists in the schema that
:func:`protocol_tracker.protocols.definition.canonical_definition` reads (durations in hours).
"""

from __future__ import annotations

from typing import Any

# --- acceptance specs -----------------------------------------------------------------------


def _spec(**values: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "min": None,
        "max": None,
        "min_inclusive": True,
        "max_inclusive": True,
        "allowed": None,
        "expected": None,
    }
    spec.update(values)
    return spec


def at_least(value: float) -> dict[str, Any]:
    return _spec(min=value, min_inclusive=True)


def more_than(value: float) -> dict[str, Any]:
    return _spec(min=value, min_inclusive=False)


def at_most(value: float) -> dict[str, Any]:
    return _spec(max=value, max_inclusive=True)


def less_than(value: float) -> dict[str, Any]:
    return _spec(max=value, max_inclusive=False)


def expect(value: bool) -> dict[str, Any]:
    return _spec(expected=value)


def one_of(*values: str) -> dict[str, Any]:
    return _spec(allowed=list(values))


def no_spec() -> dict[str, Any]:
    return {}


def identity_scan(*item_kinds: str, witness: str = "manual") -> dict[str, Any]:
    """An identity checkpoint's spec: the scanned label must match the run's COI (and an item of
    one of ``item_kinds``); ``witness`` "always" makes it a two-person check."""
    return {"expected": "match", "item_kinds": list(item_kinds) or None, "witness": witness}


def iscn_karyotype(min_metaphases: int) -> dict[str, Any]:
    """An ISCN karyotype with at least ``min_metaphases`` cells and no clonal abnormality."""
    return _spec(iscn={"min_metaphases": min_metaphases})


# --- checkpoints, bench tasks, stages -------------------------------------------------------


def checkpoint(
    key: str,
    *,
    assay: str,
    name: str,
    metric: str,
    unit: str,
    value_type: str,
    spec: dict[str, Any],
    blocking: bool,
    source: str,
    notes: str = "",
    recorded_by: str = "any",
    analyte: str | None = None,
    pending_allowed: bool = False,
    retest_every_passages: int | None = None,
    retest_every_days: int | None = None,
    requires_consent: list[str] | None = None,
    zh_name: str | None = None,
) -> dict[str, Any]:
    optional: dict[str, Any] = {}
    if retest_every_days is not None:
        optional["retest_every_days"] = retest_every_days
    if requires_consent:
        optional["requires_consent"] = sorted(requires_consent)
    if zh_name:
        optional["i18n"] = {"zh-hans": {"name": zh_name}}
    return {
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
        **optional,
    }


def task(
    key: str,
    name: str,
    description: str,
    *,
    every_hours: int | None = None,
    on_days: list[int] | None = None,
) -> dict[str, Any]:
    return {
        "key": key,
        "name": name,
        "every_hours": every_hours,
        "on_days": on_days,
        "description": description,
    }


def stage(
    key: str,
    *,
    name: str,
    kind: str,
    expected_duration_hours: int,
    window_early_hours: int,
    window_late_hours: int,
    depends_on: list[str],
    reminder_lead_hours: int,
    description: str,
    source: str,
    tasks: list[dict[str, Any]] | None = None,
    checkpoints: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    return {
        "key": key,
        "name": name,
        "kind": kind,
        "expected_duration_hours": expected_duration_hours,
        "window_early_hours": window_early_hours,
        "window_late_hours": window_late_hours,
        "depends_on": depends_on,
        "reminder_lead_hours": reminder_lead_hours,
        "description": description,
        "source": source,
        "tasks": tasks or [],
        "checkpoints": checkpoints or [],
    }


# --- durations (hours) and the bench tasks most stages repeat -------------------------------

DAY = 24
WEEK = 7 * DAY


def media_change(
    description: str = "Daily full medium change; log medium and supplement lots.",
) -> dict[str, Any]:
    return task(
        "media_change",
        "Medium change",
        f"{description} (GK: daily feeding of PSC and differentiation cultures.)",
        every_hours=24,
    )


def passage(description: str) -> dict[str, Any]:
    return task(
        "passage",
        "Passage",
        f"{description} (GK: PSC cultures are typically passaged every 4-6 days; 5 days used.)",
        every_hours=5 * DAY,
    )
