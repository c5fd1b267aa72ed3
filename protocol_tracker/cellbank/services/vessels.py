"""Vessels in culture: seeded, observed (confluence, counts), split 1:k into k children at the
next passage, harvested or discarded.

A split of a vessel at the run's current passage moves the run's passage counter too (through
``runs.services.run_passage``: a ``split`` passage event), so the QC results recorded after it
carry the passage the cells are at.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from labs.models import CAN_WORK
from labs.selectors import require_role
from protocol_tracker.audit.services import audit_record_many
from protocol_tracker.cellbank.locks import lock_vessel
from protocol_tracker.cellbank.models import (
    GROWTH_AREA_CM2,
    Vessel,
    VesselKind,
    VesselObservation,
    VesselStatus,
)
from protocol_tracker.cellbank.services.common import (
    MAX_CELLS,
    check_number,
    next_vessel_number,
    raise_errors,
)
from protocol_tracker.core.actors import Person
from protocol_tracker.core.errors import InvalidTransition, ValidationFailed
from protocol_tracker.core.text import clean_text
from protocol_tracker.runs.locks import lock_run
from protocol_tracker.runs.models import PassageKind, Run
from protocol_tracker.runs.services import run_audit_change, run_passage
from protocol_tracker.runs.services.common import refuse_unless_active

MAX_SPLIT = 50


def _vessel_after(vessel: Vessel) -> dict:
    return {
        "code": vessel.code,
        "passage": vessel.passage,
        "kind": vessel.kind,
        "parent": vessel.parent_id,
        "cells_seeded": vessel.cells_seeded,
        "seeding_density": vessel.seeding_density,
        "status": vessel.status,
    }


def _area(kind: str, given: object, errors: dict) -> float | None:
    area = check_number(
        given, "surface_area_cm2", errors, lo=0, hi=10_000, required=False, lo_inclusive=False
    )
    if area is None and kind in VesselKind.values:
        area = GROWTH_AREA_CM2.get(VesselKind(kind))
    return area


@transaction.atomic
def vessel_seed(
    *,
    run: Run,
    actor: Person,
    kind: str,
    passage: int | None = None,
    cells_seeded: object = None,
    surface_area_cm2: object = None,
    note: str = "",
) -> Vessel:
    """Seed a vessel of an active ``run`` (at the run's passage unless given)."""
    run = lock_run(run.pk)
    require_role(actor, run.lab_id, CAN_WORK, "seed vessels")
    refuse_unless_active(run, "seeding a vessel")
    errors: dict[str, list[str]] = {}
    if kind not in VesselKind.values:
        errors["kind"] = [f"one of {', '.join(VesselKind.values)}"]
    if passage is None:
        passage = run.passage
    elif isinstance(passage, bool) or not isinstance(passage, int) or not 0 <= passage <= 500:
        errors["passage"] = ["a whole number from 0 to 500"]
    cells = check_number(cells_seeded, "cells_seeded", errors, lo=0, hi=MAX_CELLS, required=False)
    area = _area(kind, surface_area_cm2, errors)
    try:
        note = clean_text(note, field="note", max_length=2000)
    except ValidationFailed as exc:
        errors.update(exc.fields)
    raise_errors(errors)
    vessel = Vessel.objects.create(
        lab_id=run.lab_id,
        code=f"{run.code}-C{next_vessel_number(run):03d}",
        run=run,
        donor_id=run.donor_id,
        coi=run.donor.code,
        passage=passage,
        kind=kind,
        surface_area_cm2=area,
        seeded_at=timezone.now(),
        seeded_by=actor,
        cells_seeded=cells,
        seeding_density=(cells / area) if cells is not None and area else None,
        note=note,
    )
    audit_record_many(
        actor=actor,
        changes=[run_audit_change("vessel.seed", vessel, run, None, _vessel_after(vessel))],
    )
    return vessel


@transaction.atomic
def vessel_split(
    *,
    vessel: Vessel,
    ratio: int,
    actor: Person,
    kind: str | None = None,
    cells_per_vessel: object = None,
    note: str = "",
) -> list[Vessel]:
    """Split a vessel in culture 1:``ratio`` into ``ratio`` child vessels at passage n + 1
    (of ``kind``, the parent's by default), each carrying the parent's donor and COI."""
    run = lock_run(Vessel.objects.values_list("run_id", flat=True).get(pk=vessel.pk))
    vessel = lock_vessel(vessel.pk)
    require_role(actor, run.lab_id, CAN_WORK, "split vessels")
    refuse_unless_active(run, "a split")
    if vessel.status != VesselStatus.IN_CULTURE:
        raise InvalidTransition(f"vessel {vessel.code} is {vessel.status}; it cannot be split")
    errors: dict[str, list[str]] = {}
    if isinstance(ratio, bool) or not isinstance(ratio, int) or not 2 <= ratio <= MAX_SPLIT:
        errors["ratio"] = [f"a whole number from 2 to {MAX_SPLIT} (1:k)"]
    kind = kind or vessel.kind
    if kind not in VesselKind.values:
        errors["kind"] = [f"one of {', '.join(VesselKind.values)}"]
    cells = check_number(
        cells_per_vessel, "cells_per_vessel", errors, lo=0, hi=MAX_CELLS, required=False
    )
    area = _area(kind, None, errors)
    try:
        note = clean_text(note, field="note", max_length=2000)
    except ValidationFailed as exc:
        errors.update(exc.fields)
    raise_errors(errors)
    now = timezone.now()
    first = next_vessel_number(run)
    children = Vessel.objects.bulk_create(
        [
            Vessel(
                lab_id=run.lab_id,
                code=f"{run.code}-C{first + i:03d}",
                run=run,
                donor_id=vessel.donor_id,
                coi=vessel.coi,
                parent=vessel,
                passage=vessel.passage + 1,
                kind=kind,
                surface_area_cm2=area,
                seeded_at=now,
                seeded_by=actor,
                cells_seeded=cells,
                seeding_density=(cells / area) if cells is not None and area else None,
                note=note,
            )
            for i in range(ratio)
        ]
    )
    before = {"status": vessel.status}
    vessel.status = VesselStatus.SPLIT
    vessel.split_ratio = ratio
    vessel.closed_at = now
    vessel.save(update_fields=["status", "split_ratio", "closed_at"])
    audit_record_many(
        actor=actor,
        changes=[
            run_audit_change(
                "vessel.split",
                vessel,
                run,
                before,
                {
                    "status": vessel.status,
                    "ratio": ratio,
                    "children": [child.code for child in children],
                },
            ),
            *(
                run_audit_change("vessel.seed", child, run, None, _vessel_after(child))
                for child in children
            ),
        ],
    )
    if vessel.passage == run.passage:
        run_passage(run=run, actor=actor, kind=PassageKind.SPLIT, note=f"{vessel.code} 1:{ratio}")
    return children


@transaction.atomic
def vessel_observe(
    *,
    vessel: Vessel,
    actor: Person,
    confluence_percent: object = None,
    viable_cells: object = None,
    viability_percent: object = None,
    note: str = "",
) -> VesselObservation:
    """Record confluence (%), viable cells and viability (%) of a vessel in culture."""
    vessel = lock_vessel(vessel.pk)
    require_role(actor, vessel.lab_id, CAN_WORK, "observe vessels")
    if vessel.status != VesselStatus.IN_CULTURE:
        raise InvalidTransition(f"vessel {vessel.code} is {vessel.status}; it is not in culture")
    errors: dict[str, list[str]] = {}
    confluence = check_number(
        confluence_percent, "confluence_percent", errors, lo=0, hi=100, required=False
    )
    cells = check_number(viable_cells, "viable_cells", errors, lo=0, hi=MAX_CELLS, required=False)
    viability = check_number(
        viability_percent, "viability_percent", errors, lo=0, hi=100, required=False
    )
    try:
        note = clean_text(note, field="note", max_length=2000)
    except ValidationFailed as exc:
        errors.update(exc.fields)
    if not errors and confluence is None and cells is None and viability is None:
        errors["confluence_percent"] = ["give the confluence, a count or the viability"]
    raise_errors(errors)
    observation = VesselObservation.objects.create(
        lab_id=vessel.lab_id,
        vessel=vessel,
        at=timezone.now(),
        by=actor,
        confluence_percent=confluence,
        viable_cells=cells,
        viability_percent=viability,
        note=note,
    )
    audit_record_many(
        actor=actor,
        changes=[
            run_audit_change(
                "vessel.observe",
                observation,
                vessel.run,
                None,
                {
                    "vessel": vessel.code,
                    "confluence_percent": confluence,
                    "viable_cells": cells,
                    "viability_percent": viability,
                    "note": note,
                },
            )
        ],
    )
    return observation


@transaction.atomic
def vessel_close(*, vessel: Vessel, status: str, actor: Person, reason: str) -> Vessel:
    """End a vessel in culture: ``harvested`` or ``discarded``, with a reason."""
    vessel = lock_vessel(vessel.pk)
    require_role(actor, vessel.lab_id, CAN_WORK, "close vessels")
    if status not in (VesselStatus.HARVESTED, VesselStatus.DISCARDED):
        raise ValidationFailed(
            "status must be harvested or discarded", fields={"status": ["harvested/discarded"]}
        )
    reason = clean_text(reason, field="reason", max_length=1000, required=True)
    if vessel.status != VesselStatus.IN_CULTURE:
        raise InvalidTransition(f"vessel {vessel.code} is {vessel.status}; it is not in culture")
    before = {"status": vessel.status}
    vessel.status = status
    vessel.closed_at = timezone.now()
    vessel.save(update_fields=["status", "closed_at"])
    audit_record_many(
        actor=actor,
        changes=[
            run_audit_change("vessel.close", vessel, vessel.run, before, {"status": status}, reason)
        ],
    )
    return vessel


__all__ = ["vessel_close", "vessel_observe", "vessel_seed", "vessel_split"]
