"""The hash of an event is SHA-256 of json.dumps of its content, byte for byte, whichever way the
event was written (a small batch through the ORM, a large one through COPY on PostgreSQL), and it
still verifies once read back from the database."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.core.serializers.json import DjangoJSONEncoder
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from protocol_tracker.audit.models import AuditEvent
from protocol_tracker.audit.services import (
    COPY_MIN_EVENTS,
    Change,
    audit_chain_verify,
    audit_record_many,
    event_digest,
)
from protocol_tracker.runs.models import RunStatus

pytestmark = pytest.mark.django_db


def reference_digest(event: AuditEvent) -> str:
    """The chain's definition, as first written: json.dumps of the whole payload."""
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


text = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=12)
scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**60), 2**60)
    | st.floats(allow_nan=False, allow_infinity=False)
    | text
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
    max_leaves=12,
)
moments = st.datetimes(timezones=st.just(UTC)) | st.datetimes()
flat = st.dictionaries(text, scalars | moments | st.sampled_from(list(RunStatus)), max_size=8)
states = st.none() | flat | st.dictionaries(text, values, max_size=6)


def _check(events):
    for event in events:
        assert event.hash == reference_digest(event) == event_digest(event)
    for stored in AuditEvent.objects.filter(pk__in=[e.pk for e in events]):
        assert stored.hash == reference_digest(stored)
    assert audit_chain_verify().ok


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(before=states, after=states, reason=text, action=text)
def test_small_batches_hash_like_json_dumps(lab, technician, before, after, reason, action):
    change = Change(action=action or "x", obj=lab, before=before, after=after, reason=reason)
    _check(audit_record_many(actor=technician, changes=[change, change]))


@settings(
    max_examples=5, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(items=st.lists(st.tuples(states, states, text), min_size=1, max_size=8))
def test_large_batches_hash_like_json_dumps(lab, technician, items):
    changes = [
        Change(action="bulk", obj=lab, before=before, after=after, reason=reason, lab_id=lab.pk)
        for before, after, reason in items * (COPY_MIN_EVENTS // len(items) + 1)
    ]
    events = audit_record_many(actor=technician, changes=changes)
    assert len(events) >= COPY_MIN_EVENTS
    _check(events)


def test_values_are_stored_as_the_database_returns_them(lab, technician):
    when = datetime(2026, 3, 2, 1, 0, 0, 123456, tzinfo=UTC)
    after = {
        "when": when,
        "amount": Decimal("1.50"),
        "ids": (1, 2),
        "by_id": {2: "b", 10: "a"},
        "big": 2e16,
        "zero": -0.0,
        "text": "Zelle 细胞",
    }
    (event,) = audit_record_many(
        actor=technician, changes=[Change(action="x", obj=lab, after=after)]
    )

    assert event.after == {
        "when": "2026-03-02T01:00:00.123Z",
        "amount": "1.50",
        "ids": [1, 2],
        "by_id": {"2": "b", "10": "a"},
        "big": 20000000000000000,
        "zero": 0.0,
        "text": "Zelle 细胞",
    }
    assert AuditEvent.objects.get(pk=event.pk).after == event.after
    _check([event])


@given(flat=st.dictionaries(text, scalars | st.floats() | moments, max_size=10))
def test_flat_records_encode_like_json_dumps(flat):
    from protocol_tracker.audit.services import _as_jsonb_returns, _canonical

    stored, canonical = _canonical(flat)
    expected = _as_jsonb_returns(json.loads(json.dumps(flat, cls=DjangoJSONEncoder)))
    assert json.dumps(stored, sort_keys=True) == json.dumps(expected, sort_keys=True)
    assert canonical == json.dumps(
        stored, sort_keys=True, separators=(",", ":"), cls=DjangoJSONEncoder
    )
