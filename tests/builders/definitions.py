"""Protocol definitions as plain dicts (the schema of ``protocol_tracker.protocols.defaults``,
durations in hours): three small builders, and the named protocols the tests run.

No database here; ``tests.builders.protocols`` imports them through the services and
``tests.factories.protocol_from_dict`` writes them as rows.
"""

from __future__ import annotations

from typing import Any


def checkpoint_definition(
    key: str,
    *,
    assay: str | None = None,
    name: str | None = None,
    metric: str | None = None,
    unit: str = "",
    value_type: str = "number",
    spec: dict | None = None,
    blocking: bool = True,
    recorded_by: str = "any",
    analyte: str | None = None,
    pending_allowed: bool = False,
    retest_every_passages: int | None = None,
    source: str = "test",
) -> dict[str, Any]:
    """One QC checkpoint; assay and metric default to the key, the name to its title."""
    return {
        "key": key,
        "assay": key if assay is None else assay,
        "name": key.replace("_", " ").title() if name is None else name,
        "metric": key if metric is None else metric,
        "unit": unit,
        "value_type": value_type,
        "spec": {} if spec is None else spec,
        "blocking": blocking,
        "recorded_by": recorded_by,
        "analyte": analyte,
        "pending_allowed": pending_allowed,
        "retest_every_passages": retest_every_passages,
        "source": source,
        "notes": "",
    }


def task_definition(
    key: str, *, name: str | None = None, every_hours: float | None = None, on_days=None
) -> dict[str, Any]:
    """One recurring bench task: every ``every_hours`` or on the stage's days ``on_days``."""
    return {
        "key": key,
        "name": key.replace("_", " ").title() if name is None else name,
        "every_hours": every_hours,
        "on_days": on_days,
        "description": "",
    }


def stage_definition(
    key: str,
    hours: float,
    *,
    name: str | None = None,
    kind: str = "expansion",
    early: float = 2,
    late: float = 2,
    lead: float = 2,
    depends_on=(),
    tasks=(),
    checkpoints=(),
) -> dict[str, Any]:
    """One stage of ``hours``, allowed ``early``/``late`` hours either side of its due time."""
    return {
        "key": key,
        "name": key.replace("_", " ").title() if name is None else name,
        "kind": kind,
        "expected_duration_hours": hours,
        "window_early_hours": early,
        "window_late_hours": late,
        "reminder_lead_hours": lead,
        "depends_on": list(depends_on),
        "description": "",
        "source": "test",
        "tasks": list(tasks),
        "checkpoints": list(checkpoints),
    }


def _medium_change() -> dict[str, Any]:
    return task_definition("feed", name="Medium change", every_hours=24)


def _viability(key: str = "viability", *, name: str | None = None, **extra: Any) -> dict:
    """A blocking viability checkpoint counted on a cell counter: percent, at least 70 %."""
    fields: dict[str, Any] = {
        "assay": "cell_count",
        "unit": "%",
        "value_type": "percent",
        "spec": {"min": 70},
        **extra,
    }
    return checkpoint_definition(key, name=name, **fields)


# --- the protocols the tests run ------------------------------------------------------------


def chain_definition(n: int, *, code: str = "chain", name: str = "Chain") -> dict[str, Any]:
    """``n`` stages s1 → s2 → … (48 h each) each with a daily medium change and one blocking
    viability checkpoint ``s<i>_viability``."""
    stages = [
        stage_definition(
            f"s{i}",
            48,
            name=f"Stage s{i}",
            early=6,
            late=12,
            lead=4,
            depends_on=[f"s{i - 1}"] if i > 1 else [],
            tasks=[_medium_change()],
            checkpoints=[_viability(f"s{i}_viability", name="Viability", metric="viability")],
        )
        for i in range(1, n + 1)
    ]
    return {"code": code, "name": name, "description": "test protocol", "stages": stages}


def simple_protocol_data(code: str = "simple") -> dict[str, Any]:
    """collect (24 h) → expand (72 h, daily feed, two blocking checks) → release (48 h)."""
    return {
        "code": code,
        "name": "Simple test protocol",
        "description": "",
        "stages": [
            stage_definition(
                "collect",
                24,
                kind="collection",
                checkpoints=[
                    checkpoint_definition(
                        "volume_ok", value_type="boolean", spec={"expected": True}
                    ),
                ],
            ),
            stage_definition(
                "expand",
                72,
                depends_on=["collect"],
                tasks=[task_definition("feed", every_hours=24)],
                checkpoints=[
                    checkpoint_definition(
                        "viability",
                        value_type="percent",
                        unit="%",
                        spec={"min": 70},
                        assay="cell_count",
                    ),
                    checkpoint_definition(
                        "density", unit="10^6 cells/mL", spec={"min": 5}, assay="cell_count"
                    ),
                    checkpoint_definition(
                        "morphology",
                        value_type="text",
                        blocking=False,
                        spec={"allowed": ["compact", "flat"]},
                    ),
                    checkpoint_definition(
                        "density_auto",
                        unit="10^6 cells/mL",
                        blocking=False,
                        recorded_by="instrument",
                        assay="cell_count",
                    ),
                    checkpoint_definition(
                        "mycoplasma",
                        value_type="boolean",
                        spec={"expected": False},
                        retest_every_passages=5,
                        assay="mycoplasma_pcr",
                    ),
                ],
            ),
            stage_definition(
                "release",
                48,
                depends_on=["expand"],
                kind="release",
                checkpoints=[
                    checkpoint_definition("endotoxin", unit="EU/mL", spec={"max": 5}),
                    checkpoint_definition(
                        "sterility",
                        value_type="boolean",
                        spec={"expected": False},
                        pending_allowed=True,
                    ),
                ],
            ),
        ],
    }


def clinical_protocol_data(code: str = "clinical") -> dict[str, Any]:
    """Manufacturing, then the clinic: collect (24 h) → release (48 h, kind release) →
    transplant (24 h) → follow-up (30 days, visits on days 7 and 14); and a safety watch
    (30 days) that also follows the release directly. The last three are post-release."""
    return {
        "code": code,
        "name": "Clinical test protocol",
        "description": "",
        "stages": [
            stage_definition(
                "collect",
                24,
                kind="collection",
                checkpoints=[
                    checkpoint_definition(
                        "volume_ok", value_type="boolean", spec={"expected": True}
                    ),
                ],
            ),
            stage_definition(
                "release",
                48,
                depends_on=["collect"],
                kind="release",
                checkpoints=[
                    checkpoint_definition("endotoxin", unit="EU/mL", spec={"max": 5}),
                    checkpoint_definition(
                        "sterility",
                        value_type="boolean",
                        spec={"expected": False},
                        pending_allowed=True,
                    ),
                ],
            ),
            stage_definition(
                "transplant",
                24,
                depends_on=["release"],
                kind="transplant",
                early=24,
                late=24,
                checkpoints=[
                    checkpoint_definition(
                        "bedside_identity",
                        value_type="boolean",
                        spec={"expected": True},
                        recorded_by="person",
                    ),
                    checkpoint_definition("dose", unit="10^6 cells", blocking=False),
                ],
            ),
            stage_definition(
                "follow_up",
                30 * 24,
                depends_on=["transplant"],
                kind="follow_up",
                early=0,
                late=60 * 24,
                tasks=[task_definition("visit", on_days=[7, 14])],
                checkpoints=[
                    checkpoint_definition("c_peptide", unit="pmol/L", blocking=False),
                ],
            ),
            stage_definition(
                "safety_watch",
                30 * 24,
                depends_on=["release"],
                kind="follow_up",
                early=0,
                late=60 * 24,
            ),
        ],
    }


def api_definition(code: str = "api-test") -> dict[str, Any]:
    """expand (viability %, events from FCS, density) → bank. Wide windows: no window
    deviations when a test completes a stage early."""
    wide = {"early": 1000, "late": 1000, "lead": 4}
    return {
        "code": code,
        "name": f"API test {code}",
        "description": "",
        "stages": [
            stage_definition(
                "expand",
                48,
                name="Expansion",
                **wide,
                tasks=[_medium_change()],
                checkpoints=[
                    _viability(),
                    _viability(
                        "events",
                        assay="flow_cytometry",
                        metric="event_count",
                        unit="",
                        value_type="number",
                        spec={"min": 1000},
                        blocking=False,
                    ),
                    _viability(
                        "viable_cells_per_ml",
                        unit="cells/mL",
                        value_type="number",
                        spec={"min": 100000},
                        blocking=False,
                    ),
                ],
            ),
            stage_definition(
                "bank",
                24,
                name="Banking",
                kind="banking",
                **wide,
                depends_on=["expand"],
                checkpoints=[_viability("post_thaw_viability")],
            ),
        ],
    }


def wide_definition(code: str = "wide", checkpoints: int = 100) -> dict[str, Any]:
    """One stage with many informational number checkpoints (for bulk loads)."""
    base = api_definition(code)
    stage = {
        **base["stages"][0],
        "tasks": [],
        "checkpoints": [
            _viability(f"m{i:03d}", unit="", value_type="number", spec={"min": 0}, blocking=False)
            for i in range(checkpoints)
        ],
    }
    return {**base, "stages": [stage]}


def web_definition(code: str = "islet-web", name: str = "Islet (web test)") -> dict[str, Any]:
    """expand (48 h, feed every 24 h, viability ≥ 70 %) → release (24 h, endotoxin ≤ 5 EU/mL,
    sterility may be pending at release)."""
    return {
        "code": code,
        "name": name,
        "description": "web test protocol",
        "stages": [
            stage_definition(
                "expand",
                48,
                name="Expansion",
                early=48,
                late=12,
                lead=4,
                tasks=[_medium_change()],
                checkpoints=[_viability()],
            ),
            stage_definition(
                "release",
                24,
                name="Release testing",
                kind="release",
                early=24,
                late=6,
                lead=2,
                depends_on=["expand"],
                checkpoints=[
                    checkpoint_definition(
                        "endotoxin", assay="cell_count", unit="EU/mL", spec={"max": 5}
                    ),
                ],
            ),
        ],
    }
