"""Scan to verify: a match passes; another donor's label, the right donor's wrong item, a
truncated or mistyped code fail the checkpoint, block the stage, open a critical deviation and
alert the reviewers at once; the scanned string is in the audit trail; typed entries need a
witness; bad input writes nothing."""

from __future__ import annotations

import pytest
from django.db import transaction

from protocol_tracker.audit.models import AuditEvent
from protocol_tracker.core.errors import (
    InvalidTransition,
    NotPermitted,
    SignatureRefused,
    ValidationFailed,
)
from protocol_tracker.custody.models import IdentityScan
from protocol_tracker.custody.services import identity_scan_record
from protocol_tracker.identity.checks import check_character
from protocol_tracker.qc.models import Deviation, QCResult
from protocol_tracker.qc.services import (
    deviation_disposition,
    deviation_investigate,
    stage_complete,
)
from protocol_tracker.signatures.models import Signature
from tests.builders.custody import payload
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


def _scan(cw, scanned, actor, **kwargs):
    return identity_scan_record(
        stage_run=cw.stage_run, checkpoint=cw.checkpoint, scanned=scanned, actor=actor, **kwargs
    )


def _counts():
    return (
        IdentityScan.objects.count(),
        QCResult.objects.count(),
        Deviation.objects.count(),
        AuditEvent.objects.count(),
        Signature.objects.count(),
    )


def test_the_right_label_passes(cw, technician):
    scan = _scan(cw, cw.good_scan(), technician)

    assert (scan.verdict, scan.item, scan.qc_result.verdict) == ("match", cw.tube, "pass")
    assert Deviation.objects.count() == 0
    event = AuditEvent.objects.get(action="identity_scan.record")
    assert event.after["scanned"] == cw.good_scan()
    assert event.run_id == cw.run.pk


@pytest.mark.parametrize(
    ("which", "verdict", "reason"),
    [
        ("other_donor", "mismatch", "label of another donor"),
        ("wrong_kind", "mismatch", "wrong item: V-"),
        ("truncated", "unreadable", "is not a COI of the form"),
        ("mistyped", "unreadable", "fails its check character"),
        ("unknown_item", "mismatch", "is not registered"),
        ("coi_only", "mismatch", "names no item"),
    ],
)
def test_a_wrong_or_unreadable_label_fails_blocks_and_opens_a_critical_deviation(
    cw, technician, django_capture_on_commit_callbacks, which, verdict, reason
):
    good = cw.good_scan()
    last = good[-1]
    scanned = {
        "other_donor": payload(cw.other_tube),
        "wrong_kind": payload(cw.vial),
        "truncated": good[:10],
        "mistyped": good[:-1] + ("0" if last != "0" else "1"),
        "unknown_item": f"{cw.coi}/V-999999-{check_character('V999999')}",
        "coi_only": cw.coi,
    }[which]

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        scan = _scan(cw, scanned, technician)

    assert scan.verdict == verdict and reason in scan.reason
    deviation = Deviation.objects.get(qc_result=scan.qc_result)
    assert (deviation.kind, deviation.severity, deviation.status) == (
        "identity",
        "critical",
        "open",
    )
    assert deviation.run_id == cw.run.pk and deviation.stage_run_id == cw.stage_run.pk
    # The reviewers' alert (reminders.qc_failed) and the deviation's go out on commit.
    assert len(callbacks) >= 2
    assert AuditEvent.objects.get(action="identity_scan.record").after["scanned"] == scanned
    with pytest.raises(InvalidTransition, match="without an accepted disposition"):
        stage_complete(stage_run=cw.stage_run, actor=technician)


def test_a_failed_check_is_scanned_again_only_after_a_reviewer_orders_it(cw, technician, reviewer):
    failed = _scan(cw, payload(cw.other_tube), technician)
    with pytest.raises(InvalidTransition, match="disposes of it"):
        _scan(cw, cw.good_scan(), technician)

    deviation = Deviation.objects.get(qc_result=failed.qc_result)
    with pytest.raises(InvalidTransition, match="phase I"):
        deviation_disposition(
            deviation=deviation, decision="retest", justification="re-scan", password=PASSWORD,
            actor=reviewer,
        )  # fmt: skip
    deviation_investigate(
        deviation=deviation,
        phase="phase1",
        findings="tube of the next donor picked up",
        actor=technician,
    )
    deviation_disposition(
        deviation=deviation, decision="retest", justification="scan the right tube",
        password=PASSWORD, actor=reviewer,
    )  # fmt: skip
    rescan = _scan(cw, cw.good_scan(), technician)

    assert rescan.qc_result.supersedes == failed.qc_result
    assert rescan.passed


@pytest.mark.parametrize("scanned", ["", "   ", "x" * 700])
def test_an_empty_or_oversized_scan_is_refused_and_writes_nothing(cw, technician, scanned):
    before = _counts()
    with pytest.raises(ValidationFailed):
        _scan(cw, scanned, technician)
    assert _counts() == before


def test_a_typed_entry_needs_a_witness_who_signs(cw, technician, technician2):
    before = _counts()
    with pytest.raises(ValidationFailed, match="witness"):
        _scan(cw, cw.good_scan(), technician, method="manual")
    with pytest.raises(ValidationFailed, match="another person"):
        _scan(cw, cw.good_scan(), technician, method="manual", witness=technician.username,
              witness_password=PASSWORD)  # fmt: skip
    with pytest.raises(SignatureRefused), transaction.atomic():
        _scan(cw, cw.good_scan(), technician, method="manual", witness=technician2.username,
              witness_password="wrong")  # fmt: skip
    assert _counts() == before

    scan = _scan(cw, cw.good_scan(), technician, method="manual", witness=technician2.username,
                 witness_password=PASSWORD)  # fmt: skip

    assert scan.witness_signature.signer == technician2
    assert scan.witness_signature.meaning == "witnessed"
    assert scan.passed


def test_roles_that_do_not_handle_material_cannot_scan(cw, viewer):
    before = _counts()
    with pytest.raises(NotPermitted):
        _scan(cw, cw.good_scan(), viewer)
    assert _counts() == before


def test_a_scan_at_another_kind_of_checkpoint_is_refused(cw, technician):
    with pytest.raises(ValidationFailed, match="not an identity checkpoint"):
        identity_scan_record(
            stage_run=cw.stage_run, checkpoint=cw.computed, scanned=cw.good_scan(), actor=technician
        )


def test_an_identity_checkpoint_cannot_be_typed_as_a_qc_value(cw, technician):
    from django.utils import timezone

    from protocol_tracker.qc.services import qc_result_record

    with pytest.raises(ValidationFailed, match="scanning the label"):
        qc_result_record(
            stage_run=cw.stage_run, checkpoint=cw.checkpoint, value="match", unit=None,
            measured_at=timezone.now(), actor=technician,
        )  # fmt: skip
