"""The workflow engine: queries per action with 100 and with 10,000 runs in the database, and
bulk QC recording against a raw COPY of the same rows.

Actions measured on the default E-islet protocol (12 stages): run_create, run_start,
stage_start, qc_result_record, stage_complete. The extra runs (with all their stage runs) are
seeded with ``bulk_create``; the measured runs go through the services. Target: the same number
of queries per action whatever the size of the database.

Bulk: ``qc_results_record_bulk`` with 5,000 rows (validated, judged, one ``COPY`` of the results
and one of their 5,000 chained audit events, committed) against PostgreSQL ``COPY`` of the same
rows into a scratch temporary table (on SQLite, a raw ``executemany``), timed right after it;
the median of ``BULK_REPEATS`` rounds, since other work on the machine moves single figures by
a factor of two. Target: at least 0.2 of the raw speed. Note the baseline's table has no foreign
keys, no WAL (temporary) and no audit trail: on PostgreSQL the real tables' own cost (two rows
per result, 21 indexes, 6 deferred foreign-key checks at commit) is already about 0.2 of it.
"""

from __future__ import annotations

import statistics
import time
from collections import defaultdict
from datetime import timedelta

from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

SAMPLE_RUNS = 10
BULK_ROWS = 5000
BULK_REPEATS = 3
ACTIONS = ("run_create", "run_start", "stage_start", "qc_result_record", "stage_complete")


def _seed_runs(lab, protocol, donors, n: int, offset: int) -> None:
    from protocol_tracker.runs.models import Run, StageRun

    stages = list(protocol.stages.order_by("order"))
    now = timezone.now()
    for start in range(0, n, 1000):
        runs = Run.objects.bulk_create(
            [
                Run(
                    lab=lab,
                    protocol=protocol,
                    donor=donors[i % len(donors)],
                    code=f"SEED-{offset + i:06d}",
                    planned_start=now,
                    status="active",
                )
                for i in range(start, min(n, start + 1000))
            ]
        )
        StageRun.objects.bulk_create(
            [
                StageRun(
                    run=run,
                    stage=stage,
                    order=stage.order,
                    planned_start=now,
                    due_at=now + stage.expected_duration,
                    status="pending",
                )
                for run in runs
                for stage in stages
            ],
            batch_size=5000,
        )


def _measure(lab, protocol, technician, donor) -> dict[str, list[int]]:
    from protocol_tracker.qc.services import qc_result_record, stage_complete
    from protocol_tracker.runs.services import run_create, run_start, stage_start
    from tests.builders import passing_value

    counts: dict[str, list[int]] = defaultdict(list)

    def count(name, call):
        with CaptureQueriesContext(connection) as ctx:
            result = call()
        counts[name].append(len(ctx.captured_queries))
        return result

    start = timezone.now() - timedelta(hours=24)
    for _ in range(SAMPLE_RUNS):
        run = count(
            "run_create",
            lambda: run_create(
                lab=lab, protocol=protocol, donor=donor, actor=technician, planned_start=start
            ),
        )
        run = count("run_start", lambda run=run: run_start(run=run, actor=technician))
        first = run.stage_runs.select_related("stage").order_by("order").first()
        sr = count("stage_start", lambda sr=first: stage_start(stage_run=sr, actor=technician))
        for cp in sr.stage.checkpoints.filter(blocking=True):
            count(
                "qc_result_record",
                lambda cp=cp, sr=sr: qc_result_record(
                    stage_run=sr,
                    checkpoint=cp,
                    value=passing_value(cp),
                    unit=None,
                    measured_at=timezone.now(),
                    actor=technician,
                ),
            )
        count("stage_complete", lambda sr=sr: stage_complete(stage_run=sr, actor=technician))
    return counts


def _bulk(lab, protocol, technician, donors, *, prefix: str = "") -> tuple[float, float, str]:
    """Seconds for the bulk service and for the raw baseline, and the baseline's name."""
    from protocol_tracker.qc.models import QCResult
    from protocol_tracker.qc.services import qc_results_record_bulk
    from protocol_tracker.runs.models import Run, StageRun
    from tests.builders import passing_value

    bank = protocol.stages.get(key="ipsc_bank")
    checkpoints = [c for c in bank.checkpoints.all() if c.recorded_by != "instrument"]
    n_runs = -(-BULK_ROWS // len(checkpoints))
    now = timezone.now()
    runs = Run.objects.bulk_create(
        [
            Run(
                lab=lab,
                protocol=protocol,
                donor=donors[i % len(donors)],
                code=f"BULK-{prefix}{i:05d}",
                planned_start=now,
                status="active",
            )
            for i in range(n_runs)
        ]
    )
    stage_runs = StageRun.objects.bulk_create(
        [
            StageRun(
                run=run,
                stage=bank,
                order=bank.order,
                planned_start=now,
                due_at=now,
                status="in_progress",
            )
            for run in runs
        ]
    )
    rows = [
        {
            "stage_run": sr.pk,
            "checkpoint": cp.pk,
            "value": passing_value(cp),
            "unit": None,
            "measured_at": now,
        }
        for sr in stage_runs
        for cp in checkpoints
    ][:BULK_ROWS]

    started = time.perf_counter()
    with transaction.atomic():
        results = qc_results_record_bulk(rows=rows, actor=technician)
    bulk_s = time.perf_counter() - started
    assert len(results) == BULK_ROWS

    columns = [
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
    ]
    raw = list(QCResult.objects.filter(pk__in=[r.pk for r in results]).values_list(*columns))
    import json

    raw = [(*row[:7], json.dumps(row[7]), *row[8:]) for row in raw]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "CREATE TEMP TABLE bench_copy (LIKE qc_qcresult INCLUDING DEFAULTS "
                "INCLUDING IDENTITY INCLUDING INDEXES)"
            )
            started = time.perf_counter()
            with cursor.cursor.copy(f"COPY bench_copy ({', '.join(columns)}) FROM STDIN") as copy:
                for row in raw:
                    copy.write_row(row)
            raw_s, baseline = time.perf_counter() - started, "COPY"
            cursor.execute("DROP TABLE bench_copy")
        else:
            cursor.execute("CREATE TEMP TABLE bench_copy AS SELECT * FROM qc_qcresult WHERE 0")
            started = time.perf_counter()
            sql = (
                f"INSERT INTO bench_copy ({', '.join(columns)}) "  # noqa: S608 - constants
                f"VALUES ({', '.join(['%s'] * len(columns))})"
            )
            cursor.executemany(sql, raw)
            raw_s, baseline = time.perf_counter() - started, "executemany"
            cursor.execute("DROP TABLE bench_copy")
    return bulk_s, raw_s, baseline


def run() -> dict[str, dict]:
    from labs.models import Lab, Membership, Role
    from protocol_tracker.protocols.services import protocol_import_defaults
    from protocol_tracker.runs.models import Donor
    from tests.factories import UserFactory

    lab = Lab.objects.create(name="Bench workflow", slug="bench-workflow", timezone="Asia/Shanghai")
    technician = UserFactory(username="bench-workflow-tech")
    Membership.objects.create(user=technician, lab=lab, role=Role.TECHNICIAN)
    protocol = protocol_import_defaults(lab=lab)[0]
    donors = Donor.objects.bulk_create(
        [Donor(lab=lab, code=f"BENCH-{i:04d}", consent_given=True) for i in range(100)]
    )

    from labs.selectors import has_role

    has_role(technician, lab, {Role.TECHNICIAN})  # the role cache, so both sizes count alike
    _seed_runs(lab, protocol, donors, 100, 0)
    small = _measure(lab, protocol, technician, donors[0])
    _seed_runs(lab, protocol, donors, 9_900 - 2 * SAMPLE_RUNS, 100)
    large = _measure(lab, protocol, technician, donors[1])
    rounds = [_bulk(lab, protocol, technician, donors, prefix=f"{n}-") for n in range(BULK_REPEATS)]
    bulk_s = statistics.median(r[0] for r in rounds)
    raw_s = statistics.median(r[1] for r in rounds)
    ratio = statistics.median(r[1] / r[0] for r in rounds)
    baseline = rounds[0][2]

    def average(counts):
        values = [v for name in ACTIONS for v in counts[name]]
        return sum(values) / len(values)

    figures = {
        "workflow_queries_per_action_100runs": {
            "value": average(small),
            "unit": "queries",
            "target": "equal to 10000runs",
        },
        "workflow_queries_per_action_10000runs": {
            "value": average(large),
            "unit": "queries",
            "target": "equal to 100runs",
        },
    }
    for name in ACTIONS:
        for label, counts in (("100runs", small), ("10000runs", large)):
            figures[f"workflow_{name}_queries_{label}"] = {
                "value": max(counts[name]),
                "unit": "queries",
                "target": "constant",
            }
    figures["qc_bulk_5000_rows_per_s"] = {
        "value": BULK_ROWS / bulk_s,
        "unit": "rows/s",
        "target": "-",
    }
    figures[f"qc_bulk_raw_{baseline.lower()}_rows_per_s"] = {
        "value": BULK_ROWS / raw_s,
        "unit": "rows/s",
        "target": "-",
    }
    figures["qc_bulk_vs_raw_ratio"] = {
        "value": ratio,
        "unit": "ratio",
        "target": f">= 0.2 of {baseline}",
    }
    return figures
