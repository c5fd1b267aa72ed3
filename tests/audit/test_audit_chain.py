"""The audit trail is append-only and hash-chained; verify_audit names the first tampered event."""

import itertools

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction

from labs.services import membership_set
from protocol_tracker.audit.models import AuditEvent
from protocol_tracker.audit.services import GENESIS_HASH, audit_chain_verify, event_digest
from tests.factories import UserFactory


@pytest.fixture
def events(lab, lab_admin):
    for n in range(5):
        membership_set(
            lab=lab, user=UserFactory(username=f"u{n}"), role="technician", actor=lab_admin
        )
    return list(AuditEvent.objects.order_by("id"))


def test_events_are_chained(events):
    assert events[0].prev_hash == GENESIS_HASH
    for before, after in itertools.pairwise(events):
        assert after.prev_hash == before.hash
    assert all(event_digest(e) == e.hash for e in events)


def test_event_records_who_what_why(events, lab_admin, lab):
    event = events[-1]

    assert event.actor_user == lab_admin
    assert event.actor_label == "admin-a"
    assert event.action == "membership.set"
    assert event.lab == lab
    assert event.after == {"role": "technician", "user": "u4"}


def test_verify_passes_on_an_intact_chain(events, capsys):
    call_command("verify_audit")

    assert audit_chain_verify().checked == len(events)
    assert "audit chain intact" in capsys.readouterr().out


def test_orm_refuses_update_and_delete(events):
    event = events[0]
    event.reason = "edited"
    with pytest.raises(PermissionError):
        event.save()
    with pytest.raises(PermissionError):
        event.delete()
    with pytest.raises(PermissionError):
        AuditEvent.objects.all().delete()


def test_verify_names_the_first_tampered_event(events):
    if connection.vendor == "postgresql":
        pytest.skip("on PostgreSQL the trigger refuses the tampering itself (next test)")
    victim = events[2]
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE audit_auditevent SET reason = 'quietly changed' WHERE id = %s", [victim.pk]
        )

    with pytest.raises(CommandError) as excinfo:
        call_command("verify_audit")

    assert f"broken at event #{victim.pk}: content does not match its hash" in str(excinfo.value)


def test_verify_detects_a_removed_event(events):
    if connection.vendor == "postgresql":
        pytest.skip("on PostgreSQL the trigger refuses DELETE (next test)")
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM audit_auditevent WHERE id = %s", [events[1].pk])

    report = audit_chain_verify()

    assert report.first_bad_id == events[2].pk
    assert report.problem == "link to the previous event is broken"


def test_postgres_trigger_refuses_update_and_delete(postgres, events):
    for sql in (
        "UPDATE audit_auditevent SET reason = 'x' WHERE id = %s",
        "DELETE FROM audit_auditevent WHERE id = %s",
    ):
        with (
            pytest.raises(DatabaseError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(sql, [events[0].pk])

    assert AuditEvent.objects.get(pk=events[0].pk).reason == ""
