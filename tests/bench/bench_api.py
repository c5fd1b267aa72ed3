"""The REST API: bulk ingestion against a raw COPY, list and detail query counts, list latency
against one raw SQL query encoded to JSON.

- ``ingest_bulk_rows_per_s``: ``POST /api/v1/qc-results/bulk/`` with 5,000 rows (parse,
  validate, judge against specs, insert, audit, respond), through the whole Django stack.
  ``copy_rows_per_s``: psycopg ``COPY`` of the same 5,000 result rows into the same table (then
  rolled back), in the same run. Their ratio must stay ≥ 0.2: a save per row would be ~0.01.
- ``run_list_queries_5`` / ``_100``: queries for a page of 5 and of 100 runs (equal).
- ``run_list_p50_ms`` at 10,000 runs, against the same page read with one raw SQL query and
  encoded to JSON with orjson (``run_list_raw_p50_ms``); ``run_list_vs_raw_ratio`` ≤ 3.
"""

from __future__ import annotations

import json
import statistics
import time
from datetime import timedelta

from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

ROWS = 5000
LIST_RUNS = 10_000
REPEAT_INGEST = 3
REPEAT_LIST = 60


def _median(values) -> float:
    return statistics.median(values)


def _setup():
    from labs.models import Lab, Membership, Role
    from protocol_tracker.api.services import personal_token_issue
    from tests import builders as f
    from tests.factories import UserFactory

    lab = Lab.objects.create(name="Bench API", slug="bench-api", timezone="Europe/Berlin")
    user = UserFactory(username="bench-api-tech")
    worker = UserFactory(username="bench-api-worker")
    Membership.objects.create(user=user, lab=lab, role=Role.TECHNICIAN)
    Membership.objects.create(user=worker, lab=lab, role=Role.TECHNICIAN)
    token = personal_token_issue(user=user, name="bench")[1]
    client = Client(HTTP_AUTHORIZATION=f"Token {token}")
    return lab, user, worker, client, f


def _bulk_rows(f, wide, worker, measured_at: str) -> list[dict]:
    stages = [f.working_stage(wide, worker) for _ in range(ROWS // 100)]
    checkpoints = list(wide.checkpoints.order_by("key"))
    return [
        {
            "stage_run": sr.pk,
            "checkpoint": cp.pk,
            "value": float(i % 97),
            "unit": "",
            "measured_at": measured_at,
        }
        for sr in stages
        for i, cp in enumerate(checkpoints)
    ]


def _ingest(client, rows) -> float:
    body = json.dumps({"results": rows})
    started = time.perf_counter()
    response = client.post("/api/v1/qc-results/bulk/", body, content_type="application/json")
    elapsed = time.perf_counter() - started
    assert response.status_code == 201, response.content[:500]
    assert response.json()["count"] == len(rows)
    return len(rows) / elapsed


_COPY_COLUMNS = (
    "stage_run_id",
    "checkpoint_id",
    "value_number",
    "value_bool",
    "value_text",
    "unit",
    "value_in_spec_unit",
    "spec_snapshot",
    "verdict",
    "recorded_by_id",
    "measured_at",
    "recorded_at",
    "idempotency_key",
    "reason",
    "comment",
    "passage",
)


def _copy(rows, snapshot: dict, user_id: int) -> float:
    """Rows/s of a raw COPY of the same results into qc_qcresult (rolled back)."""
    from psycopg.types.json import Jsonb

    now = timezone.now()
    measured = now - timedelta(hours=1)
    records = [
        (
            r["stage_run"],
            r["checkpoint"],
            r["value"],
            None,
            "",
            "",
            r["value"],
            Jsonb(snapshot),
            "pass",
            user_id,
            measured,
            now,
            "",
            "",
            "",
            0,
        )
        for r in rows
    ]
    sql = f"COPY qc_qcresult ({', '.join(_COPY_COLUMNS)}) FROM STDIN"
    with transaction.atomic():
        with connection.cursor() as cursor:
            raw = cursor.cursor
            started = time.perf_counter()
            with raw.copy(sql) as copy:
                for record in records:
                    copy.write_row(record)
            elapsed = time.perf_counter() - started
        transaction.set_rollback(True)
    return len(records) / elapsed


def _seed_runs(lab, protocol, user, n: int) -> None:
    """Bench data only: runs inserted in bulk (the list reads runs, not their stages)."""
    from protocol_tracker.runs.models import Donor, Run

    donors = Donor.objects.bulk_create(
        [
            Donor(lab=lab, code=f"BD-{i:05d}", consent_given=True, created_by=user)
            for i in range(100)
        ]
    )
    start = timezone.now() - timedelta(days=30)
    Run.objects.bulk_create(
        [
            Run(
                lab=lab,
                protocol=protocol,
                donor=donors[i % 100],
                code=f"BENCH-{i:06d}",
                status=("planned", "active", "on_hold", "completed")[i % 4],
                planned_start=start + timedelta(minutes=i),
                created_by=user,
            )
            for i in range(n)
        ],
        batch_size=2000,
    )


RAW_LIST_SQL = """
SELECT r.id, r.lab_id, r.code, r.status, r.protocol_id, p.code, p.name, p.version, r.donor_id,
       d.code, r.parent_id, r.assignee_id, r.passage, r.planned_start, r.started_at,
       r.completed_at, r.closed_at, r.conditional_release, r.flagged, r.created_at
FROM runs_run r
JOIN protocols_protocoltemplate p ON p.id = r.protocol_id
JOIN runs_donor d ON d.id = r.donor_id
WHERE r.lab_id IN (SELECT m.lab_id FROM labs_membership m WHERE m.user_id = %s)
ORDER BY r.id DESC
LIMIT %s
"""
RAW_NAMES = (
    "id",
    "lab",
    "code",
    "status",
    "protocol",
    "protocol_code",
    "protocol_name",
    "protocol_version",
    "donor",
    "donor_code",
    "parent",
    "assignee",
    "passage",
    "planned_start",
    "started_at",
    "completed_at",
    "closed_at",
    "conditional_release",
    "flagged",
    "created_at",
)


def _raw_list(user_id: int, page: int) -> bytes:
    import orjson

    with connection.cursor() as cursor:
        cursor.execute(RAW_LIST_SQL, [user_id, page])
        rows = cursor.fetchall()
    return orjson.dumps(
        {"results": [dict(zip(RAW_NAMES, row, strict=True)) for row in rows]},
        option=orjson.OPT_UTC_Z,
    )


def _p50_ms(call, repeat: int = REPEAT_LIST) -> float:
    for _ in range(5):
        call()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return _median(times)


def _queries(call) -> int:
    with CaptureQueriesContext(connection) as ctx:
        call()
    return len(ctx.captured_queries)


def run() -> dict[str, dict]:
    from protocol_tracker.protocols.services import protocol_import

    lab, user, worker, client, f = _setup()
    figures: dict[str, dict] = {}

    # --- bulk ingestion --------------------------------------------------------------------
    wide = protocol_import(lab=lab, definition=f.wide_definition("bench-wide", 100))
    when = (timezone.now() - timedelta(hours=1)).isoformat()
    api_rates, copy_rates = [], []
    for _ in range(REPEAT_INGEST):
        rows = _bulk_rows(f, wide, worker, when)
        api_rates.append(_ingest(client, rows))
        if connection.vendor == "postgresql":
            snapshot = {"spec": {"min": 0}, "unit": "", "value_type": "number"}
            copy_rates.append(_copy(rows, snapshot, user.pk))
    api_rate = _median(api_rates)
    figures["ingest_bulk_rows_per_s"] = {
        "value": api_rate,
        "unit": "rows/s",
        "target": "≥ 0.2 × COPY",
    }
    if copy_rates:
        copy_rate = _median(copy_rates)
        figures["copy_rows_per_s"] = {
            "value": copy_rate,
            "unit": "rows/s",
            "target": "reference (same rows, same run)",
        }
        figures["ingest_bulk_vs_copy_ratio"] = {
            "value": api_rate / copy_rate,
            "unit": "ratio",
            "target": "≥ 0.2",
        }
    else:
        print("   (no COPY on SQLite: set DATABASE_URL=postgres://… for the ratio)")

    # --- run list and detail -------------------------------------------------------------
    protocol = f.api_protocol(lab, "bench-list")
    detail_run = f.completed_run(protocol, worker)
    _seed_runs(lab, protocol, user, LIST_RUNS)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("ANALYZE")

    def list_page(size):
        return lambda: client.get(f"/api/v1/runs/?page_size={size}")

    response = list_page(100)()
    assert response.status_code == 200 and len(response.json()["results"]) == 100
    figures["run_list_queries_5"] = {
        "value": _queries(list_page(5)),
        "unit": "queries",
        "target": "= run_list_queries_100",
    }
    figures["run_list_queries_100"] = {
        "value": _queries(list_page(100)),
        "unit": "queries",
        "target": "= run_list_queries_5",
    }
    detail = lambda: client.get(f"/api/v1/runs/{detail_run.pk}/")  # noqa: E731
    assert detail().status_code == 200
    figures["run_detail_queries"] = {
        "value": _queries(detail),
        "unit": "queries",
        "target": "constant (pinned in tests/api/test_lists.py)",
    }

    api_ms = _p50_ms(list_page(100))
    raw_ms = _p50_ms(lambda: _raw_list(user.pk, 101))
    figures["run_list_p50_ms"] = {
        "value": api_ms,
        "unit": "ms",
        "target": f"100 per page, {LIST_RUNS} runs",
    }
    figures["run_list_raw_p50_ms"] = {
        "value": raw_ms,
        "unit": "ms",
        "target": "one raw query + orjson (reference)",
    }
    figures["run_list_vs_raw_ratio"] = {"value": api_ms / raw_ms, "unit": "ratio", "target": "≤ 3"}
    figures["run_detail_p50_ms"] = {"value": _p50_ms(detail, 30), "unit": "ms", "target": "< 50"}
    return figures
