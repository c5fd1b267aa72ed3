"""Protocol builders for tests. They go through the services (actor None is the system)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from protocol_tracker.protocols import services
from protocol_tracker.protocols.models import ProtocolTemplate

H = timedelta(hours=1)


def stage_definition(key: str, *, depends_on: list[str] | None = None, **extra: Any) -> dict:
    stage = {
        "key": key,
        "name": f"Stage {key}",
        "kind": "expansion",
        "expected_duration_hours": 48,
        "window_early_hours": 6,
        "window_late_hours": 12,
        "reminder_lead_hours": 4,
        "depends_on": depends_on or [],
        "description": "",
        "source": "test",
        "tasks": [
            {"key": "feed", "name": "Medium change", "every_hours": 24, "on_days": None,
             "description": ""},
        ],
        "checkpoints": [
            {"key": f"{key}_viability", "assay": "cell_count", "name": "Viability",
             "metric": "viability", "unit": "%", "value_type": "percent",
             "spec": {"min": 70}, "blocking": True, "recorded_by": "any", "analyte": None,
             "pending_allowed": False, "retest_every_passages": None, "source": "test",
             "notes": ""},
        ],
    }  # fmt: skip
    stage.update(extra)
    return stage


def chain_definition(n: int, *, code: str = "chain", name: str = "Chain") -> dict:
    """``n`` stages s1 → s2 → … each with one task and one blocking checkpoint."""
    stages = [
        stage_definition(f"s{i}", depends_on=[f"s{i - 1}"] if i > 1 else [])
        for i in range(1, n + 1)
    ]
    return {"code": code, "name": name, "description": "test protocol", "stages": stages}


def published_protocol(lab, n: int = 3, **kwargs: Any) -> ProtocolTemplate:
    return services.protocol_import(lab=lab, definition=chain_definition(n, **kwargs))


def draft_protocol(lab, n: int = 3, **kwargs: Any) -> ProtocolTemplate:
    return services.protocol_import(
        lab=lab, definition=chain_definition(n, **kwargs), publish=False
    )
