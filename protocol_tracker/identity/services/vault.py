"""The patient-identifier vault: record, correct and read identifiers (encrypted at rest).

Only the roles that may see the patient (``CAN_SEE_PATIENT``: clinicians) record or read them;
every read is an audit event naming who read which COI's identifiers and why. Counting them
(``selectors.patient_identifier_kinds``) reveals nothing and needs no key.
"""

from __future__ import annotations

from collections.abc import Mapping

from django.db import transaction

from labs.models import CAN_ADMINISTER, CAN_SEE_PATIENT
from labs.selectors import require_role
from protocol_tracker.audit.services import Change, audit_record, audit_record_many
from protocol_tracker.core.actors import Person
from protocol_tracker.core.errors import ValidationFailed
from protocol_tracker.core.text import clean_text
from protocol_tracker.identity import vault
from protocol_tracker.identity.models import Coi, IdentifierKind, PatientIdentifier
from protocol_tracker.identity.selectors import current_patient_identifiers

MAX_IDENTIFIER_CHARS = 200


def _clean_values(values: Mapping[str, object]) -> dict[str, str]:
    cleaned: dict[str, str] = {}
    errors: dict[str, list[str]] = {}
    for kind, raw in values.items():
        if kind not in IdentifierKind.values:
            errors[str(kind)] = [f"not an identifier kind (one of {IdentifierKind.values})"]
            continue
        try:
            text = clean_text(
                raw, field=kind, max_length=MAX_IDENTIFIER_CHARS, required=True, multiline=False
            )
        except ValidationFailed as exc:
            errors.update(exc.fields)
            continue
        cleaned[kind] = text
    if errors:
        raise ValidationFailed(
            "patient identifiers: " + next(iter(errors.values()))[0], fields=errors
        )
    if not cleaned:
        raise ValidationFailed("no identifier given", fields={"identifiers": ["give at least one"]})
    return cleaned


@transaction.atomic
def patient_identifiers_record(
    *, coi: Coi, values: Mapping[str, object], actor: Person, reason: str = ""
) -> list[PatientIdentifier]:
    """Record identifiers of the patient behind ``coi`` (kind -> value). A kind already on
    record is corrected (a new row supersedes it), which needs a ``reason``."""
    require_role(actor, coi.lab_id, CAN_SEE_PATIENT, "record patient identifiers")
    cleaned = _clean_values(values)
    reason = clean_text(reason, field="reason", max_length=2000)
    current = {row.kind: row for row in current_patient_identifiers(coi=coi)}
    if any(kind in current for kind in cleaned) and not reason:
        raise ValidationFailed(
            "correcting an identifier on record needs a reason",
            fields={"reason": ["this field is required"]},
        )
    rows = []
    changes = []
    for kind, text in cleaned.items():
        old = current.get(kind)
        row = PatientIdentifier.objects.create(
            lab_id=coi.lab_id,
            coi=coi,
            kind=kind,
            token=vault.encrypt(text),
            supersedes=old,
            reason=reason if old else "",
            recorded_by=actor,
        )
        rows.append(row)
        # The audit trail says which identifier changed, never its value.
        changes.append(
            Change(
                action="patient_identifier.record" if old is None else "patient_identifier.correct",
                obj=row,
                before={"supersedes": old.pk} if old else None,
                after={"coi": coi.value, "kind": kind},
                reason=reason if old else "",
                lab_id=coi.lab_id,
            )
        )
    audit_record_many(actor=actor, changes=changes)
    return rows


@transaction.atomic
def patient_identifiers_read(*, coi: Coi, actor: Person, purpose: str) -> dict[str, str]:
    """The current identifiers of the patient behind ``coi`` (kind -> value), for a person who
    may see the patient; the read is audited with its ``purpose`` (a reveal on screen, a label
    print). Anyone else: NotPermitted, and nothing is read."""
    require_role(actor, coi.lab_id, CAN_SEE_PATIENT, "see patient identifiers")
    purpose = clean_text(purpose, field="purpose", max_length=300, required=True, multiline=False)
    rows = list(current_patient_identifiers(coi=coi))
    values = {row.kind: vault.decrypt(row.token) for row in rows}
    audit_record(
        actor=actor,
        action="patient_identifier.read",
        obj=coi,
        lab_id=coi.lab_id,
        after={"kinds": ",".join(sorted(values)), "count": len(values)},
        reason=purpose,
    )
    return values


@transaction.atomic
def vault_rotate(*, actor: Person | None = None, lab_id: int | None = None) -> int:
    """Re-encrypt every identifier token (of one lab, or all) with the newest key; returns the
    number of tokens rewritten. The value is unchanged; the audit trail says a rotation ran."""
    if actor is not None and lab_id is not None:
        require_role(actor, lab_id, CAN_ADMINISTER, "rotate the vault key")
    rows = PatientIdentifier.objects.select_for_update()
    if lab_id is not None:
        rows = rows.filter(lab_id=lab_id)
    count = 0
    for row in rows.order_by("pk"):
        token = vault.rotate(row.token)
        if token != row.token:
            # The ciphertext only: the one column of this table that may be rewritten.
            PatientIdentifier.objects.filter(pk=row.pk).update(token=token)
            count += 1
    labs = set(PatientIdentifier.objects.values_list("lab_id", flat=True).distinct())
    for lab in sorted(labs if lab_id is None else {lab_id}):
        first = PatientIdentifier.objects.filter(lab_id=lab).order_by("pk").first()
        if first is not None:
            audit_record(
                actor=actor,
                action="patient_identifier.rotate",
                obj=first,
                lab_id=lab,
                after={"rewritten": count},
            )
    return count
