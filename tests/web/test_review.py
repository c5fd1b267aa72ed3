"""The reviewer's queue and the signing dialogs."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from protocol_tracker.outcomes.selectors import run_review
from protocol_tracker.qc import services as qc_services
from protocol_tracker.qc.models import Deviation
from protocol_tracker.runs import services as run_services
from protocol_tracker.runs.models import Run, StageRun
from protocol_tracker.signatures.models import Signature
from tests.builders import complete
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture
def investigated(own, technician):
    qc_services.deviation_investigate(
        deviation=own.deviation, phase="phase1", findings="no assay error", actor=technician
    )
    return own


def _dispose(client, deviation, password: str, justification: str = "recount ok"):
    return client.post(
        reverse("web:deviation", args=[deviation.pk]),
        {
            "action": "disposition",
            "sign-decision": "accept",
            "sign-justification": justification,
            "sign-password": password,
        },
    )


def test_queue_lists_deviations_and_runs_awaiting_release(client, own, reviewer):
    client.force_login(reviewer)
    body = client.get(reverse("web:review")).content.decode()
    assert f"DEV-{own.deviation.pk}: Out of specification" in body
    assert "Review and sign" in body
    assert "No runs awaiting release." in body


def test_disposition_waits_for_the_phase_one_investigation(client, own, reviewer):
    client.force_login(reviewer)
    body = client.get(reverse("web:deviation", args=[own.deviation.pk])).content.decode()
    assert "needs a phase I laboratory investigation" in body
    assert 'id="sign-disposition"' not in body


def test_signing_dialog_spells_out_the_meaning(client, investigated, reviewer):
    client.force_login(reviewer)
    body = client.get(reverse("web:deviation", args=[investigated.deviation.pk])).content.decode()
    assert (
        "I, reviewer-a, sign this record electronically: I approve the disposition of "
        f"deviation DEV-{investigated.deviation.pk} as chosen above"
    ) in body
    assert 'autocomplete="current-password"' in body


def test_wrong_password_signs_nothing_and_keeps_the_justification(client, investigated, reviewer):
    client.force_login(reviewer)
    response = _dispose(client, investigated.deviation, "wrong password", "kept text")
    body = response.content.decode()
    assert response.status_code == 200
    assert 'id="id_sign-password_error"' in body
    assert "password did not match; nothing was signed" in body
    assert "kept text</textarea>" in body
    assert 'name="sign-password" autocomplete' in body and "wrong password" not in body
    assert Signature.objects.count() == 0
    assert Deviation.objects.get(pk=investigated.deviation.pk).status == "phase1"


def test_disposition_is_signed_and_closes_the_deviation(client, investigated, reviewer):
    client.force_login(reviewer)
    response = _dispose(client, investigated.deviation, PASSWORD)
    assert response.status_code == 302
    deviation = Deviation.objects.get(pk=investigated.deviation.pk)
    assert (deviation.status, deviation.disposition, deviation.closed_by) == (
        "closed",
        "accept",
        reviewer,
    )
    signature = Signature.objects.get()
    assert (signature.signer, signature.meaning, signature.run_id) == (
        reviewer,
        "approved",
        investigated.run.pk,
    )


def test_missing_justification_is_shown_next_to_it(client, investigated, reviewer):
    client.force_login(reviewer)
    response = _dispose(client, investigated.deviation, PASSWORD, justification="")
    assert 'id="id_sign-justification_error"' in response.content.decode()
    assert Signature.objects.count() == 0


def _complete(run, technician):
    stage_runs = list(StageRun.objects.filter(run=run).order_by("order"))
    complete(stage_runs[0], technician)
    release = run_services.stage_start(
        stage_run=StageRun.objects.get(pk=stage_runs[1].pk), actor=technician
    )
    qc_services.qc_result_record(
        stage_run=release,
        checkpoint=run.protocol.checkpoints.get(key="endotoxin"),
        value=1,
        unit="EU/mL",
        measured_at=timezone.now(),
        actor=technician,
    )
    complete(release, technician)


@pytest.fixture
def completed(investigated, technician, reviewer2):
    qc_services.deviation_disposition(
        deviation=investigated.deviation,
        decision="accept",
        justification="ok",
        password=PASSWORD,
        actor=reviewer2,
    )
    _complete(investigated.run, technician)
    return investigated


def test_release_with_signature(client, completed, reviewer):
    client.force_login(reviewer)
    url = reverse("web:run_release", args=[completed.run.pk])
    page = client.get(url).content.decode()
    assert f"I release batch {completed.run.code} for use" in page
    keys = [row.item.key for row in run_review(completed.run).rows]
    refused = client.post(
        url, {"action": "release", "sign-password": PASSWORD, "sign-audit_trail_reviewed": "on"}
    )
    assert "exception(s) not acknowledged" in refused.content.decode()
    acked = client.post(url, {"action": "acknowledge", "ack-keys": keys, "ack-comment": "seen"})
    assert acked.status_code == 302
    response = client.post(
        url, {"action": "release", "sign-password": PASSWORD, "sign-audit_trail_reviewed": "on"}
    )
    assert response.status_code == 302
    run = Run.objects.get(pk=completed.run.pk)
    assert run.status == "released"
    assert Signature.objects.filter(run=run, meaning="released", signer=reviewer).count() == 1
    record = client.get(reverse("web:batch_record", args=[run.pk])).content.decode()
    assert "released run " + run.code in record
    assert "SHA-256" in record
    pdf = client.get(reverse("web:batch_record_pdf", args=[run.pk]))
    assert (pdf.status_code, pdf["Content-Type"]) == (200, "application/pdf")
    assert "run.release" in record


def test_release_refused_for_the_person_who_did_the_work(client, completed, technician):
    """The technician is not a reviewer: the page itself is forbidden."""
    client.force_login(technician)
    assert client.get(reverse("web:run_release", args=[completed.run.pk])).status_code == 403


def test_reject_needs_a_reason_and_a_password(client, own, reviewer):
    client.force_login(reviewer)
    url = reverse("web:run_reject", args=[own.run.pk])
    response = client.post(url, {"password": PASSWORD, "reason": ""})
    assert 'id="id_reason_error"' in response.content.decode()
    assert Run.objects.get(pk=own.run.pk).status == "active"
    response = client.post(url, {"password": PASSWORD, "reason": "contaminated"})
    assert response.status_code == 302
    assert Run.objects.get(pk=own.run.pk).status == "rejected"
    assert Signature.objects.get(run=own.run).meaning == "rejected"
