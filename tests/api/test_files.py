"""Instrument files: FCS (real files, truncated and corrupted copies) and CSV exports."""

from __future__ import annotations

import hashlib
import time

import pytest
from django.test import override_settings

from protocol_tracker.audit.models import AuditEvent
from protocol_tracker.qc.models import InstrumentUpload, QCResult, RawFile
from tests import builders as f
from tests.builders import real_fcs

pytestmark = pytest.mark.django_db

REAL_FILES = {
    # name: (FCS version, $TOT, $PAR, $CYT)
    "G11.fcs": ("3.1", 5785, 12, "4486521 Attune NxT Acoustic Focusing Cytometer (Lasers: BRVY)"),
    "3FITC_4PE_004.fcs": ("2.0", 94569, 4, "FACScan"),
    "data1.fcs": ("2.0", 13367, 8, "FACSCalibur"),
    "variable_int_example.fcs": ("3.0", 2, 26, "S1400EXi"),
    "data_start_offset_discrepancy_example.fcs": ("3.0", 2, 26, "S1400EXi"),
}


def upload(client, data: bytes, name: str, **fields):
    body = {"file": f.named_file(data, name), **{k: v for k, v in fields.items() if v is not None}}
    return client.post("/api/v1/instrument-uploads/", body, format="multipart")


def _counts():
    return (RawFile.objects.count(), QCResult.objects.count(), InstrumentUpload.objects.count())


@pytest.fixture
def events_target(world):
    sr = f.working_stage(world.protocol, world.worker)
    return sr, sr.stage.checkpoints.get(key="events")


@pytest.mark.parametrize("name", sorted(REAL_FILES))
def test_a_real_fcs_file_is_kept_parsed_and_attached(api, world, technician, events_target, name):
    data = real_fcs(name)
    sr, events = events_target
    version, total, parameters, cytometer = REAL_FILES[name]

    response = upload(api(technician), data, name, stage_run=sr.pk, checkpoint=events.pk)

    assert response.status_code == 201, response.content[:600]
    body = response.json()
    assert body["status"] == "parsed" and body["kind"] == "fcs"
    raw = RawFile.objects.get(pk=body["raw_file"]["id"])
    assert raw.sha256 == hashlib.sha256(data).hexdigest() == body["raw_file"]["sha256"]
    assert raw.size_bytes == len(data) and raw.status == "parsed"
    with raw.file.open("rb") as stored:
        assert stored.read() == data
    meta = raw.metadata
    assert (meta["version"], meta["event_count"], meta["parameter_count"], meta["cytometer"]) == (
        version,
        total,
        parameters,
        cytometer,
    )
    assert len(meta["parameters"]) == parameters and meta["acquired_at"]
    (result,) = QCResult.objects.filter(pk__in=body["results"])
    assert (result.raw_file_id, result.value_number, result.stage_run_id) == (raw.pk, total, sr.pk)


def test_the_value_sent_with_a_file_is_the_result(api, world, technician):
    data = real_fcs("G11.fcs")
    sr = f.working_stage(world.protocol, world.worker)
    viability = sr.stage.checkpoints.get(key="viability")

    response = upload(
        api(technician),
        data,
        "G11.fcs",
        stage_run=sr.pk,
        checkpoint=viability.pk,
        value="97.5",
        unit="%",
    )

    assert response.status_code == 201, response.content
    result = QCResult.objects.get(pk=response.json()["results"][0])
    assert (result.value_number, result.verdict, result.raw_file.filename) == (
        97.5,
        "pass",
        "G11.fcs",
    )
    # The file's own time ($DATE/$BTIM, instrument local time) is read in the lab's zone.
    assert result.measured_at.isoformat() == "2020-03-02T01:50:15+00:00"


def _truncations(data: bytes):
    yield "header only", data[:40]
    yield "no TEXT end", data[:200]
    yield "half the data", data[: len(data) // 2]
    yield "one byte short", data[:-1]


def _corruptions(data: bytes):
    yield "not FCS at all", b"PNG" + data[3:]
    yield "TEXT offsets garbage", data[:10] + b"  xxxxxx" + data[18:]
    text_at = data.index(b"$TOT")
    yield "wrong event count", data[:text_at] + data[text_at:].replace(b"5785", b"9785", 1)
    yield "unsupported version", b"FCS9.9" + data[6:]


@pytest.mark.parametrize("damage", ["truncated", "corrupted"])
def test_damaged_fcs_files_are_refused_and_nothing_is_written(
    api, world, technician, events_target, damage
):
    data = real_fcs("G11.fcs")
    sr, events = events_target
    client = api(technician)
    copies = _truncations(data) if damage == "truncated" else _corruptions(data)
    before, events_before = _counts(), AuditEvent.objects.count()

    for label, copy in copies:
        response = upload(client, copy, "G11.fcs", stage_run=sr.pk, checkpoint=events.pk)

        assert response.status_code in (400, 415), (label, response.status_code)
        body = response.json()
        assert body["code"] in ("file_unreadable", "unsupported_file"), (label, body)
        assert body["errors"][0]["field"] == "file", label
        assert (_counts(), AuditEvent.objects.count()) == (before, events_before), label


def test_a_truncated_file_says_why(api, world, technician, events_target):
    data = real_fcs("G11.fcs")
    sr, events = events_target

    response = upload(
        api(technician), data[: len(data) // 2], "G11.fcs", stage_run=sr.pk, checkpoint=events.pk
    )

    assert response.status_code == 400
    assert "truncated" in response.json()["detail"].lower()


@pytest.mark.parametrize(
    ("data", "name"),
    [
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, "picture.png"),
        (b"%PDF-1.7 report", "report.pdf"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, "sample.fcs"),
        (b"PK\x03\x04 zipped", "export.xlsx"),
    ],
)
def test_unsupported_files_are_415(api, world, technician, events_target, data, name):
    sr, events = events_target
    before = _counts()

    response = upload(api(technician), data, name, stage_run=sr.pk, checkpoint=events.pk)

    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_file"
    assert _counts() == before


@override_settings(INSTRUMENT_UPLOAD_MAX_BYTES=1000)
def test_a_file_over_the_limit_is_413(api, world, technician, events_target):
    sr, events = events_target

    response = upload(
        api(technician), f.fcs_bytes(), "big.fcs", stage_run=sr.pk, checkpoint=events.pk
    )

    assert response.status_code == 413
    assert response.json()["code"] == "file_too_large"
    assert not RawFile.objects.filter(filename="big.fcs").exists()


def test_an_instruments_file_must_come_from_it(api, world, events_target):
    world.instrument.serial = "SN-EXPECTED"
    world.instrument.save(update_fields=["serial"])
    sr, events = events_target

    response = upload(
        api(world.instrument_token),
        f.fcs_bytes(serial="SN-OTHER"),
        "x.fcs",
        stage_run=sr.pk,
        checkpoint=events.pk,
    )

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "file_rejected"
    assert body["errors"][0]["message"] == (
        "instrument serial number mismatch: expected 'SN-EXPECTED', the file has 'SN-OTHER'"
    )


def test_an_fcs_file_needs_its_target(api, world, technician):
    response = upload(
        api(technician),
        f.fcs_bytes(),
        "x.fcs",
        stage_run=f.working_stage(world.protocol, world.worker).pk,
    )

    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"field": "checkpoint", "code": "validation_failed", "message": "required with an FCS file"}
    ]


# --- CSV exports ------------------------------------------------------------------------------


def _csv(rows) -> bytes:
    lines = ["Sample ID,Viable cells/mL,Viability (%),Total cells"]
    lines += [",".join(str(v) for v in row) for row in rows]
    return ("\r\n".join(lines) + "\r\n").encode()


def test_a_cell_counter_export_records_each_samples_results(api, world):
    a = f.working_stage(world.protocol, world.worker)
    b = f.working_stage(world.protocol, world.worker)
    data = _csv([(a.run.code, "1.2e6", "94.5", "2400000"), (b.run.code, "8.0e5", "61", "9e5")])

    response = upload(api(world.instrument_token), data, "counts.csv")

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["raw_file"]["metadata"] == {
        "format": "csv",
        "instrument": "Counter",
        "rows": 2,
        "samples": sorted([a.run.code, b.run.code]),
    }
    results = QCResult.objects.filter(pk__in=body["results"])
    assert sorted(
        (r.stage_run_id, r.checkpoint.key, r.value_number, r.verdict) for r in results
    ) == [
        (a.pk, "viability", 94.5, "pass"),
        (a.pk, "viable_cells_per_ml", 1.2e6, "pass"),
        (b.pk, "viability", 61.0, "fail"),
        (b.pk, "viable_cells_per_ml", 8.0e5, "pass"),
    ]
    assert {r.raw_file_id for r in results} == {body["raw_file"]["id"]}
    assert world.lab.deviations.filter(stage_run=b, kind="oos").count() == 1


def test_a_person_uploads_a_csv_for_a_given_instrument_and_stage(api, world, technician):
    sr = f.working_stage(world.protocol, world.worker)

    response = upload(
        api(technician),
        _csv([("tube 7", "2e6", "88", "4e6")]),
        "counts.csv",
        instrument=world.instrument.pk,
        stage_run=sr.pk,
    )

    assert response.status_code == 201, response.content
    assert QCResult.objects.filter(stage_run=sr, raw_file__isnull=False).count() == 2


def test_csv_rows_that_fail_record_nothing_and_name_their_lines(api, world):
    sr = f.working_stage(world.protocol, world.worker)
    before = _counts()
    client = api(world.instrument_token)

    bad_numbers = upload(
        client,
        _csv([(sr.run.code, "lots", "94", "1"), (sr.run.code, "1e6", "", "1")]),
        "counts.csv",
    )
    unknown = upload(
        client,
        _csv([(sr.run.code, "1e6", "94", "1"), ("NO-SUCH-RUN", "1e6", "94", "1")]),
        "counts2.csv",
    )

    assert bad_numbers.status_code == 400
    assert bad_numbers.json()["errors"] == [
        {
            "field": "file",
            "code": "file_unreadable",
            "message": "line 2, column 'Viable cells/mL': 'lots' is not a number",
        },
        {
            "field": "file",
            "code": "file_unreadable",
            "message": "line 3, column 'Viability (%)': the value is empty",
        },
    ]
    assert unknown.status_code == 400
    assert unknown.json()["rows"] == [
        {
            "index": 3,
            "field": "sample_id",
            "message": "no run coded 'NO-SUCH-RUN' has a stage in progress",
        }
    ]
    assert _counts() == before


def test_a_person_must_name_the_instrument_of_a_csv(api, world, technician):
    response = upload(
        api(technician), _csv([("x", "1", "2", "3")]), "counts.csv", stage_run=world.stage_run.pk
    )

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "instrument"


# --- large files: parsed in the background ----------------------------------------------------


def _poll(client, url: str, timeout: float = 30.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = client.get(url).json()
        if body["status"] in ("parsed", "failed"):
            return body
        time.sleep(0.2)
    raise AssertionError(f"upload still {body['status']} after {timeout}s")


@pytest.mark.django_db(transaction=True)
@override_settings(INSTRUMENT_UPLOAD_INLINE_MAX_BYTES=1000)
def test_a_large_file_is_parsed_by_a_worker_and_polled(
    celery_worker, api, lab, technician2, technician
):
    world = f.lab_world(lab, technician2)
    sr = f.working_stage(world.protocol, world.worker)
    events = sr.stage.checkpoints.get(key="events")
    client = api(technician)
    good, bad = f.fcs_bytes(events=3000), f.fcs_bytes(events=3000)[:5000]

    accepted = upload(client, good, "big.fcs", stage_run=sr.pk, checkpoint=events.pk)

    assert accepted.status_code == 202
    assert accepted.json()["status"] in ("received", "parsing", "parsed")
    url = accepted["Location"]
    assert url == f"/api/v1/instrument-uploads/{accepted.json()['id']}/"
    parsed = _poll(client, url)
    assert parsed["status"] == "parsed", parsed
    (result,) = QCResult.objects.filter(pk__in=parsed["results"])
    assert (result.value_number, result.raw_file.metadata["event_count"]) == (3000, 3000)

    refused = upload(client, bad, "broken.fcs", stage_run=sr.pk, checkpoint=events.pk)

    assert refused.status_code == 202
    failed = _poll(client, refused["Location"])
    assert failed["status"] == "failed"
    assert failed["error"]["code"] == "file_unreadable"
    assert failed["raw_file"]["status"] == "failed"
    assert QCResult.objects.filter(raw_file__filename="broken.fcs").count() == 0


@pytest.mark.django_db(transaction=True)
@override_settings(INSTRUMENT_UPLOAD_INLINE_MAX_BYTES=1000)
def test_an_upload_whose_message_was_lost_is_requeued_and_parsed(
    api, lab, technician2, technician, tmp_path
):
    from datetime import timedelta

    from django.utils import timezone

    from protocol_tracker.celery import app
    from protocol_tracker.qc.services.uploads import uploads_requeue_stale
    from tests.celery_worker import celery_process

    world = f.lab_world(lab, technician2)
    sr = f.working_stage(world.protocol, world.worker)
    events = sr.stage.checkpoints.get(key="events")
    client = api(technician)
    app.control.purge()
    accepted = upload(
        client, f.fcs_bytes(events=3000), "lost.fcs", stage_run=sr.pk, checkpoint=events.pk
    )
    upload_id = accepted.json()["id"]
    assert accepted.status_code == 202
    # No worker is running yet: drop the parse message, as a broker outage would have.
    assert app.control.purge() == 1
    assert uploads_requeue_stale(now=timezone.now()) == []  # too early: leave it its chance

    with celery_process("worker", log_dir=tmp_path, name="requeue"):
        requeued = uploads_requeue_stale(now=timezone.now() + timedelta(minutes=3))
        parsed = _poll(client, accepted["Location"])

    assert requeued == [upload_id]
    assert parsed["status"] == "parsed", parsed
    assert uploads_requeue_stale(now=timezone.now() + timedelta(minutes=3)) == []
