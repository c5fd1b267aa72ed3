"""Design the QC checkpoints of a draft's stages, their units and acceptance specs."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import Max

from protocol_tracker.audit.services import audit_record
from protocol_tracker.core.actors import Actor
from protocol_tracker.protocols import definition as defn
from protocol_tracker.protocols.models import CheckpointTemplate, RecordedBy, StageTemplate
from protocol_tracker.protocols.services.guards import lock_draft, raise_if, snapshot

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
    "retest_every_days",
    "requires_consent",
    "source",
    "notes",
    "order",
)


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
    spec: dict[str, Any],
    blocking: bool = True,
    recorded_by: str = RecordedBy.ANY,
    analyte: str = "",
    pending_allowed: bool = False,
    retest_every_passages: int | None = None,
    retest_every_days: int | None = None,
    requires_consent: list[str] | None = None,
    source: str = "",
    notes: str = "",
    actor: Actor | None,
) -> CheckpointTemplate:
    """Add a QC checkpoint to a draft's stage; unit and spec are checked against the value
    type. A blocking checkpoint may be saved without a spec, but cannot be published so."""
    protocol = lock_draft(stage.protocol, actor)
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
        "retest_every_days": retest_every_days,
        "requires_consent": list(requires_consent or []),
        "source": source,
        "notes": notes,
    }
    problems = defn.checkpoint_problems(values)
    if CheckpointTemplate.objects.filter(protocol=protocol, key=key).exists():
        problems.setdefault("key", []).append(f"checkpoint '{key}' already exists in this protocol")
    raise_if(problems, "the checkpoint has invalid fields")
    highest = CheckpointTemplate.objects.filter(stage=stage).aggregate(o=Max("order"))["o"]
    checkpoint = CheckpointTemplate.objects.create(
        protocol=protocol, stage=stage, order=(highest or 0) + 1, **values
    )
    audit_record(
        actor=actor,
        action="checkpoint_template.added",
        obj=checkpoint,
        lab_id=protocol.lab_id,
        after={"stage": stage.key, **snapshot(checkpoint, CHECKPOINT_FIELDS)},
    )
    return checkpoint


@transaction.atomic
def checkpoint_template_update(
    *, checkpoint: CheckpointTemplate, actor: Actor | None, **changes: Any
) -> CheckpointTemplate:
    """Change a draft's checkpoint; unit, value type and spec are re-checked together."""
    protocol = lock_draft(checkpoint.protocol, actor)
    checkpoint = CheckpointTemplate.objects.get(pk=checkpoint.pk)
    problems: dict[str, list[str]] = {
        f: ["cannot be changed"] for f in changes if f not in CHECKPOINT_FIELDS
    }
    before = snapshot(checkpoint, CHECKPOINT_FIELDS)
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
    raise_if(problems, "the checkpoint has invalid fields")
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
def checkpoint_template_remove(*, checkpoint: CheckpointTemplate, actor: Actor | None) -> None:
    protocol = lock_draft(checkpoint.protocol, actor)
    checkpoint = CheckpointTemplate.objects.select_related("stage").get(pk=checkpoint.pk)
    audit_record(
        actor=actor,
        action="checkpoint_template.removed",
        obj=checkpoint,
        lab_id=protocol.lab_id,
        before={"stage": checkpoint.stage.key, **snapshot(checkpoint, CHECKPOINT_FIELDS)},
    )
    CheckpointTemplate.objects.filter(pk=checkpoint.pk).delete()
