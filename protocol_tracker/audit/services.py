"""Writing the audit trail. Only services call this, inside their own transaction."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, models, transaction
from django.utils import timezone

from protocol_tracker.audit.context import request_id_var
from protocol_tracker.audit.models import AuditEvent

GENESIS_HASH = "0" * 64
_CHAIN_LOCK_KEY = 7_331_001  # pg_advisory_xact_lock key that serialises the chain


def _jsonable(value: Any) -> Any:
    if value is None:
        return None
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder, sort_keys=True))


def event_digest(event: AuditEvent) -> str:
    """SHA-256 over the event's content and its predecessor's hash."""
    payload = {
        "prev": event.prev_hash,
        "lab": event.lab_id,
        "actor_user": event.actor_user_id,
        "actor_instrument": event.actor_instrument_id,
        "actor_label": event.actor_label,
        "action": event.action,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "run": event.run_id,
        "before": event.before,
        "after": event.after,
        "reason": event.reason,
        "request_id": event.request_id,
        "created_at": event.created_at.isoformat(),
    }
    raw = json.dumps(payload, sort_keys=True, separators=(",", ":"), cls=DjangoJSONEncoder)
    return hashlib.sha256(raw.encode()).hexdigest()


@dataclass(frozen=True)
class Change:
    """One audit entry to write: ``obj`` changed from ``before`` to ``after`` by ``action``."""

    action: str
    obj: models.Model
    before: dict | None = None
    after: dict | None = None
    reason: str = ""
    run_id: int | None = None
    lab_id: int | None = None


def _actor_fields(actor) -> dict:
    from labs.models import Instrument

    if actor is None:
        return {"actor_user": None, "actor_instrument": None, "actor_label": "system"}
    if isinstance(actor, Instrument):
        return {"actor_user": None, "actor_instrument": actor,
                "actor_label": f"instrument:{actor.name}"}
    return {"actor_user": actor, "actor_instrument": None, "actor_label": actor.get_username()}


def _lock_chain_and_get_head() -> str:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_CHAIN_LOCK_KEY])
    last = AuditEvent.objects.order_by("-id").values_list("hash", flat=True).first()
    return last or GENESIS_HASH


@transaction.atomic
def audit_record_many(*, actor, changes: Sequence[Change]) -> list[AuditEvent]:
    """Append one event per change, chained, in one insert. Returns the saved events."""
    if not changes:
        return []
    prev = _lock_chain_and_get_head()
    now = timezone.now()
    actor_fields = _actor_fields(actor)
    request_id = request_id_var.get()
    events = []
    for change in changes:
        lab_id = change.lab_id if change.lab_id is not None else _lab_id_of(change.obj)
        event = AuditEvent(
            lab_id=lab_id,
            action=change.action,
            object_type=change.obj._meta.label_lower,
            object_id=str(change.obj.pk),
            object_repr=str(change.obj)[:300],
            run_id=change.run_id,
            before=_jsonable(change.before),
            after=_jsonable(change.after),
            reason=change.reason,
            request_id=request_id,
            created_at=now,
            prev_hash=prev,
            **actor_fields,
        )
        event.hash = event_digest(event)
        prev = event.hash
        events.append(event)
    return AuditEvent.objects.bulk_create(events)


def audit_record(
    *,
    actor,
    action: str,
    obj: models.Model,
    before: dict | None = None,
    after: dict | None = None,
    reason: str = "",
    run_id: int | None = None,
    lab_id: int | None = None,
) -> AuditEvent:
    """Append one event to the trail (``actor`` is a user, an instrument or None for the system)."""
    change = Change(action=action, obj=obj, before=before, after=after, reason=reason,
                    run_id=run_id, lab_id=lab_id)
    return audit_record_many(actor=actor, changes=[change])[0]


def _lab_id_of(obj: models.Model) -> int | None:
    field = getattr(type(obj), "lab_field", None)
    if field is None:
        return None
    if field == "pk":
        return obj.pk
    value: Any = obj
    for part in field.split("__"):
        value = getattr(value, part)
    return value.pk if value is not None else None


@dataclass(frozen=True)
class ChainReport:
    checked: int
    first_bad_id: int | None
    problem: str = ""

    @property
    def ok(self) -> bool:
        return self.first_bad_id is None


def audit_chain_verify(*, batch_size: int = 2000) -> ChainReport:
    """Recompute every hash in id order; name the first event whose content or link is wrong."""
    prev = GENESIS_HASH
    checked = 0
    for event in AuditEvent.objects.order_by("id").iterator(chunk_size=batch_size):
        if event.prev_hash != prev:
            return ChainReport(checked, event.pk, "link to the previous event is broken")
        if event_digest(event) != event.hash:
            return ChainReport(checked, event.pk, "content does not match its hash")
        prev = event.hash
        checked += 1
    return ChainReport(checked, None)
