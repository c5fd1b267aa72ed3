"""A lot's life: received into quarantine, its certificate attached, released by a reviewer's
signature, used up, expired by the beat sweep."""

from __future__ import annotations

from datetime import date, datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from labs.models import CAN_REVIEW, CAN_WORK, Lab
from labs.selectors import require_role
from protocol_tracker.audit.services import Change, audit_record, audit_record_many
from protocol_tracker.core.actors import Person
from protocol_tracker.core.errors import (
    Conflict,
    InvalidTransition,
    SignatureRefused,
    ValidationFailed,
)
from protocol_tracker.core.files import KeptFile, keep_document
from protocol_tracker.core.text import clean_identifier, clean_text
from protocol_tracker.materials.locks import lock_lot
from protocol_tracker.materials.models import LotStatus, Material, MaterialLot
from protocol_tracker.materials.services.use import lab_today, lot_state
from protocol_tracker.signatures.models import SignatureMeaning
from protocol_tracker.signatures.services import signature_sign
from protocol_tracker.specs.quantities import (
    STOCK_UNITS,
    QuantityError,
    normalize_stock_unit,
    parse_quantity,
)


def _save_coa(lot: MaterialLot, kept: KeptFile) -> None:
    lot.coa_sha256 = kept.sha256
    lot.coa_filename = kept.name
    lot.coa.save(kept.name, kept.content, save=False)


@transaction.atomic
def lot_receive(
    *,
    material: Material,
    lot_number: str,
    expiry_date: date,
    quantity: object,
    unit: str | None = None,
    received_at: datetime | None = None,
    coa: bytes | None = None,
    coa_filename: str = "",
    notes: str = "",
    actor: Person,
) -> MaterialLot:
    """Receive a lot into quarantine (anyone who works in the lab).

    Refused: an unknown or inactive material, a lot number already received for it, a lot that
    has expired (its expiry date is today or earlier on the lab's clock), a quantity that is not
    a positive amount, a unit of another dimension than the material's."""
    lab = material.lab
    require_role(actor, lab, CAN_WORK, "receive material lots")
    errors: dict[str, list[str]] = {}
    now = timezone.now()
    if not material.is_active:
        errors["material"] = [f"{material.name} is no longer in use in this lab"]
    try:
        lot_number = clean_identifier(lot_number, field="lot_number")
    except ValidationFailed as exc:
        errors.update(exc.fields)
    if not isinstance(expiry_date, date) or isinstance(expiry_date, datetime):
        errors["expiry_date"] = ["a date is required"]
    elif expiry_date <= lab_today(lab, now):
        errors["expiry_date"] = [
            f"the lot expires on {expiry_date:%Y-%m-%d}: it is expired on the lab's date "
            f"({lab_today(lab, now):%Y-%m-%d}) and cannot be received"
        ]
    try:
        amount = parse_quantity(quantity)
    except QuantityError as exc:
        errors["quantity"] = [str(exc)]
    lot_unit = material.unit
    try:
        lot_unit = normalize_stock_unit(unit or material.unit)
        if STOCK_UNITS[lot_unit].dimension != STOCK_UNITS[material.unit].dimension:
            errors["unit"] = [f"{material.name} is counted in {material.unit}, not {lot_unit}"]
    except QuantityError as exc:
        errors["unit"] = [str(exc)]
    if received_at is not None and (timezone.is_naive(received_at) or received_at > now):
        errors["received_at"] = ["must carry a time zone and not be in the future"]
    try:
        notes = clean_text(notes, field="notes", max_length=2000)
    except ValidationFailed as exc:
        errors.update(exc.fields)
    kept = None
    if coa is not None:
        try:
            kept = keep_document(coa, coa_filename or "coa.pdf", field="coa")
        except ValidationFailed as exc:
            errors.update(exc.fields)
    if errors:
        first, messages = next(iter(errors.items()))
        raise ValidationFailed(f"{first}: {messages[0]}", fields=errors)
    lot = MaterialLot(
        lab=lab,
        material=material,
        lot_number=lot_number,
        code=f"{material.code}-{lot_number}",
        expiry_date=expiry_date,
        unit=lot_unit,
        quantity_received=amount,
        quantity_remaining=amount,
        received_at=received_at or now,
        received_by=actor,
        notes=notes,
    )
    if kept is not None:
        _save_coa(lot, kept)
    try:
        with transaction.atomic():
            lot.save()
    except IntegrityError:
        if kept is not None:
            lot.coa.delete(save=False)
        raise Conflict(
            f"lot {lot_number} of {material.name} was already received (or its label code "
            f"{lot.code} is taken in this lab)",
            code="duplicate",
            fields={"lot_number": ["already received"]},
        ) from None
    audit_record(
        actor=actor,
        action="material_lot.receive",
        obj=lot,
        lab_id=lab.pk,
        after={
            "material": material.code,
            "lot_number": lot_number,
            "expiry_date": expiry_date,
            "quantity_received": str(amount),
            "unit": lot_unit,
            "status": lot.status,
            "coa_sha256": lot.coa_sha256,
        },
    )
    return lot


@transaction.atomic
def lot_coa_attach(*, lot: MaterialLot, data: bytes, filename: str, actor: Person) -> MaterialLot:
    """Attach the certificate of analysis to a lot in quarantine (not after: the release was
    signed against the certificate it had)."""
    lot = lock_lot(lot.pk)
    require_role(actor, lot.lab_id, CAN_WORK, "attach certificates")
    if lot.status != LotStatus.QUARANTINE:
        raise InvalidTransition(
            f"lot {lot.lot_number} is {lot.status}; its certificate was fixed at its release"
        )
    kept = keep_document(data, filename, field="coa")
    before = {"coa_sha256": lot.coa_sha256, "coa_filename": lot.coa_filename}
    _save_coa(lot, kept)
    lot.save(update_fields=["coa", "coa_sha256", "coa_filename"])
    audit_record(
        actor=actor,
        action="material_lot.coa",
        obj=lot,
        lab_id=lot.lab_id,
        before=before,
        after={"coa_sha256": lot.coa_sha256, "coa_filename": lot.coa_filename},
    )
    return lot


@transaction.atomic
def lot_release(
    *, lot: MaterialLot, actor: Person, password: str, statement: str = ""
) -> MaterialLot:
    """Release a lot in quarantine for use, with the reviewer's signature (meaning
    ``released``) over the lot as it stands, certificate hash included. Four eyes: the person
    who received the lot cannot release it. Refused without a certificate and once expired."""
    lot = lock_lot(lot.pk)
    require_role(actor, lot.lab_id, CAN_REVIEW, "release material lots")
    label = f"{lot.material.name} lot {lot.lot_number}"
    if lot.status != LotStatus.QUARANTINE:
        raise InvalidTransition(f"{label} is {lot.status}; only a lot in quarantine is released")
    now = timezone.now()
    if lab_today(lot.lab, now) >= lot.expiry_date:
        raise InvalidTransition(
            f"{label} expired on {lot.expiry_date:%Y-%m-%d}; it cannot be released"
        )
    if not lot.coa_sha256:
        raise InvalidTransition(
            f"{label} has no certificate of analysis; attach it before the release",
            fields={"coa": ["required for the release"]},
        )
    if lot.received_by_id == actor.pk:
        raise SignatureRefused(
            f"four eyes: {actor.get_username()} received {label}; another reviewer releases it"
        )
    statement = clean_text(statement, field="statement", max_length=1000) or (
        f"I release {label} (expiry {lot.expiry_date:%Y-%m-%d}) for use: its certificate of "
        f"analysis (SHA-256 {lot.coa_sha256[:12]}…) was reviewed."
    )
    before = lot_state(lot)
    signature = signature_sign(
        signer=actor,
        password=password,
        meaning=SignatureMeaning.RELEASED,
        obj=lot,
        statement=statement,
    )
    lot.status = LotStatus.RELEASED
    lot.released_at = now
    lot.released_by = actor
    lot.release_signature = signature
    lot.status_changed_at = now
    lot.status_reason = "released"
    lot.save(
        update_fields=[
            "status",
            "released_at",
            "released_by",
            "release_signature",
            "status_changed_at",
            "status_reason",
        ]
    )
    audit_record(
        actor=actor,
        action="material_lot.release",
        obj=lot,
        lab_id=lot.lab_id,
        before=before,
        after={**lot_state(lot), "signature": signature.pk},
    )
    return lot


@transaction.atomic
def lot_mark_consumed(*, lot: MaterialLot, actor: Person, reason: str) -> MaterialLot:
    """A released lot is used up or discarded before it is drawn to zero (with a reason)."""
    lot = lock_lot(lot.pk)
    require_role(actor, lot.lab_id, CAN_WORK, "mark lots used up")
    reason = clean_text(reason, field="reason", max_length=1000, required=True)
    if not lot.can_transition_to(LotStatus.CONSUMED):
        raise InvalidTransition(
            f"lot {lot.lot_number} is {lot.status}; only a released lot can be marked used up"
        )
    before = lot_state(lot)
    lot.status = LotStatus.CONSUMED
    lot.status_changed_at = timezone.now()
    lot.status_reason = reason
    lot.save(update_fields=["status", "status_changed_at", "status_reason"])
    audit_record(
        actor=actor,
        action="material_lot.consumed",
        obj=lot,
        lab_id=lot.lab_id,
        before=before,
        after=lot_state(lot),
        reason=reason,
    )
    return lot


@transaction.atomic
def lots_expire_due(*, now: datetime) -> list[int]:
    """Mark expired every lot in quarantine or released whose expiry date has begun on its lab's
    clock. State-driven and idempotent: run it at any time; returns the lots it marked."""
    changes: list[Change] = []
    expired: list[int] = []
    for lab in Lab.objects.order_by("pk"):
        today = lab_today(lab, now)
        lots = list(
            MaterialLot.objects.select_for_update(skip_locked=True)
            .filter(
                lab=lab,
                status__in=[LotStatus.QUARANTINE, LotStatus.RELEASED],
                expiry_date__lte=today,
            )
            .order_by("pk")
        )
        for lot in lots:
            before = lot_state(lot)
            lot.status = LotStatus.EXPIRED
            lot.status_changed_at = now
            lot.status_reason = f"expired on {lot.expiry_date:%Y-%m-%d} ({lab.timezone})"
            changes.append(
                Change(
                    action="material_lot.expire",
                    obj=lot,
                    before=before,
                    after=lot_state(lot),
                    lab_id=lab.pk,
                )
            )
            expired.append(lot.pk)
        if lots:
            MaterialLot.objects.bulk_update(lots, ["status", "status_changed_at", "status_reason"])
    audit_record_many(actor=None, changes=changes)
    return expired
