"""Signing a record (21 CFR 11.50/11.70/11.200): the password again, a meaning, a hash.

The signature binds to a SHA-256 of the record as it stands when signed: every column of the
row, plus the ``content`` the caller adds for a record that spans rows (a run's batch record:
its stage runs, results and deviations). Four-eyes rules belong to the callers, which know whose
work is being signed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models, transaction

from labs.models import CAN_REVIEW
from labs.selectors import require_role
from protocol_tracker.audit.services import audit_record
from protocol_tracker.core.actors import Person
from protocol_tracker.core.errors import SignatureRefused, ValidationFailed
from protocol_tracker.signatures.models import Signature, SignatureMeaning


def _lab_id_of(obj: models.Model) -> int:
    value: object = obj
    for part in type(obj).lab_field.split("__"):  # type: ignore[attr-defined]
        value = getattr(value, part)
    return value if isinstance(value, int) else value.pk  # type: ignore[attr-defined]


def _jsonable(value):
    if isinstance(value, models.fields.files.FieldFile):
        return value.name
    return value


def record_state(obj: models.Model, *, content: dict | None = None) -> dict:
    """The signed content: every column of the record, and what the caller adds."""
    state = {
        "type": obj._meta.label_lower,
        "record": {
            f.attname: _jsonable(getattr(obj, f.attname)) for f in obj._meta.concrete_fields
        },
    }
    if content:
        state.update(content)
    return state


def record_hash(obj: models.Model, *, content: dict | None = None) -> str:
    raw = json.dumps(
        record_state(obj, content=content),
        cls=DjangoJSONEncoder,
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(raw.encode()).hexdigest()


@transaction.atomic
def signature_sign(
    *,
    signer: Person,
    password: str,
    meaning: str,
    obj: models.Model,
    statement: str,
    run_id: int | None = None,
    content: dict | None = None,
    roles: Iterable[str] = CAN_REVIEW,
) -> Signature:
    """Sign ``obj`` as it stands now: re-authenticates with the password (a signer with one of
    ``roles`` in the record's lab; reviewers by default)."""
    if meaning not in SignatureMeaning.values:
        raise ValidationFailed(
            f"meaning must be one of {SignatureMeaning.values}",
            fields={"meaning": [f"one of {SignatureMeaning.values}"]},
        )
    statement = (statement or "").strip()
    if not statement:
        raise ValidationFailed("a signature needs a statement", fields={"statement": ["required"]})
    lab_id = _lab_id_of(obj)
    require_role(signer, lab_id, frozenset(roles), "sign records")
    if not password or not signer.check_password(password):
        raise SignatureRefused(
            "password did not match; nothing was signed", code="signature_refused"
        )
    signature = Signature.objects.create(
        lab_id=lab_id,
        signer=signer,
        signer_name=(signer.get_full_name() or signer.get_username())[:200],
        meaning=meaning,
        object_type=obj._meta.label_lower,
        object_id=str(obj.pk),
        run_id=run_id,
        record_hash=record_hash(obj, content=content),
        statement=statement,
    )
    audit_record(
        actor=signer,
        action="signature.sign",
        obj=signature,
        run_id=run_id,
        lab_id=lab_id,
        after={
            "meaning": meaning,
            "object_type": signature.object_type,
            "object_id": signature.object_id,
            "record_hash": signature.record_hash,
            "statement": statement,
            "signer_name": signature.signer_name,
        },
    )
    return signature
