"""COIs issued at enrolment (once, never reused, shown by the API) and the patient-identifier
vault (encrypted at rest, read only by clinicians, every read audited)."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from protocol_tracker.audit.models import AuditEvent
from protocol_tracker.core.errors import NotPermitted, ValidationFailed
from protocol_tracker.identity import vault
from protocol_tracker.identity.layouts import parse_coi
from protocol_tracker.identity.models import Coi, PatientIdentifier
from protocol_tracker.identity.services import (
    coi_settings_set,
    patient_identifiers_read,
    patient_identifiers_record,
    vault_rotate,
)
from tests.api.conftest import client_for
from tests.builders import new_donor, token_for

pytestmark = pytest.mark.django_db


def test_each_donor_gets_its_own_coi_at_enrolment(lab, other_lab, technician, other_technician):
    first = new_donor(lab, technician)
    second = new_donor(lab, technician)
    third = new_donor(other_lab, other_technician)

    values = [d.coi.value for d in (first, second, third)]
    assert len(set(values)) == 3
    assert [parse_coi(v).sequence for v in values[:2]] == [1, 2]
    assert values[0].startswith("LABA-") and values[2].startswith("LABB-")
    assert AuditEvent.objects.filter(action="coi.issue").count() == 3


def test_a_refused_enrolment_issues_no_coi(lab, technician, viewer):
    with pytest.raises(NotPermitted):
        new_donor(lab, viewer)
    assert Coi.objects.count() == 0


def test_a_new_prefix_never_reuses_a_number(lab, technician, lab_admin):
    old = new_donor(lab, technician).coi
    coi_settings_set(lab=lab, layout="pt", prefix="GMP1", actor=lab_admin)
    new = new_donor(lab, technician).coi

    assert new.value.startswith("GMP1-") and old.value.startswith("LABA-")
    with pytest.raises(ValidationFailed, match="2-6 capitals"):
        coi_settings_set(lab=lab, layout="pt", prefix="x", actor=lab_admin)


def test_the_api_shows_the_coi_on_donors_and_runs(lab, technician2):
    from tests.builders import lab_world

    world = lab_world(lab, technician2)
    api = client_for(token_for(technician2))
    coi = world.donor.coi.value

    assert api.get(f"/api/v1/donors/{world.donor.pk}/").json()["coi"] == coi
    assert api.get(f"/api/v1/runs/{world.run.pk}/").json()["coi"] == coi
    listed = api.get("/api/v1/runs/").json()["results"]
    assert {r["coi"] for r in listed if r["id"] == world.run.pk} == {coi}


def test_identifiers_are_encrypted_at_rest_and_read_only_by_clinicians(
    lab, technician, clinician, reviewer
):
    coi = new_donor(lab, technician).coi
    patient_identifiers_record(
        coi=coi,
        values={"hospital_record": "MRN-0042", "date_of_birth": "1966-04-03"},
        actor=clinician,
    )
    tokens = list(PatientIdentifier.objects.values_list("token", flat=True))
    assert all("MRN-0042" not in t and "1966" not in t for t in tokens)
    reads_before = AuditEvent.objects.filter(action="patient_identifier.read").count()

    for nosy in (technician, reviewer):
        with pytest.raises(NotPermitted):
            patient_identifiers_read(coi=coi, actor=nosy, purpose="curious")
    assert AuditEvent.objects.filter(action="patient_identifier.read").count() == reads_before

    values = patient_identifiers_read(coi=coi, actor=clinician, purpose="bedside check")
    assert values == {"date_of_birth": "1966-04-03", "hospital_record": "MRN-0042"}
    read = AuditEvent.objects.get(action="patient_identifier.read")
    assert (read.actor_user_id, read.reason, read.after) == (
        clinician.pk,
        "bedside check",
        {"count": 2, "kinds": "date_of_birth,hospital_record"},
    )
    # The audit trail of the recording names the kinds, never the values.
    recorded = AuditEvent.objects.filter(action="patient_identifier.record")
    assert "MRN-0042" not in str(list(recorded.values_list("after", flat=True)))


def test_a_correction_supersedes_with_a_reason(lab, technician, clinician):
    coi = new_donor(lab, technician).coi
    patient_identifiers_record(coi=coi, values={"hospital_record": "MRN-1"}, actor=clinician)
    with pytest.raises(ValidationFailed, match="needs a reason"):
        patient_identifiers_record(coi=coi, values={"hospital_record": "MRN-2"}, actor=clinician)
    patient_identifiers_record(
        coi=coi, values={"hospital_record": "MRN-2"}, reason="typo at intake", actor=clinician
    )
    assert PatientIdentifier.objects.count() == 2
    assert patient_identifiers_read(coi=coi, actor=clinician, purpose="check") == {
        "hospital_record": "MRN-2"
    }


@pytest.mark.parametrize(
    ("values", "field"),
    [({"shoe_size": "42"}, "shoe_size"), ({"hospital_record": "MRN\x00"}, "hospital_record"),
     ({"hospital_record": "  "}, "hospital_record"), ({}, "identifiers")],
)  # fmt: skip
def test_bad_identifiers_are_refused_and_nothing_is_kept(lab, technician, clinician, values, field):
    coi = new_donor(lab, technician).coi
    with pytest.raises(ValidationFailed) as exc:
        patient_identifiers_record(coi=coi, values=values, actor=clinician)
    assert field in exc.value.fields
    assert PatientIdentifier.objects.count() == 0


def test_rotation_re_encrypts_with_the_new_key(lab, technician, clinician, settings):
    old_key = Fernet.generate_key().decode()
    settings.PATIENT_VAULT_KEYS = (old_key,)
    vault.forget_keys()
    coi = new_donor(lab, technician).coi
    patient_identifiers_record(coi=coi, values={"hospital_record": "MRN-7"}, actor=clinician)
    new_key = Fernet.generate_key().decode()
    settings.PATIENT_VAULT_KEYS = (new_key, old_key)
    vault.forget_keys()

    assert vault_rotate() == 1
    settings.PATIENT_VAULT_KEYS = (new_key,)
    vault.forget_keys()
    try:
        assert patient_identifiers_read(coi=coi, actor=clinician, purpose="after rotation") == {
            "hospital_record": "MRN-7"
        }
        assert vault_rotate() == 0  # idempotent
    finally:
        settings.PATIENT_VAULT_KEYS = ()
        vault.forget_keys()
