"""Instrument credentials: never stored in clear, shown once, revocable."""

import hashlib

import pytest

from labs.models import InstrumentCredential
from labs.services import (
    instrument_authenticate,
    instrument_credential_issue,
    instrument_credential_revoke,
)
from protocol_tracker.audit.models import AuditEvent
from tests.factories import InstrumentFactory


@pytest.fixture
def instrument(lab):
    return InstrumentFactory(lab=lab, name="Countess 3")


def test_token_is_stored_hashed(instrument, lab_admin):
    credential, token = instrument_credential_issue(instrument=instrument, actor=lab_admin)
    secret = token.split("_", 2)[2]

    stored = InstrumentCredential.objects.get(pk=credential.pk)
    assert token.startswith(f"pti_{stored.prefix}_")
    assert len(secret) >= 40
    assert stored.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    for field in InstrumentCredential._meta.concrete_fields:
        assert secret not in str(getattr(stored, field.attname))


def test_token_authenticates_its_instrument(instrument, lab_admin):
    _, token = instrument_credential_issue(instrument=instrument, actor=lab_admin)

    assert instrument_authenticate(token) == instrument
    assert InstrumentCredential.objects.get().last_used_at is not None


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),
        lambda t: t.replace("pti_", "ptx_"),
        lambda t: "",
        lambda t: "pti_nope",
        lambda t: t.split("_", 2)[0] + "_" + "0" * 12 + "_" + t.split("_", 2)[2],
    ],
)
def test_wrong_tokens_fail(instrument, lab_admin, mangle):
    _, token = instrument_credential_issue(instrument=instrument, actor=lab_admin)

    assert instrument_authenticate(mangle(token)) is None


def test_revoked_token_fails(instrument, lab_admin):
    credential, token = instrument_credential_issue(instrument=instrument, actor=lab_admin)

    instrument_credential_revoke(credential=credential, actor=lab_admin, reason="lost tablet")

    assert instrument_authenticate(token) is None
    assert AuditEvent.objects.filter(action="instrument.token_revoked").get().reason == (
        "lost tablet"
    )


def test_disabled_instrument_fails(instrument, lab_admin):
    _, token = instrument_credential_issue(instrument=instrument, actor=lab_admin)
    instrument.is_active = False
    instrument.save()

    assert instrument_authenticate(token) is None


def test_two_tokens_are_independent(instrument, lab_admin):
    first, first_token = instrument_credential_issue(instrument=instrument, actor=lab_admin)
    _, second_token = instrument_credential_issue(instrument=instrument, actor=lab_admin)

    instrument_credential_revoke(credential=first, actor=lab_admin)

    assert instrument_authenticate(first_token) is None
    assert instrument_authenticate(second_token) == instrument
