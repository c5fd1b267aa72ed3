"""Writing the audit trail. Only services call this, inside their own transaction.

Each event's hash is the SHA-256 of a canonical JSON text of its content and its predecessor's
hash (:func:`event_digest`: ``json.dumps`` with sorted keys, compact separators, ASCII escapes and
Django's encoder). That text is assembled from the already-encoded ``before`` and ``after`` (the
same text goes into the database), so a large batch encodes each value once; the result is byte
for byte what ``json.dumps`` of the whole payload gives (a test pins that). On PostgreSQL a large
batch is written with ``COPY`` (ids drawn from the table's sequence first, in chain order).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from json.encoder import encode_basestring_ascii
from typing import Any, cast

from django.contrib.auth.base_user import AbstractBaseUser
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, models, transaction
from django.db.models import signals
from django.db.models.base import ModelState
from django.utils import timezone

from protocol_tracker.audit.context import request_id_var
from protocol_tracker.audit.models import AuditEvent
from protocol_tracker.core.actors import Actor

GENESIS_HASH = "0" * 64
_CHAIN_LOCK_KEY = 7_331_001  # pg_advisory_xact_lock key that serialises the chain
COPY_MIN_EVENTS = 64  # below this a multi-row INSERT is as fast as COPY
# One encoder for the canonical text (what json.dumps(..., sort_keys=True, separators=(",",
# ":"), cls=DjangoJSONEncoder) builds on every call).
_CANONICAL = DjangoJSONEncoder(sort_keys=True, separators=(",", ":"))
_SCALARS = frozenset({str, int, float, bool, type(None)})


def _canonical(value: Any) -> tuple[Any, str]:
    """``value`` as stored (through JSON: dates become text, tuples lists, keys strings) and the
    canonical JSON text of that stored value."""
    if value is None:
        return None, "null"
    stored = _flat(value) if type(value) is dict else None
    if stored is not None:
        # A flat record (the usual before/after state) is its own stored form.
        text = _flat_text(stored)
    else:
        stored = json.loads(_CANONICAL.encode(value))
        # Encoded again from the stored value: keys that were not text sort otherwise as text.
        text = _CANONICAL.encode(stored)
    if "e+" in text or "-0.0" in text:
        # PostgreSQL's jsonb gives 1e+16 back as 10000000000000000 and -0.0 as 0.0: store what
        # the database will return, or the event would not verify.
        stored = _as_jsonb_returns(stored)
        text = _CANONICAL.encode(stored)
    return stored, text


def _flat(value: dict) -> dict | None:
    """``value`` as JSON gives it back when it is flat (text keys; values null, booleans,
    numbers, text or date-times, which the encoder writes as text); None otherwise."""
    stored = {}
    for key, item in value.items():
        if type(key) is not str:
            return None
        kind = type(item)
        if kind in _SCALARS:
            stored[key] = item
        elif kind is datetime:
            stored[key] = _CANONICAL.default(item)
        elif isinstance(item, str):  # text choices: JSON keeps the text
            stored[key] = str.__str__(item)
        else:
            return None
    return stored


def _flat_text(stored: dict) -> str:
    """``json.dumps`` text (sorted keys, compact) of a flat dict of exact JSON scalars, written
    the way the C encoder writes them, without its per-call set-up."""
    return (
        "{"
        + ",".join(
            encode_basestring_ascii(key) + ":" + _scalar(stored[key]) for key in sorted(stored)
        )
        + "}"
    )


def _as_jsonb_returns(value: Any) -> Any:
    if isinstance(value, float):
        if value.is_integer() and abs(value) >= 1e16:
            return int(value)
        return 0.0 if value == 0 else value
    if isinstance(value, dict):
        return {key: _as_jsonb_returns(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_as_jsonb_returns(item) for item in value]
    return value


def _scalar(value: Any) -> str:
    """Canonical JSON text of a scalar, exactly as ``json.dumps`` writes it."""
    kind = type(value)
    if kind is str:
        return encode_basestring_ascii(value)
    if value is None:
        return "null"
    if kind is int:
        return int.__repr__(value)
    if kind is float and value - value == 0:  # finite (NaN and infinities are spelt out)
        return float.__repr__(value)
    if kind is bool:
        return "true" if value else "false"
    return _CANONICAL.encode(value)


class _Digester:
    """Hashes events that share an actor, a request and a time (one call of
    :func:`audit_record_many`); the shared parts of the canonical text are encoded once.

    The text is that of ``json.dumps`` of the payload with sorted keys, so its parts come in key
    order: action, actor_instrument, actor_label, actor_user, after, before, created_at, lab,
    object_id, object_type, prev, reason, request_id, run. ``before`` and ``after`` are given
    as canonical texts.
    """

    def __init__(
        self,
        *,
        actor_user: int | None,
        actor_instrument: int | None,
        actor_label: str,
        request_id: str,
        created_at: str,
    ) -> None:
        self.actor = (
            f',"actor_instrument":{_scalar(actor_instrument)}'
            f',"actor_label":{_scalar(actor_label)}'
            f',"actor_user":{_scalar(actor_user)},"after":'
        )
        self.created_at = f',"created_at":{_scalar(created_at)},"lab":'
        self.request_id = f',"request_id":{_scalar(request_id)},"run":'

    def digest(
        self,
        *,
        prev: str,
        lab: int | None,
        action: str,
        object_type: str,
        object_id: str,
        run: int | None,
        before: str,
        after: str,
        reason: str,
    ) -> str:
        raw = "".join(
            (
                '{"action":',
                _scalar(action),
                self.actor,
                after,
                ',"before":',
                before,
                self.created_at,
                _scalar(lab),
                ',"object_id":',
                _scalar(object_id),
                ',"object_type":',
                _scalar(object_type),
                ',"prev":',
                _scalar(prev),
                ',"reason":',
                _scalar(reason),
                self.request_id,
                _scalar(run),
                "}",
            )
        )
        return hashlib.sha256(raw.encode()).hexdigest()


def event_digest(event: AuditEvent) -> str:
    """SHA-256 over the event's content and its predecessor's hash: of ``json.dumps`` (sorted
    keys, compact separators, DjangoJSONEncoder) of {prev, lab, actor_user, actor_instrument,
    actor_label, action, object_type, object_id, run, before, after, reason, request_id,
    created_at (ISO 8601)}."""
    digester = _Digester(
        actor_user=event.actor_user_id,
        actor_instrument=event.actor_instrument_id,
        actor_label=event.actor_label,
        request_id=event.request_id,
        created_at=event.created_at.isoformat(),
    )
    return digester.digest(
        prev=event.prev_hash,
        lab=event.lab_id,
        action=event.action,
        object_type=event.object_type,
        object_id=event.object_id,
        run=event.run_id,
        before=_CANONICAL.encode(event.before),
        after=_CANONICAL.encode(event.after),
        reason=event.reason,
    )


def instance_builder(model: type[models.Model]) -> Callable[[dict[str, Any]], models.Model]:
    """A function that makes an unsaved ``model`` instance from its values by attname (every
    concrete field). It skips ``Model.__init__``'s per-field work, a tenth of the cost, which
    matters for batches of thousands, unless something listens to the model's init signals.
    Ask once per batch."""
    if signals.pre_init.has_listeners(model) or signals.post_init.has_listeners(model):
        return lambda values: model(**values)
    new = model.__new__

    def build(values: dict[str, Any]) -> models.Model:
        obj = new(model)
        obj._state = ModelState()
        obj.__dict__.update(values)
        return obj

    return build


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


def _actor_fields(actor: Actor | None) -> tuple[int | None, int | None, str]:
    """(actor_user_id, actor_instrument_id, actor_label). An actor is a person (a user) or an
    instrument; the audit trail tells them apart without importing ``labs`` (a layer above)."""
    if actor is None:
        return None, None, "system"
    if isinstance(actor, AbstractBaseUser):
        return actor.pk, None, actor.get_username()
    return None, actor.pk, f"instrument:{actor.name}"


def _lock_chain_and_get_head() -> str:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_CHAIN_LOCK_KEY])
    last = AuditEvent.objects.order_by("-id").values_list("hash", flat=True).first()
    return last or GENESIS_HASH


_COLUMNS = tuple(f.attname for f in AuditEvent._meta.concrete_fields)
_ID = _COLUMNS.index("id")


@transaction.atomic
def audit_record_many(*, actor: Actor | None, changes: Sequence[Change]) -> list[AuditEvent]:
    """Append one event per change, chained, in one insert. Returns the saved events.

    On PostgreSQL a batch of ``COPY_MIN_EVENTS`` or more is streamed in with ``COPY`` as its
    events are built (the database stores each row while the next is hashed)."""
    if not changes:
        return []
    prev = _lock_chain_and_get_head()
    if connection.vendor == "postgresql" and len(changes) >= COPY_MIN_EVENTS:
        return _copy_events(actor, changes, prev)
    return AuditEvent.objects.bulk_create([event for event, _row in _events(actor, changes, prev)])


def _events(
    actor: Actor | None, changes: Sequence[Change], prev: str
) -> Iterator[tuple[AuditEvent, list]]:
    """Each change's event, chained from ``prev``, with its row for ``COPY`` (in ``_COLUMNS``
    order, the JSON columns as their canonical text)."""
    now = timezone.now()
    user_id, instrument_id, label = _actor_fields(actor)
    request_id = request_id_var.get()
    digester = _Digester(
        actor_user=user_id,
        actor_instrument=instrument_id,
        actor_label=label,
        request_id=request_id,
        created_at=now.isoformat(),
    )
    build = instance_builder(AuditEvent)
    labels: dict[type, str] = {}
    for change in changes:
        obj = change.obj
        lab_id = change.lab_id if change.lab_id is not None else _lab_id_of(obj)
        object_type = labels.get(type(obj))
        if object_type is None:
            object_type = labels[type(obj)] = obj._meta.label_lower
        object_id = str(obj.pk)
        before, before_text = _canonical(change.before)
        after, after_text = _canonical(change.after)
        digest = digester.digest(
            prev=prev,
            lab=lab_id,
            action=change.action,
            object_type=object_type,
            object_id=object_id,
            run=change.run_id,
            before=before_text,
            after=after_text,
            reason=change.reason,
        )
        values = {
            "id": None,
            "lab_id": lab_id,
            "actor_user_id": user_id,
            "actor_instrument_id": instrument_id,
            "actor_label": label,
            "action": change.action,
            "object_type": object_type,
            "object_id": object_id,
            "object_repr": str(obj)[:300],
            "run_id": change.run_id,
            "before": before,
            "after": after,
            "reason": change.reason,
            "request_id": request_id,
            "created_at": now,
            "prev_hash": prev,
            "hash": digest,
        }
        event = cast(AuditEvent, build(values))
        # The JSON columns take their canonical text (SQL NULL for None, as the ORM writes).
        values["before"] = None if before is None else before_text
        values["after"] = None if after is None else after_text
        yield event, [values[name] for name in _COLUMNS]
        prev = digest


def _copy_events(actor: Actor | None, changes: Sequence[Change], prev: str) -> list[AuditEvent]:
    """``COPY`` the events in (PostgreSQL), their ids drawn from the sequence in chain order
    (the chain lock is held, so nobody else draws meanwhile)."""
    table = AuditEvent._meta.db_table
    alias = connection.alias
    events: list[AuditEvent] = []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
            [table, len(changes)],
        )
        ids = sorted(row[0] for row in cursor.fetchall())
        with cursor.cursor.copy(f"COPY {table} ({', '.join(_COLUMNS)}) FROM STDIN") as copy:
            for pk, (event, row) in zip(ids, _events(actor, changes, prev), strict=True):
                event.id = row[_ID] = pk
                copy.write_row(row)
                event._state.adding = False
                event._state.db = alias
                events.append(event)
    return events


def audit_record(
    *,
    actor: Actor | None,
    action: str,
    obj: models.Model,
    before: dict | None = None,
    after: dict | None = None,
    reason: str = "",
    run_id: int | None = None,
    lab_id: int | None = None,
) -> AuditEvent:
    """Append one event to the trail (``actor`` is a user, an instrument or None for the system)."""
    change = Change(
        action=action,
        obj=obj,
        before=before,
        after=after,
        reason=reason,
        run_id=run_id,
        lab_id=lab_id,
    )
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
