"""The labelled items of a run: registered with an item id (kind letter, number, check
character) and the run's COI."""

from __future__ import annotations

from django.db import transaction

from labs.selectors import require_role
from protocol_tracker.audit.services import audit_record_many
from protocol_tracker.core.actors import Person
from protocol_tracker.core.errors import ValidationFailed
from protocol_tracker.custody.models import ITEM_LETTER, Item, ItemKind
from protocol_tracker.custody.services.common import CAN_HANDLE, line, run_coi
from protocol_tracker.identity.codes import item_id_format
from protocol_tracker.identity.services import counter_next
from protocol_tracker.runs.locks import lock_run
from protocol_tracker.runs.models import Run
from protocol_tracker.runs.services import run_audit_change

MAX_ITEMS = 500


@transaction.atomic
def items_register(
    *, run: Run, kind: str, count: int, actor: Person, description: str = ""
) -> list[Item]:
    """``count`` new items of ``kind`` for ``run``, each with an item id unique in the
    installation (one sequence for every lab, as COIs: an item id alone names one item)."""
    run = lock_run(run.pk)
    require_role(actor, run.lab_id, CAN_HANDLE, "register labelled items")
    if kind not in ItemKind.values:
        raise ValidationFailed(
            f"kind must be one of {ItemKind.values}", fields={"kind": ["unknown"]}
        )
    if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= MAX_ITEMS:
        raise ValidationFailed(
            f"count must be 1-{MAX_ITEMS}", fields={"count": [f"a whole number 1-{MAX_ITEMS}"]}
        )
    description = line(description, "description", required=False)
    coi = run_coi(run)
    letter = ITEM_LETTER[ItemKind(kind)]
    items = [
        Item(
            lab_id=run.lab_id,
            run=run,
            coi=coi,
            kind=kind,
            item_id=item_id_format(letter, counter_next("item")),
            description=description,
            created_by=actor,
        )
        for _ in range(count)
    ]
    Item.objects.bulk_create(items)
    audit_record_many(
        actor=actor,
        changes=[
            run_audit_change(
                "custody_item.register",
                item,
                run,
                after={"item_id": item.item_id, "kind": kind, "coi": coi.value},
            )
            for item in items
        ],
    )
    return items
