"""E-signatures (21 CFR 11.50/11.70): re-authenticated, bound to a hash of the signed record."""

from __future__ import annotations

import hashlib
import json

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models, transaction

from labs.models import CAN_REVIEW
from labs.selectors import require_role
from protocol_tracker.audit.services import audit_record
from protocol_tracker.core.actors import Person
from protocol_tracker.core.errors import SignatureRefused, ValidationFailed
from protocol_tracker.qc.models import Deviation, QCResult, Signature, SignatureMeaning
from protocol_tracker.runs.models import Run, StageRun


def _lab_id_of(obj: models.Model) -> int:
    value = obj
    for part in type(obj).lab_field.split("__"):
        value = getattr(value, part)
    return value if isinstance(value, int) else value.pk


def _jsonable(value):
    if isinstance(value, models.fields.files.FieldFile):
        return value.name
    return value


def record_state(obj: models.Model) -> dict:
    """The signed content: every column of the record (and, for a run, its batch record)."""
    state = {
        "type": obj._meta.label_lower,
        "record": {
            f.attname: _jsonable(getattr(obj, f.attname)) for f in obj._meta.concrete_fields
        },
    }
    if isinstance(obj, Run):
        state["stage_runs"] = list(
            StageRun.objects.filter(run=obj)
            .order_by("pk")
            .values("id", "status", "completed_at", "completed_by_id")
        )
        state["results"] = list(
            QCResult.objects.filter(stage_run__run=obj)
            .order_by("pk")
            .values(
                "id",
                "checkpoint_id",
                "verdict",
                "value_number",
                "value_bool",
                "value_text",
                "unit",
                "supersedes_id",
            )
        )
        state["deviations"] = list(
            Deviation.objects.filter(run=obj).order_by("pk").values("id", "status", "disposition")
        )
    return state


def record_hash(obj: models.Model) -> str:
    raw = json.dumps(
        record_state(obj), cls=DjangoJSONEncoder, sort_keys=True, separators=(",", ":")
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
    run: Run | None = None,
) -> Signature:
    """Sign ``obj`` as it stands now (21 CFR 11.50/11.70): re-authenticates with the password.

    Four-eyes rules belong to the callers, which know whose work is being signed.
    """
    if meaning not in SignatureMeaning.values:
        raise ValidationFailed(
            f"meaning must be one of {SignatureMeaning.values}",
            fields={"meaning": [f"one of {SignatureMeaning.values}"]},
        )
    statement = (statement or "").strip()
    if not statement:
        raise ValidationFailed("a signature needs a statement", fields={"statement": ["required"]})
    lab_id = _lab_id_of(obj)
    require_role(signer, lab_id, CAN_REVIEW, "sign records")
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
        run=run,
        record_hash=record_hash(obj),
        statement=statement,
    )
    audit_record(
        actor=signer,
        action="signature.sign",
        obj=signature,
        run_id=run.pk if run else None,
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
