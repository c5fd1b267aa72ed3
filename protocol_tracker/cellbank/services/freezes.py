"""Freezing a run's cells into vials, in free positions chosen or suggested.

The positions are locked (after the run and the freeze medium's lot) and checked again under the
lock, so of two freezes racing for one position exactly one wins; the other is refused with
nothing written. The vial table's partial unique index (one stored or reserved vial per
position) is the last word if anything slipped past.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone

from labs.models import CAN_WORK
from labs.selectors import require_role
from protocol_tracker.audit.services import Change, audit_record_many
from protocol_tracker.cellbank.models import (
    IN_STORAGE,
    BankTier,
    Freeze,
    MovementKind,
    Vial,
    VialMovement,
)
from protocol_tracker.cellbank.services.common import (
    MAX_CELLS_PER_VIAL,
    check_number,
    next_vial_number,
    raise_errors,
)
from protocol_tracker.core.actors import Person
from protocol_tracker.core.errors import Conflict, InvalidTransition, ValidationFailed
from protocol_tracker.core.files import keep_document
from protocol_tracker.core.text import clean_text
from protocol_tracker.equipment.models import Equipment
from protocol_tracker.equipment.selectors import equipment_check_use
from protocol_tracker.inventory.models import Box, Position
from protocol_tracker.inventory.selectors import location_of
from protocol_tracker.inventory.services import clear_reservation, lock_positions
from protocol_tracker.runs.locks import lock_stage_run
from protocol_tracker.runs.models import PassageKind, StageRun
from protocol_tracker.runs.services import (
    WORKING_STAGE_STATUSES,
    refuse_unless_workable,
    run_audit_change,
    run_passage,
)
from protocol_tracker.usage.services import LotUse, record_usage

MAX_VIALS_PER_FREEZE = 200


def free_positions(box: Box, count: int) -> list[Position]:
    """The first ``count`` free, unreserved positions of ``box``, row by row (one query)."""
    return list(
        Position.objects.filter(box=box, reserved_at__isnull=True)
        .exclude(vials__status__in=IN_STORAGE)
        .select_related("box__rack__tank")
        .order_by("row", "column")[:count]
    )


def occupied(position_ids: Sequence[int]) -> dict[int, str]:
    """Position id → the code of the vial stored or reserved in it."""
    return dict(
        Vial.objects.filter(position_id__in=list(position_ids), status__in=IN_STORAGE).values_list(
            "position_id", "code"
        )
    )


@transaction.atomic
def vials_freeze(
    *,
    stage_run: StageRun,
    actor: Person,
    count: int,
    cells_per_vial: float,
    contents: str,
    medium: LotUse,
    bank: str = BankTier.NONE,
    positions: Sequence[Position] = (),
    box: Box | None = None,
    freezer: Equipment | None = None,
    volume_ml: object = None,
    profile: bytes | None = None,
    profile_filename: str = "",
    note: str = "",
) -> Freeze:
    """Freeze ``count`` vials of ``stage_run``'s run (a stage in progress) at the run's passage.

    Positions: the ``positions`` given (``count`` of them, each free), or the first free ones of
    ``box``. ``medium`` is the freeze medium's lot (drawn through the usage gates; it shows in
    the lot's where-used); ``freezer`` a controlled-rate freezer in calibration; ``profile`` its
    freezing-profile file (kept with its SHA-256)."""
    sr = lock_stage_run(stage_run.pk, run_id=stage_run.run_id)
    run = sr.run
    require_role(actor, run.lab_id, CAN_WORK, "freeze vials")
    refuse_unless_workable(run, sr, doing="freezing vials", refused="cannot freeze vials")
    if sr.status not in WORKING_STAGE_STATUSES:
        raise InvalidTransition(
            f"stage '{sr.stage.name}' is {sr.status}; vials are frozen while it is in progress"
        )
    errors: dict[str, list[str]] = {}
    if (
        isinstance(count, bool)
        or not isinstance(count, int)
        or not 1 <= count <= MAX_VIALS_PER_FREEZE
    ):
        errors["count"] = [f"a whole number from 1 to {MAX_VIALS_PER_FREEZE}"]
    cells = check_number(
        cells_per_vial, "cells_per_vial", errors, lo=0, hi=MAX_CELLS_PER_VIAL, lo_inclusive=False
    )
    volume = check_number(
        volume_ml, "volume_ml", errors, lo=0, hi=100, required=False, lo_inclusive=False
    )
    if bank not in BankTier.values:
        errors["bank"] = [f"one of {', '.join(BankTier.values)}"]
    try:
        contents = clean_text(
            contents, field="contents", max_length=200, required=True, multiline=False
        )
        note = clean_text(note, field="note", max_length=2000)
    except ValidationFailed as exc:
        errors.update(exc.fields)
    if freezer is not None and freezer.lab_id != run.lab_id:
        errors["freezer"] = ["equipment not found in this lab"]
    kept = None
    if profile is not None:
        try:
            kept = keep_document(profile, profile_filename or "profile.csv", field="profile")
        except ValidationFailed as exc:
            errors.update(exc.fields)
    chosen = list(positions)
    if chosen:
        if len(chosen) != count:
            errors["positions"] = [f"give {count} positions, one per vial (got {len(chosen)})"]
        elif len({p.pk for p in chosen}) != len(chosen):
            errors["positions"] = ["a position is given twice"]
        elif any(p.lab_id != run.lab_id for p in chosen):
            errors["positions"] = ["position not found in this lab"]
    elif box is None:
        errors["positions"] = ["choose the positions, or a box to fill"]
    elif box.lab_id != run.lab_id:
        errors["box"] = ["box not found in this lab"]
    raise_errors(errors)
    assert cells is not None  # checked: required
    now = timezone.now()

    recorded = record_usage(
        run=run, stage_run=sr, actor=actor, now=now, lots=[medium], bill=[], purpose="freeze"
    )
    if freezer is not None:
        equipment_check_use(freezer, now=now, field="freezer")
    if not chosen:
        assert box is not None
        chosen = free_positions(box, count)
        if len(chosen) < count:
            raise Conflict(
                f"box {box} has {len(chosen)} free position(s); {count} are needed",
                code="box_full",
                fields={"box": [f"only {len(chosen)} free"]},
            )
    locked = lock_positions([p.pk for p in chosen])
    taken = occupied(list(locked))
    if taken:
        names = ", ".join(
            f"{location_of(locked[pk])} (vial {code})" for pk, code in sorted(taken.items())
        )
        raise Conflict(
            f"occupied position(s): {names}; nothing was frozen",
            code="position_occupied",
            fields={"positions": [f"occupied: {names}"]},
        )
    freeze = Freeze(
        lab_id=run.lab_id,
        run=run,
        stage_run=sr,
        frozen_at=now,
        frozen_by=actor,
        vial_count=count,
        cells_per_vial=cells,
        volume_ml=Decimal(str(volume)) if volume is not None else None,
        passage=run.passage,
        bank=bank,
        contents=contents,
        medium_consumption=recorded.consumptions[0],
        freezer=freezer,
        note=note,
    )
    if kept is not None:
        freeze.profile_sha256 = kept.sha256
        freeze.profile_filename = kept.name
        freeze.profile.save(kept.name, kept.content, save=False)
    freeze.save()
    first = next_vial_number(run)
    ordered = [locked[p.pk] for p in chosen]
    vials = [
        Vial(
            lab_id=run.lab_id,
            code=f"{run.code}-V{first + i:03d}",
            donor_id=run.donor_id,
            coi=run.donor.code,
            run=run,
            freeze=freeze,
            passage=run.passage,
            cells_per_vial=cells,
            contents=contents,
            bank=bank,
            position=position,
            frozen_at=now,
        )
        for i, position in enumerate(ordered)
    ]
    reservations = [p for p in ordered if clear_reservation(p) is not None]
    if reservations:
        Position.objects.bulk_update(reservations, ["reserved_at", "reserved_by", "reserved_for"])
    try:
        with transaction.atomic():
            Vial.objects.bulk_create(vials)
    except IntegrityError:
        raise Conflict(
            "a position was filled by another freeze at the same moment; nothing was frozen",
            code="position_occupied",
        ) from None
    VialMovement.objects.bulk_create(
        [
            VialMovement(
                lab_id=run.lab_id,
                vial=vial,
                kind=MovementKind.FREEZE,
                at=now,
                by=actor,
                to_position=vial.position,
            )
            for vial in vials
        ]
    )
    changes: list[Change] = [
        *recorded.changes,
        run_audit_change(
            "freeze.record",
            freeze,
            run,
            None,
            {
                "vials": count,
                "cells_per_vial": cells,
                "passage": run.passage,
                "bank": bank,
                "contents": contents,
                "medium_lot": medium.lot.code,
                "freezer": freezer.code if freezer else None,
                "profile_sha256": freeze.profile_sha256,
            },
        ),
        *(
            run_audit_change(
                "vial.freeze",
                vial,
                run,
                None,
                {
                    "code": vial.code,
                    "position": location_of(vial.position),
                    "coi": vial.coi,
                    "passage": vial.passage,
                },
            )
            for vial in vials
        ),
    ]
    audit_record_many(actor=actor, changes=changes)
    run_passage(run=run, actor=actor, kind=PassageKind.FREEZE, note=f"{count} vials ({contents})")
    return freeze
