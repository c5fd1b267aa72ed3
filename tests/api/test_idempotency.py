"""``Idempotency-Key``: a retry replays the first response and writes nothing."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection, connections
from django.utils import timezone

from protocol_tracker.api.models import IdempotencyRecord
from protocol_tracker.audit.models import AuditEvent
from protocol_tracker.qc.models import QCResult
from protocol_tracker.runs.models import Donor
from tests import builders as f
from tests.api.conftest import client_for

pytestmark = pytest.mark.django_db


def _donor(code="DX-001"):
    return {"code": code, "consent": True}


def test_a_retry_returns_the_first_response_and_writes_nothing(api, lab, technician):
    client = api(technician)
    first = client.post("/api/v1/donors/", _donor(), format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    events, donors = AuditEvent.objects.count(), Donor.objects.count()

    again = client.post("/api/v1/donors/", _donor(), format="json", HTTP_IDEMPOTENCY_KEY="k-1")

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again["Location"] == first["Location"] == f"/api/v1/donors/{first.json()['id']}/"
    assert again["Idempotent-Replayed"] == "true"
    assert not first.has_header("Idempotent-Replayed")
    assert (AuditEvent.objects.count(), Donor.objects.count()) == (events, donors)


def test_the_same_key_with_another_body_is_422(api, lab, technician):
    client = api(technician)
    client.post("/api/v1/donors/", _donor("DX-001"), format="json", HTTP_IDEMPOTENCY_KEY="k-2")
    donors = Donor.objects.count()

    response = client.post(
        "/api/v1/donors/", _donor("DX-002"), format="json", HTTP_IDEMPOTENCY_KEY="k-2"
    )

    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "idempotency_key_reused"
    assert body["detail"].startswith("This Idempotency-Key was already used with a different")
    assert Donor.objects.count() == donors


def test_the_same_key_on_another_endpoint_is_422(api, world, technician):
    client = api(technician)
    client.post("/api/v1/donors/", _donor(), format="json", HTTP_IDEMPOTENCY_KEY="k-3")

    response = client.post(
        "/api/v1/deviations/",
        {"run": world.run.pk, "title": "x"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="k-3",
    )

    assert response.status_code == 422


def test_a_failed_request_keeps_no_key(api, lab, technician):
    client = api(technician)
    bad = client.post(
        "/api/v1/donors/",
        {"code": "bad code", "consent": True},
        format="json",
        HTTP_IDEMPOTENCY_KEY="k-4",
    )

    good = client.post("/api/v1/donors/", _donor(), format="json", HTTP_IDEMPOTENCY_KEY="k-4")

    assert (bad.status_code, good.status_code) == (400, 201)
    assert IdempotencyRecord.objects.filter(key="k-4").count() == 1


def test_keys_belong_to_their_caller(api, lab, technician, technician2):
    one = api(technician).post(
        "/api/v1/donors/", _donor("DX-010"), format="json", HTTP_IDEMPOTENCY_KEY="shared"
    )
    two = api(technician2).post(
        "/api/v1/donors/", _donor("DX-011"), format="json", HTTP_IDEMPOTENCY_KEY="shared"
    )

    assert (one.status_code, two.status_code) == (201, 201)
    assert Donor.objects.filter(code__in=["DX-010", "DX-011"]).count() == 2


@pytest.mark.parametrize("key", ["", "with space", "x" * 256, "é"])
def test_a_malformed_key_is_400(api, lab, technician, key):
    response = api(technician).post(
        "/api/v1/donors/", _donor(), format="json", HTTP_IDEMPOTENCY_KEY=key
    )

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "Idempotency-Key"
    assert not Donor.objects.exists()


def test_an_instrument_retry_replays_its_result(api, world):
    sr = f.working_stage(world.protocol, world.worker)
    body = {
        "stage_run": sr.pk,
        "checkpoint": sr.stage.checkpoints.get(key="viability").pk,
        "value": 93,
        "unit": "%",
        "measured_at": timezone.now().isoformat(),
    }
    client = api(world.instrument_token)

    first = client.post("/api/v1/qc-results/", body, format="json", HTTP_IDEMPOTENCY_KEY="r-1")
    again = client.post("/api/v1/qc-results/", body, format="json", HTTP_IDEMPOTENCY_KEY="r-1")

    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert QCResult.objects.filter(stage_run=sr).count() == 1
    assert QCResult.objects.get(stage_run=sr).idempotency_key == "r-1"


def test_bulk_retries_are_idempotent_too(api, world, technician):
    sr = f.working_stage(world.protocol, world.worker)
    rows = {
        "results": [
            {
                "stage_run": sr.pk,
                "checkpoint": sr.stage.checkpoints.get(key="viability").pk,
                "value": 93,
                "unit": "%",
                "measured_at": timezone.now().isoformat(),
            }
        ]
    }
    client = api(technician)

    first = client.post("/api/v1/qc-results/bulk/", rows, format="json", HTTP_IDEMPOTENCY_KEY="b-1")
    again = client.post("/api/v1/qc-results/bulk/", rows, format="json", HTTP_IDEMPOTENCY_KEY="b-1")

    assert again.json() == first.json()
    assert QCResult.objects.filter(stage_run=sr).count() == 1


def _blocked_backends(expected: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    with connections["default"].cursor() as cursor:
        while time.monotonic() < deadline:
            # Statistics views are a snapshot per transaction: take a fresh one each time.
            cursor.execute("SELECT pg_stat_clear_snapshot()")
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock'"
            )
            if cursor.fetchone()[0] >= expected:
                return
            time.sleep(0.02)
        cursor.execute(
            "SELECT pid, state, wait_event_type, wait_event, left(query, 120) "
            "FROM pg_stat_activity WHERE datname = current_database()"
        )
        activity = cursor.fetchall()
    raise AssertionError(f"{expected} requests never waited on a lock together: {activity}")


@pytest.mark.django_db(transaction=True)
def test_concurrent_retries_write_once(postgres, lab, technician):
    """Four retries at once: one writes, the others wait on its claim and replay it."""
    token = f.token_for(technician)
    responses: list = []

    def post() -> None:
        try:
            responses.append(
                client_for(token).post(
                    "/api/v1/donors/",
                    _donor("DX-777"),
                    format="json",
                    HTTP_IDEMPOTENCY_KEY="race-1",
                )
            )
        finally:
            connection.close()

    # Hold the donors table so that the first request stops mid-transaction, after its claim:
    # the other three then queue behind that claim (and the first behind this lock).
    threads = [threading.Thread(target=post) for _ in range(4)]
    with connection.cursor() as cursor:
        cursor.execute("BEGIN")
        try:
            cursor.execute("LOCK TABLE runs_donor IN SHARE ROW EXCLUSIVE MODE")
            for thread in threads:
                thread.start()
            _blocked_backends(4)
        finally:
            cursor.execute("COMMIT")
            for thread in threads:
                thread.join(timeout=30)

    assert sorted(r.status_code for r in responses) == [201, 201, 201, 201]
    assert len({r.content for r in responses}) == 1
    assert sum(r.has_header("Idempotent-Replayed") for r in responses) == 3
    assert Donor.objects.filter(code="DX-777").count() == 1
    assert IdempotencyRecord.objects.filter(key="race-1").count() == 1
    assert AuditEvent.objects.filter(action="donor.create").count() == 1
