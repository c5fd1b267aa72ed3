"""The building blocks the layers above call with a lot they locked: may it be used now, draw a
quantity from it, mark it recalled. They return audit changes for the caller to write with the
rest of its transaction's events."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from django.db.models import F

from labs.models import Lab
from protocol_tracker.audit.services import Change
from protocol_tracker.core.errors import Conflict, ValidationFailed
from protocol_tracker.materials.models import LotStatus, MaterialLot
from protocol_tracker.specs.quantities import QuantityError, convert_quantity, parse_quantity


def lab_today(lab: Lab, now: datetime) -> date:
    """The date on the lab's wall clock at ``now``."""
    return now.astimezone(lab.tz).date()


def lot_state(lot: MaterialLot) -> dict:
    return {
        "status": lot.status,
        "quantity_remaining": str(lot.quantity_remaining),
        "unit": lot.unit,
        "expiry_date": lot.expiry_date,
        "status_reason": lot.status_reason,
    }


@dataclass(frozen=True)
class LotCheck:
    """A lot that may be used now: days to its expiry and, near it, the warning to show."""

    lot: MaterialLot
    days_left: int
    warning: str = ""

    @property
    def near_expiry(self) -> bool:
        return bool(self.warning)


_REFUSED: dict[str, tuple[str, str]] = {
    LotStatus.QUARANTINE: ("lot_quarantined", "is in quarantine: it has not been released"),
    LotStatus.RECALLED: ("lot_recalled", "was recalled"),
    LotStatus.CONSUMED: ("lot_consumed", "is used up"),
}


def lot_check_use(lot: MaterialLot, *, now: datetime, field: str = "lots") -> LotCheck:
    """May ``lot`` (with its material and lab) be used at ``now``? A Conflict naming the rule
    when not: quarantined, recalled, used up, or expired (by its status, or by its date on the
    lab's clock: the day it expires it is expired); else the days left and, within the
    material's warning days, a warning."""
    label = f"{lot.material.name} lot {lot.lot_number}"
    today = lab_today(lot.lab, now)
    if lot.status in _REFUSED:
        code, why = _REFUSED[lot.status]
        reason = (
            f" ({lot.status_reason})"
            if lot.status == LotStatus.RECALLED and lot.status_reason
            else ""
        )
        message = f"{label} {why}{reason}; it cannot be used"
        raise Conflict(message, code=code, fields={field: [message]})
    if lot.status == LotStatus.EXPIRED or today >= lot.expiry_date:
        message = (
            f"{label} expired on {lot.expiry_date:%Y-%m-%d} (the lab's date is "
            f"{today:%Y-%m-%d}); it cannot be used"
        )
        raise Conflict(message, code="lot_expired", fields={field: [message]})
    days_left = (lot.expiry_date - today).days
    warning = ""
    if days_left <= lot.material.warning_days:
        warning = (
            f"{label} expires on {lot.expiry_date:%Y-%m-%d}, in {days_left} "
            f"day{'s' if days_left != 1 else ''}"
        )
    return LotCheck(lot=lot, days_left=days_left, warning=warning)


def parse_draw(quantity: object, unit: object, lot: MaterialLot, *, field: str) -> Decimal:
    """``quantity`` of ``unit`` as an amount of ``lot``'s unit; ValidationFailed naming
    ``field`` for a value that is not a usable amount or a unit of another dimension."""
    try:
        amount = parse_quantity(quantity)
        return convert_quantity(amount, str(unit or lot.unit), lot.unit)
    except QuantityError as exc:
        raise ValidationFailed(f"{field}: {exc}", fields={field: [str(exc)]}) from None


def lot_draw(
    lot: MaterialLot, *, amount: Decimal, now: datetime, run_id: int | None = None
) -> list[Change]:
    """Take ``amount`` (in the lot's unit, > 0) from ``lot`` (locked); a Conflict when less is
    left. The lot is used up (``consumed``) when nothing remains."""
    if amount > lot.quantity_remaining:
        message = (
            f"only {lot.quantity_remaining.normalize():f} {lot.unit} is left of "
            f"{lot.material.name} lot {lot.lot_number}; {amount.normalize():f} {lot.unit} "
            "cannot be drawn"
        )
        raise Conflict(message, code="insufficient_quantity", fields={"quantity": [message]})
    before = lot_state(lot)
    MaterialLot.objects.filter(pk=lot.pk).update(
        quantity_remaining=F("quantity_remaining") - amount
    )
    lot.refresh_from_db(fields=["quantity_remaining"])
    fields = ["quantity_remaining"]
    if lot.quantity_remaining == 0 and lot.can_transition_to(LotStatus.CONSUMED):
        lot.status = LotStatus.CONSUMED
        lot.status_changed_at = now
        lot.status_reason = "used up"
        lot.save(update_fields=["status", "status_changed_at", "status_reason"])
        fields.append("status")
    return [
        Change(
            action="material_lot.draw",
            obj=lot,
            before={k: before[k] for k in ("quantity_remaining", "status")},
            after={
                "quantity_remaining": str(lot.quantity_remaining),
                "status": lot.status,
                "drawn": str(amount),
            },
            run_id=run_id,
            lab_id=lot.lab_id,
        )
    ]


def lot_mark_recalled(lot: MaterialLot, *, reason: str, now: datetime) -> Change:
    """Mark ``lot`` (locked) recalled, from any state but recalled."""
    if not lot.can_transition_to(LotStatus.RECALLED):
        raise Conflict(
            f"{lot.material.name} lot {lot.lot_number} was already recalled",
            code="already_recalled",
        )
    before = lot_state(lot)
    lot.status = LotStatus.RECALLED
    lot.status_changed_at = now
    lot.status_reason = reason
    lot.save(update_fields=["status", "status_changed_at", "status_reason"])
    return Change(
        action="material_lot.recall",
        obj=lot,
        before=before,
        after=lot_state(lot),
        reason=reason,
        lab_id=lot.lab_id,
    )
