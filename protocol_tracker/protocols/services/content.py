"""A protocol's content as rows: read it as a canonical definition, write one, delete stages.

A constant number of queries whatever the protocol's size: everything is read with the
prefetched export and written with one bulk statement per table.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from protocol_tracker.protocols import definition as defn
from protocol_tracker.protocols.models import (
    CheckpointTemplate,
    ProtocolTemplate,
    StageTemplate,
    TaskTemplate,
)
from protocol_tracker.protocols.selectors import protocol_export


def canonical_of(protocol: ProtocolTemplate) -> dict[str, Any]:
    """The protocol's rows as a canonical definition (what is validated and hashed)."""
    return defn.canonical_definition(protocol_export(protocol=protocol))


def materialize(protocol: ProtocolTemplate, canonical: dict[str, Any]) -> dict[str, int]:
    """Create the stages, edges, tasks and checkpoints of a canonical definition (bulk)."""
    stages = StageTemplate.objects.bulk_create([
        StageTemplate(
            protocol=protocol, order=position, key=s["key"], name=s["name"], kind=s["kind"],
            expected_duration=defn.hours_to_timedelta(s["expected_duration_hours"]),
            window_early=defn.hours_to_timedelta(s["window_early_hours"]),
            window_late=defn.hours_to_timedelta(s["window_late_hours"]),
            reminder_lead=defn.hours_to_timedelta(s["reminder_lead_hours"]),
            description=s["description"], source=s["source"], i18n=s.get(defn.I18N_KEY, {}),
            materials=s.get(defn.MATERIALS_KEY, []), equipment=s.get(defn.EQUIPMENT_KEY, []),
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
                     description=t["description"], i18n=t.get(defn.I18N_KEY, {}),
                     materials=t.get(defn.MATERIALS_KEY, []))
        for s in canonical["stages"] for t in s["tasks"]
    ])  # fmt: skip
    checkpoints = CheckpointTemplate.objects.bulk_create([
        CheckpointTemplate(protocol=protocol, stage=by_key[s["key"]], order=position,
                           **{k: c[k] for k in defn.CHECKPOINT_KEYS}, i18n=c.get(defn.I18N_KEY, {}),
                           retest_every_days=c.get("retest_every_days"),
                           requires_consent=c.get("requires_consent") or [])
        for s in canonical["stages"] for position, c in enumerate(s["checkpoints"], start=1)
    ])  # fmt: skip
    return {
        "stages": len(stages),
        "dependencies": len(edges),
        "tasks": len(tasks),
        "checkpoints": len(checkpoints),
    }


def delete_stages(stages: QuerySet[StageTemplate]) -> None:
    """Delete ``stages`` with their dependency edges (both ways), tasks and checkpoints."""
    through = StageTemplate.depends_on.through
    stage_ids = list(stages.values_list("pk", flat=True))
    through.objects.filter(from_stagetemplate_id__in=stage_ids).delete()
    through.objects.filter(to_stagetemplate_id__in=stage_ids).delete()
    TaskTemplate.objects.filter(stage_id__in=stage_ids).delete()
    CheckpointTemplate.objects.filter(stage_id__in=stage_ids).delete()
    StageTemplate.objects.filter(pk__in=stage_ids).delete()
