"""Custody hand-offs: material changing hands or place, with its label scanned on both sides.

A scan that does not match the item handed over refuses the hand-off (nothing is written): the
person has the wrong material in hand. An unbroken chain is read by
``selectors.custody_chain``, which flags a gap (an item arriving where no hand-off sent it).
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction

from labs.selectors import require_role
from protocol_tracker.audit.services import audit_record
from protocol_tracker.core.actors import Person
from protocol_tracker.core.errors import InvalidTransition, ValidationFailed
from protocol_tracker.core.text import clean_text
from protocol_tracker.custody.locks import lock_handoff
from protocol_tracker.custody.models import Condition, HandOff, Item, Shipment
from protocol_tracker.custody.services.common import CAN_HANDLE, line, moment, temperature
from protocol_tracker.identity.codes import ScanUnreadable, printable, scan_parse
from protocol_tracker.runs.locks import lock_run


def _verify(item: Item, scanned: str, field: str) -> str:
    if not isinstance(scanned, str) or not scanned.strip():
        raise ValidationFailed("scan the item's label", fields={field: ["nothing was scanned"]})
    try:
        parsed = scan_parse(scanned)
    except ScanUnreadable as exc:
        raise ValidationFailed(
            str(exc), code="identity_unreadable", fields={field: [str(exc)]}
        ) from None
    if parsed.coi.value != item.coi.value or parsed.item_id != item.item_id:
        message = (
            f"the label scanned ({parsed.coi.value} {parsed.item_id or '(no item)'}) is not "
            f"{item.item_id} of COI {item.coi.value}: wrong material in hand"
        )
        raise ValidationFailed(message, code="identity_mismatch", fields={field: [message]})
    return printable(scanned.strip())


def handoff_state(handoff: HandOff) -> dict:
    return {
        "item": handoff.item.item_id,
        "from_party": handoff.from_party,
        "from_location": handoff.from_location,
        "to_party": handoff.to_party,
        "to_location": handoff.to_location,
        "sent_at": handoff.sent_at,
        "sent_scan": handoff.sent_scan,
        "received_at": handoff.received_at,
        "received_scan": handoff.received_scan,
        "condition": handoff.condition,
        "temperature_c": handoff.temperature_c,
        "shipment": handoff.shipment_id,
    }


@transaction.atomic
def handoff_send(
    *,
    item: Item,
    from_party: str,
    from_location: str,
    to_party: str,
    to_location: str,
    sent_at: datetime,
    scanned: str,
    actor: Person,
    shipment: Shipment | None = None,
    note: str = "",
) -> HandOff:
    """The sending side: who hands ``item`` over, from where, to whom and where; its label
    scanned. An item already on its way (a hand-off not yet received) cannot be sent again."""
    run = lock_run(item.run_id)
    require_role(actor, run.lab_id, CAN_HANDLE, "hand material over")
    values = {
        "from_party": line(from_party, "from_party"),
        "from_location": line(from_location, "from_location"),
        "to_party": line(to_party, "to_party"),
        "to_location": line(to_location, "to_location"),
    }
    sent = moment(sent_at, "sent_at")
    note = clean_text(note, field="note", max_length=2000)
    if shipment is not None and shipment.run_id != run.pk:
        raise ValidationFailed("shipment not of this run", fields={"shipment": ["not of this run"]})
    scan = _verify(item, scanned, "scanned")
    open_handoff = HandOff.objects.filter(item=item, received_at__isnull=True).first()
    if open_handoff is not None:
        raise InvalidTransition(
            f"{item.item_id} is on its way to {open_handoff.to_location}; receive it first"
        )
    handoff = HandOff.objects.create(
        lab_id=run.lab_id,
        run=run,
        item=item,
        shipment=shipment,
        sent_by=actor,
        sent_at=sent,
        sent_scan=scan,
        note=note,
        **values,
    )
    audit_record(
        actor=actor,
        action="handoff.send",
        obj=handoff,
        run_id=run.pk,
        lab_id=run.lab_id,
        after=handoff_state(handoff),
    )
    return handoff


@transaction.atomic
def handoff_receive(
    *,
    handoff: HandOff,
    received_at: datetime,
    scanned: str,
    condition: str,
    actor: Person,
    temperature_c: float | None = None,
    note: str = "",
) -> HandOff:
    """The receiving side: when, in what condition and at what temperature; the label scanned."""
    run, fresh = lock_handoff(handoff.pk, run_id=handoff.run_id)
    require_role(actor, run.lab_id, CAN_HANDLE, "receive material")
    if fresh.received_at is not None:
        raise InvalidTransition(f"this hand-off of {fresh.item.item_id} was already received")
    received = moment(received_at, "received_at")
    if received < fresh.sent_at:
        raise ValidationFailed(
            "received before it was sent", fields={"received_at": ["before the sending time"]}
        )
    if condition not in Condition.values:
        raise ValidationFailed(
            f"condition must be one of {Condition.values}", fields={"condition": ["unknown"]}
        )
    temp = temperature(temperature_c)
    scan = _verify(fresh.item, scanned, "scanned")
    before = handoff_state(fresh)
    fresh.received_by = actor
    fresh.received_at = received
    fresh.received_scan = scan
    fresh.condition = condition
    fresh.temperature_c = temp
    if note:
        fresh.note = "\n".join(
            filter(None, [fresh.note, clean_text(note, field="note", max_length=2000)])
        )
    fresh.save(
        update_fields=[
            "received_by",
            "received_at",
            "received_scan",
            "condition",
            "temperature_c",
            "note",
        ]
    )
    audit_record(
        actor=actor,
        action="handoff.receive",
        obj=fresh,
        run_id=run.pk,
        lab_id=run.lab_id,
        before=before,
        after=handoff_state(fresh),
    )
    return fresh
