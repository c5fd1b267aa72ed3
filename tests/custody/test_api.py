"""The chain of identity through the API: a wrong label scanned is a failed checkpoint, a
critical deviation and a stage that will not complete; labels come back as a PDF whose barcodes
decode to the COI and item; bad input is a problem-details 400 that writes nothing."""

from __future__ import annotations

import io

import pypdfium2 as pdfium
import pytest
import zxingcpp

from protocol_tracker.audit.models import AuditEvent
from protocol_tracker.custody.models import IdentityScan, LoggerFile
from protocol_tracker.identity.models import LabelPrint
from protocol_tracker.qc.models import Deviation
from tests.api.conftest import client_for
from tests.builders import named_file, token_for
from tests.builders.custody import payload
from tests.builders.custody_world import logger_csv, shipment_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(technician):
    return client_for(token_for(technician))


def test_a_mismatch_scan_opens_a_critical_deviation_and_blocks_the_stage(api, cw):
    response = api.post(
        "/api/v1/identity-scans/",
        {"stage_run": cw.stage_run.pk, "checkpoint": cw.checkpoint.pk,
         "scanned": payload(cw.other_tube)},
        format="json",
        headers={"Idempotency-Key": "scan-1"},
    )  # fmt: skip

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["verdict"], body["stage_blocked"]) == ("mismatch", True)
    deviation = Deviation.objects.get(pk=body["deviation"])
    assert (deviation.severity, deviation.kind) == ("critical", "identity")

    complete = api.post(f"/api/v1/stage-runs/{cw.stage_run.pk}/complete/", {}, format="json")
    assert complete.status_code == 409
    assert complete["Content-Type"] == "application/problem+json"
    assert "Tube label scanned" in complete.json()["detail"]

    replay = api.post(
        "/api/v1/identity-scans/",
        {"stage_run": cw.stage_run.pk, "checkpoint": cw.checkpoint.pk,
         "scanned": payload(cw.other_tube)},
        format="json",
        headers={"Idempotency-Key": "scan-1"},
    )  # fmt: skip
    assert replay.json()["id"] == body["id"] and IdentityScan.objects.count() == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [({"scanned": ""}, "scanned"), ({"scanned": "x" * 601}, "scanned"),
     ({"method": "telepathy"}, "method"), ({"item": "V-000000-0"}, "item"),
     ({"method": "manual"}, "witness")],
)  # fmt: skip
def test_bad_scans_are_problems_and_write_nothing(api, cw, body, field):
    events = AuditEvent.objects.count()
    request = {"stage_run": cw.stage_run.pk, "checkpoint": cw.checkpoint.pk,
               "scanned": cw.good_scan()} | body  # fmt: skip

    response = api.post("/api/v1/identity-scans/", request, format="json")

    assert response.status_code == 400, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert field in {e["field"] for e in response.json()["errors"]}
    assert AuditEvent.objects.count() == events and IdentityScan.objects.count() == 0


def test_labels_print_as_a_pdf_whose_barcodes_decode_to_the_coi_and_item(api, cw):
    response = api.post(
        f"/api/v1/runs/{cw.run.pk}/labels/",
        {"template": "bag", "count": 2, "kind": "bag"},
        format="json",
        headers={"Idempotency-Key": "print-1"},
    )

    assert response.status_code == 201, response.content
    assert response["Content-Type"] == "application/pdf"
    record = LabelPrint.objects.get()
    assert response["Location"] == f"/api/v1/label-prints/{record.pk}/"
    document = pdfium.PdfDocument(io.BytesIO(response.content))
    decoded = set()
    for page in document:
        for result in zxingcpp.read_barcodes(page.render(scale=600 / 72).to_pil()):
            decoded.add((result.format.name, result.text))
    document.close()
    payloads = {label["payload"] for label in record.labels}
    assert decoded == {(fmt, p) for p in payloads for fmt in ("QRCode", "Code128")}
    assert all(p.startswith(cw.coi + "/B-") for p in payloads)

    again = api.post(
        f"/api/v1/runs/{cw.run.pk}/labels/",
        {"template": "bag", "count": 2, "kind": "bag"},
        format="json",
        headers={"Idempotency-Key": "print-1"},
    )
    assert again.status_code == 200 and again["Idempotent-Replayed"] == "true"
    assert again.content == response.content and LabelPrint.objects.count() == 1

    listed = api.get(f"/api/v1/runs/{cw.run.pk}/labels/").json()
    assert [(p["id"], p["label_count"], p["unaccounted"]) for p in listed] == [(record.pk, 2, 2)]


def test_labels_as_zpl(api, cw):
    response = api.post(
        f"/api/v1/runs/{cw.run.pk}/labels/",
        {"template": "cryovial", "count": 1, "format": "zpl", "copies": 2},
        format="json",
    )
    assert response.status_code == 201
    text = response.content.decode()
    assert text.startswith("^XA^CI28") and "^PQ2^XZ" in text and cw.coi in text


@pytest.mark.parametrize(
    "body", [{"template": "poster", "count": 1}, {"template": "bag", "count": 0},
             {"template": "bag", "count": 1, "copies": 1000}, {"template": "bag"}],
)  # fmt: skip
def test_bad_label_requests_print_nothing(api, cw, body):
    response = api.post(f"/api/v1/runs/{cw.run.pk}/labels/", body, format="json")
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert LabelPrint.objects.count() == 0


def test_a_logger_upload_with_an_excursion_opens_a_deviation(api, cw):
    shipment = shipment_of(cw)
    data = logger_csv().replace(b",5.0\n", b",11.0\n", 3)

    response = api.post(
        f"/api/v1/shipments/{shipment.pk}/logger/",
        {"file": named_file(data, "tl.csv")},
        format="multipart",
    )

    assert response.status_code == 201, response.content
    (logger,) = response.json()["logger_files"]
    assert logger["minutes_outside"] == 15.0 and len(logger["excursions"]) == 1
    assert Deviation.objects.get(pk=logger["deviation"]).run_id == cw.run.pk


def test_an_unreadable_logger_upload_is_a_problem(api, cw):
    shipment = shipment_of(cw)
    response = api.post(
        f"/api/v1/shipments/{shipment.pk}/logger/",
        {"file": named_file(b"time,temp\n03/04/2026 08:00,5\n", "tl.csv")},
        format="multipart",
    )
    assert response.status_code == 400
    assert "ambiguous" in response.json()["detail"]
    assert LoggerFile.objects.count() == 0


def test_the_vault_never_answers_a_technician(api, cw, clinician):
    reveal = api.post(
        f"/api/v1/donors/{cw.run.donor_id}/patient-identifiers/reveal/",
        {"purpose": "curious"},
        format="json",
    )
    assert reveal.status_code == 403
    doctor = client_for(token_for(clinician))
    assert doctor.post(
        f"/api/v1/donors/{cw.run.donor_id}/patient-identifiers/",
        {"values": {"hospital_record": "MRN-1", "date_of_birth": "1970-01-01"}},
        format="json",
    ).json()["kinds"] == ["date_of_birth", "hospital_record"]
    assert api.get(f"/api/v1/donors/{cw.run.donor_id}/patient-identifiers/").json() == {
        "coi": cw.coi,
        "kinds": ["date_of_birth", "hospital_record"],
    }
    shown = doctor.post(
        f"/api/v1/donors/{cw.run.donor_id}/patient-identifiers/reveal/",
        {"purpose": "bedside"},
        format="json",
    ).json()
    assert shown["identifiers"] == {"hospital_record": "MRN-1", "date_of_birth": "1970-01-01"}
    assert AuditEvent.objects.filter(action="patient_identifier.read").count() == 1
