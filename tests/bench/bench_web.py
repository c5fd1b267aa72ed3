"""Web UI: server time and query count of the bench board, the run page and the trend chart
with 10 and with 1,000 runs in the lab. Query counts must not grow with the rows.

The first 10 runs go through the services; the other 990 are bulk copies of them (same shape:
an active run, its first stage in progress with a bench task schedule and a viability result),
which is what the pages read.
"""

from __future__ import annotations

import statistics
import time
from datetime import timedelta

from django.db import connection
from django.test import Client, override_settings
from django.utils import timezone

REQUESTS = 40


def _setup():
    from protocol_tracker.protocols.models import CheckpointTemplate
    from protocol_tracker.qc import services as qc_services
    from protocol_tracker.runs import services as run_services
    from protocol_tracker.runs.models import StageRun
    from tests.builders import active_run, web_protocol
    from tests.factories import LabFactory, MembershipFactory, UserFactory

    lab = LabFactory(name="Bench lab", slug="bench-lab", timezone="Asia/Shanghai")
    technician = UserFactory(username="bench-tech")
    reviewer = UserFactory(username="bench-reviewer")
    MembershipFactory(user=technician, lab=lab, role="technician")
    MembershipFactory(user=reviewer, lab=lab, role="reviewer")
    protocol = web_protocol(lab)
    checkpoint = CheckpointTemplate.objects.get(protocol=protocol, key="viability")
    runs = []
    for i in range(10):
        run = active_run(protocol, technician, donor_code=f"DON-B{i:03d}", hours_ago=1 + i * 7)
        stage_run = StageRun.objects.filter(run=run).order_by("order").first()
        stage_run = run_services.stage_start(stage_run=stage_run, actor=technician)
        qc_services.qc_result_record(
            stage_run=stage_run,
            checkpoint=checkpoint,
            value=72 + (i * 7) % 25,
            unit="%",
            measured_at=timezone.now() - timedelta(hours=i),
            actor=technician,
        )
        runs.append(run)
    return lab, reviewer, runs, checkpoint


def _grow_to(lab, runs, total: int) -> None:
    """Bulk copies of the service-made runs until the lab has ``total`` runs."""
    from protocol_tracker.qc.models import QCResult
    from protocol_tracker.runs.models import Run, StageRun, TaskOccurrence

    template_runs = list(Run.objects.filter(pk__in=[r.pk for r in runs]))
    stage_runs = list(StageRun.objects.filter(run__in=template_runs))
    tasks = list(TaskOccurrence.objects.filter(stage_run__in=stage_runs))
    results = list(QCResult.objects.filter(stage_run__in=stage_runs))
    new_runs = []
    for i in range(total - len(template_runs)):
        source = template_runs[i % len(template_runs)]
        copy = Run(
            **{
                f.attname: getattr(source, f.attname)
                for f in Run._meta.concrete_fields
                if f.attname != "id"
            }
        )
        copy.code = f"BENCH-{i:05d}"
        new_runs.append((source, copy))
    Run.objects.bulk_create([copy for _, copy in new_runs], batch_size=500)

    def clone(obj, **changes):
        values = {
            f.attname: getattr(obj, f.attname)
            for f in type(obj)._meta.concrete_fields
            if f.attname != "id"
        }
        values.update(changes)
        return type(obj)(**values)

    by_run: dict[int, list[StageRun]] = {}
    for sr in stage_runs:
        by_run.setdefault(sr.run_id, []).append(sr)
    new_srs = []
    for source, copy in new_runs:
        for sr in by_run[source.pk]:
            new_srs.append((sr, clone(sr, run_id=copy.pk)))
    StageRun.objects.bulk_create([c for _, c in new_srs], batch_size=500)
    by_sr_tasks: dict[int, list] = {}
    for t in tasks:
        by_sr_tasks.setdefault(t.stage_run_id, []).append(t)
    by_sr_results: dict[int, list] = {}
    for r in results:
        by_sr_results.setdefault(r.stage_run_id, []).append(r)
    new_tasks, new_results = [], []
    for i, (sr, copy) in enumerate(new_srs):
        new_tasks += [clone(t, stage_run_id=copy.pk) for t in by_sr_tasks.get(sr.pk, [])]
        new_results += [
            clone(
                r,
                stage_run_id=copy.pk,
                idempotency_key="",
                supersedes_id=None,
                measured_at=r.measured_at - timedelta(hours=i),
                value_number=60 + i % 37,
                value_in_spec_unit=60 + i % 37,
                verdict="pass" if 60 + i % 37 >= 70 else "fail",
            )
            for r in by_sr_results.get(sr.pk, [])
        ]
    TaskOccurrence.objects.bulk_create(new_tasks, batch_size=500)
    QCResult.objects.bulk_create(new_results, batch_size=500)
    assert Run.objects.for_lab(lab).count() == total
    # Planner statistics, as autovacuum would keep them: without them PostgreSQL plans the
    # freshly bulk-loaded tables as if they held one row each.
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def _measure(client: Client, url: str) -> tuple[int, float]:
    client.get(url)  # warm-up
    executed = []

    def count(execute, sql, params, many, context):
        executed.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    timings = []
    for _ in range(REQUESTS):
        started = time.perf_counter()
        client.get(url)
        timings.append((time.perf_counter() - started) * 1000)
    p95 = statistics.quantiles(timings, n=20)[-1]
    return len(executed), p95


@override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"], DEBUG=False)
def run() -> dict:
    lab, reviewer, runs, checkpoint = _setup()
    client = Client()
    client.force_login(reviewer)
    pages = {
        "bench_board": "/",
        "run_page": f"/runs/{runs[0].pk}/",
        "trend_chart": f"/trends/{checkpoint.pk}/",
    }
    figures: dict[str, dict] = {}
    for size in (10, 1000):
        if size == 1000:
            _grow_to(lab, runs, 1000)
        for name, url in pages.items():
            count, p95 = _measure(client, url)
            figures[f"{name}_queries_{size}runs"] = {
                "value": count,
                "unit": "queries",
                "target": "equal for 10 and 1,000 runs",
            }
            if size == 1000:
                figures[f"{name}_p95_ms_{size}runs"] = {
                    "value": round(p95, 2),
                    "unit": "ms",
                    "target": "< 100",
                }
            else:
                figures[f"{name}_p95_ms_{size}runs"] = {
                    "value": round(p95, 2),
                    "unit": "ms",
                    "target": "(reference)",
                }
    return figures
