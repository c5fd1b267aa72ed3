"""The generic e-signature: any lab record, the password again, a meaning, a hash of the record."""

from __future__ import annotations

import pytest

from protocol_tracker.audit.models import AuditEvent
from protocol_tracker.core.errors import NotPermitted, SignatureRefused, ValidationFailed
from protocol_tracker.signatures.models import Signature, SignatureMeaning
from protocol_tracker.signatures.services import record_hash, signature_sign
from tests.factories import PASSWORD, InstrumentFactory

pytestmark = pytest.mark.django_db


def test_a_record_of_any_app_is_signed_bound_to_its_state_and_audited(lab, reviewer):
    instrument = InstrumentFactory(lab=lab, name="Counter 1")

    signature = signature_sign(
        signer=reviewer,
        password=PASSWORD,
        meaning=SignatureMeaning.APPROVED,
        obj=instrument,
        statement="instrument qualified",
        content={"qualification": "IQ/OQ 2026-11"},
    )

    assert (signature.object_type, signature.object_id) == ("labs.instrument", str(instrument.pk))
    assert signature.lab_id == lab.pk and signature.run_id is None
    assert signature.record_hash == record_hash(
        instrument, content={"qualification": "IQ/OQ 2026-11"}
    )
    assert signature.record_hash != record_hash(instrument)  # the content is part of it
    event = AuditEvent.objects.get(action="signature.sign")
    assert event.after["record_hash"] == signature.record_hash


def test_a_wrong_password_or_role_signs_nothing(lab, reviewer, technician):
    instrument = InstrumentFactory(lab=lab, name="Counter 1")
    sign = {"meaning": SignatureMeaning.APPROVED, "obj": instrument, "statement": "ok"}

    with pytest.raises(SignatureRefused):
        signature_sign(signer=reviewer, password="wrong", **sign)
    with pytest.raises(NotPermitted):
        signature_sign(signer=technician, password=PASSWORD, **sign)
    with pytest.raises(ValidationFailed):
        signature_sign(signer=reviewer, password=PASSWORD, **{**sign, "meaning": "liked"})

    assert Signature.objects.count() == 0
    assert not AuditEvent.objects.filter(action="signature.sign").exists()


def test_the_caller_may_let_other_roles_sign(lab, technician):
    """A witness signature (a second technician) is a signature too."""
    instrument = InstrumentFactory(lab=lab, name="Counter 1")

    signature = signature_sign(
        signer=technician,
        password=PASSWORD,
        meaning=SignatureMeaning.REVIEWED,
        obj=instrument,
        statement="witnessed",
        roles={"technician"},
    )

    assert signature.signer == technician
