"""``qc-results/bulk/``: up to 5,000 results, all or nothing, per-row errors."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from protocol_tracker.audit.models import AuditEvent
from protocol_tracker.qc.models import QCResult
from tests import builders as f

pytestmark = pytest.mark.django_db


def _stages(world, n):
    return [f.working_stage(world.protocol, world.worker) for _ in range(n)]


def _row(sr, key="viability", value=90, **extra):
    row = {
        "stage_run": sr.pk,
        "checkpoint": sr.stage.checkpoints.get(key=key).pk,
        "value": value,
        "unit": "%",
        "measured_at": timezone.now().isoformat(),
    }
    row.update(extra)
    return row


def test_bulk_records_every_row_in_order(api, world, technician):
    a, b = _stages(world, 2)
    rows = [
        _row(a),
        _row(b, value=50),
        _row(a, key="viable_cells_per_ml", value=2e6, unit="cells/mL"),
    ]

    response = api(technician).post("/api/v1/qc-results/bulk/", {"results": rows}, format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["count"] == 3
    assert [(r["stage_run"], r["verdict"]) for r in body["results"]] == [
        (a.pk, "pass"),
        (b.pk, "fail"),
        (a.pk, "pass"),
    ]
    assert list(
        QCResult.objects.filter(pk__in=[r["id"] for r in body["results"]])
        .order_by("pk")
        .values_list("value_number", flat=True)
    ) == [90.0, 50.0, 2e6]
    assert world.run.lab.deviations.filter(qc_result_id=body["results"][1]["id"]).count() == 1


def test_one_bad_row_records_nothing_and_says_which(api, world, other_world, technician):
    (a,) = _stages(world, 1)
    rows = [
        _row(a),
        _row(a, key="viable_cells_per_ml", value="lots", unit="cells/mL"),
        {
            "stage_run": other_world.stage_run.pk,
            "checkpoint": 1,
            "value": 1,
            "measured_at": timezone.now().isoformat(),
        },
        {"stage_run": "x", "checkpoint": a.stage.checkpoints.first().pk, "measured_at": "soon"},
        "not an object",
    ]
    client = api(technician)
    results, events = QCResult.objects.count(), AuditEvent.objects.count()

    response = client.post("/api/v1/qc-results/bulk/", {"results": rows}, format="json")

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "bulk_validation_failed"
    assert body["rows"] == [
        {"index": 3, "field": "stage_run", "message": "An id (a whole number) is required."},
        {"index": 3, "field": "measured_at", "message": "A date and time in ISO 8601 is required."},
        {"index": 4, "field": None, "message": "Each result must be an object."},
    ]
    assert (QCResult.objects.count(), AuditEvent.objects.count()) == (results, events)

    rows = rows[:3]
    response = client.post("/api/v1/qc-results/bulk/", {"results": rows}, format="json")

    assert response.status_code == 400
    assert response.json()["rows"] == [
        {"index": 1, "field": "value", "message": "'lots' is not a number"},
        {"index": 2, "field": "stage_run", "message": "not found"},
    ]
    assert (QCResult.objects.count(), AuditEvent.objects.count()) == (results, events)


@pytest.mark.parametrize("body", [{}, {"results": []}, {"results": {}}, [], {"results": "x"}])
def test_the_envelope_is_checked(api, world, technician, body):
    response = api(technician).post("/api/v1/qc-results/bulk/", body, format="json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "results"


def test_more_than_5000_rows_is_400(api, world, technician):
    (a,) = _stages(world, 1)
    rows = [_row(a)] * 5001

    response = api(technician).post("/api/v1/qc-results/bulk/", {"results": rows}, format="json")

    assert response.status_code == 400
    assert response.json()["errors"] == [
        {
            "field": "results",
            "code": "invalid",
            "message": "At most 5000 results per request, got 5001.",
        }
    ]


def test_5000_rows_in_one_request(api, world, technician, django_assert_max_num_queries):
    """The largest batch goes through with a bounded number of queries (no save per row)."""
    from protocol_tracker.protocols.services import protocol_import

    wide = protocol_import(lab=world.lab, definition=f.wide_definition(checkpoints=100))
    stages = [f.working_stage(wide, world.worker) for _ in range(50)]
    checkpoints = list(wide.checkpoints.order_by("key"))
    when = (timezone.now() - timedelta(hours=1)).isoformat()
    rows = [
        {"stage_run": sr.pk, "checkpoint": cp.pk, "value": i % 97, "measured_at": when}
        for sr in stages
        for i, cp in enumerate(checkpoints)
    ]
    client = api(technician)

    # Batched inserts: ~10 queries on PostgreSQL, ~200 on SQLite (its parameter limit);
    # either way not one per row.
    with django_assert_max_num_queries(250):
        response = client.post("/api/v1/qc-results/bulk/", {"results": rows}, format="json")

    assert response.status_code == 201, response.content[:500]
    assert response.json()["count"] == 5000
    assert QCResult.objects.filter(recorded_by=technician).count() == 5000
