"""Reminders: the sweep's cost against the size of the stage-run table, and the delay from a stage
falling due to its email being handed to the email backend.

Sweep: the same 250 open stage runs fall due, first among 10,000 stage runs, then among
1,000,000 (the rest: finished history, planned stages, open work due weeks ahead). Each figure is
the fastest of five first sweeps after a warm-up (notifications created, claimed and enqueued on
the configured broker), the notifications being deleted between runs. Target: the cost follows
the due work, not the table (``sweep_1m_vs_10k_ratio`` <= 1.5, ``sweep_1m_seconds`` < 1). 250
reminders in one minute is far above what a lab produces; most of the cost per due stage is
Celery's per-message publish (~1 ms on this machine), reported as ``sweep_ms_per_due_stage``.

Due to sent: a real beat and worker (``REMINDER_SWEEP_SECONDS`` as configured, 60 by default)
and a local SMTP server; six stages fall due spread over one sweep interval; the figure is the
worst delay from a due time to ``Notification.sent_at`` (set when the SMTP server accepted it).
Target: under the sweep interval plus 5 s.

The bulk rows are cloned in SQL from one template row per table (``INSERT ... SELECT`` over a
recursive counter), so every column the models add later is copied too. Everything this
benchmark creates is deleted at the end.
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db import DatabaseError, connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

DUE = 250
SIZES = (10_000, 1_000_000)
STAGES = 10
REPEAT = 5
DUE_TO_SENT_STAGES = 6
H = timedelta(hours=1)


def _columns(table: str) -> list[str]:
    with connection.cursor() as cursor:
        return [c.name for c in connection.introspection.get_table_description(cursor, table)]


def _clone(
    table: str, template_id: int, count: int, overrides: dict[str, str], params: list
) -> None:
    """Insert ``count`` copies of row ``template_id``; ``overrides`` are SQL expressions of
    ``g`` (1..count) and of the template row ``t``."""
    columns = [c for c in _columns(table) if c != "id"]
    select = ", ".join(overrides.get(c, f"t.{connection.ops.quote_name(c)}") for c in columns)
    names = ", ".join(connection.ops.quote_name(c) for c in columns)
    # Table and column names come from the schema; values are parameters.
    counter = "WITH RECURSIVE gs(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM gs WHERE g < %s) "
    insert = f"INSERT INTO {table} ({names}) SELECT {select} FROM {table} t, gs"  # noqa: S608
    sql = counter + insert + " WHERE t.id = %s"
    with connection.cursor() as cursor:
        cursor.execute(sql, [count, *params, template_id])


def _seed(lab, technician, now) -> dict:
    from protocol_tracker.protocols.models import (
        ProtocolStatus,
        ProtocolTemplate,
        StageKind,
        StageTemplate,
    )
    from protocol_tracker.runs.models import Donor, Run, StageRun

    protocol = ProtocolTemplate.objects.create(
        lab=lab, code="bench-reminders", name="Bench", status=ProtocolStatus.DRAFT
    )
    stages = StageTemplate.objects.bulk_create(
        [
            StageTemplate(
                protocol=protocol,
                key=f"s{i}",
                order=i,
                name=f"Stage {i}",
                kind=StageKind.EXPANSION,
                expected_duration=24 * H,
                window_early=2 * H,
                window_late=2 * H,
            )
            for i in range(1, STAGES + 1)
        ]
    )
    donor = Donor.objects.create(lab=lab, code="BENCH-DONOR", consent_given=True)
    template_run = Run.objects.create(
        lab=lab, protocol=protocol, donor=donor, code="BENCH-T", status="active", planned_start=now
    )
    template_stage = StageRun.objects.create(
        run=template_run,
        stage=stages[0],
        order=1,
        status="completed",
        planned_start=now - 900 * H,
        due_at=now - 800 * H,
    )
    # The due work: DUE open stage runs due within half an hour either side of now.
    due_runs = Run.objects.bulk_create(
        [
            Run(
                lab=lab,
                protocol=protocol,
                donor=donor,
                code=f"BENCH-DUE-{i}",
                status="active",
                planned_start=now,
            )
            for i in range(DUE)
        ]
    )
    StageRun.objects.bulk_create(
        [
            StageRun(
                run=run,
                stage=stages[0],
                order=1,
                status="in_progress",
                planned_start=now - 24 * H,
                due_at=now - 0.5 * H + (i / DUE) * H,
                assignee=technician,
            )
            for i, run in enumerate(due_runs)
        ]
    )
    return {
        "protocol": protocol,
        "stages": stages,
        "template_run": template_run,
        "template_stage": template_stage,
        "runs_made": 0,
    }


def _grow(state: dict, total_stage_runs: int, now) -> None:
    """Add bulk runs (STAGES stage runs each) until the table holds ``total_stage_runs``."""
    from protocol_tracker.runs.models import StageRun

    missing = total_stage_runs - StageRun.objects.count()
    runs = missing // STAGES
    if runs <= 0:
        return
    first = state["runs_made"]
    # One donor for every five runs, as in a lab where a donor's cells seed a few batches.
    donors = max(1, runs // 5)
    _clone(
        "runs_donor",
        state["template_run"].donor_id,
        donors,
        {"code": "'BENCH-D-' || (g + %s)"},
        [first],
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT MAX(id) FROM runs_donor")
        first_donor = cursor.fetchone()[0] - donors + 1
    _clone(
        "runs_run",
        state["template_run"].pk,
        runs,
        {"code": "'BENCH-B-' || (g + %s)", "donor_id": "%s + (g %% %s)"},
        [first, first_donor, donors],
    )
    state["runs_made"] += runs
    # Most history is finished; 3 % of runs are planned ahead and 2 % have open work due in
    # weeks (inside the sweep's partial index, outside its time range).
    stage_ids = ", ".join(str(s.pk) for s in state["stages"])
    columns = [c for c in _columns("runs_stagerun") if c != "id"]
    overrides = {
        "run_id": "r.id",
        "stage_id": "s.id",
        "order": 's."order"',
        "status": (
            "CASE WHEN r.id %% 100 < 2 THEN 'in_progress' "
            "WHEN r.id %% 100 < 5 THEN 'pending' ELSE 'completed' END"
        ),
        "due_at": "CASE WHEN r.id %% 100 < 5 THEN %s ELSE t.due_at END",
    }
    select = ", ".join(overrides.get(c, f"t.{connection.ops.quote_name(c)}") for c in columns)
    names = ", ".join(connection.ops.quote_name(c) for c in columns)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO runs_stagerun ({names}) SELECT {select} "  # noqa: S608
            "FROM runs_stagerun t, runs_run r, protocols_stagetemplate s "
            f"WHERE t.id = %s AND r.code LIKE 'BENCH-B-%%' AND r.id > %s "
            f"AND s.id IN ({stage_ids})",
            [now + 30 * 24 * H, state["template_stage"].pk, state.get("last_run_id", 0)],
        )
        # Runs with nothing open are history: released.
        cursor.execute(
            "UPDATE runs_run SET status = 'released' WHERE code LIKE 'BENCH-B-%%' "
            "AND id > %s AND id %% 100 >= 5",
            [state.get("last_run_id", 0)],
        )
        cursor.execute("SELECT MAX(id) FROM runs_run")
        state["last_run_id"] = cursor.fetchone()[0]
    _settle()


def _settle() -> None:
    """Let the database absorb the bulk load (statistics, visibility map, dirty pages) so that
    the sweep is timed in a steady state, not during the aftermath of a million inserts."""
    with connection.cursor() as cursor:
        for table in ("runs_donor", "runs_run", "runs_stagerun", "reminders_notification"):
            if connection.vendor == "postgresql":
                cursor.execute(f"VACUUM ANALYZE {table}")
            else:
                cursor.execute(f"ANALYZE {table}")
        if connection.vendor == "postgresql":
            # Not a superuser: the checkpointer catches up on its own.
            with contextlib.suppress(DatabaseError):
                cursor.execute("CHECKPOINT")


def _time_sweep(now) -> tuple[float, int]:
    from protocol_tracker.celery import app
    from protocol_tracker.reminders.models import Notification
    from protocol_tracker.reminders.services import reminders_sweep

    times, created = [], 0
    reminders_sweep(now=now)  # warm-up: connections, caches, the broker's producer pool
    for _ in range(REPEAT):
        Notification.objects.filter(lab__slug="bench-reminders").delete()
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            result = reminders_sweep(now=now)  # commits, then enqueues DUE send tasks
            times.append(time.perf_counter() - started)
        created = result.created
    app.control.purge()
    slowest = max(queries.captured_queries, key=lambda q: float(q["time"]))
    print(
        f"   sweeps: {', '.join(f'{t:.3f}' for t in times)} s; slowest query "
        f"{float(slowest['time']):.3f} s: {slowest['sql'][:70]}",
        flush=True,
    )
    # The minimum: the machine is shared, and load only ever adds time.
    return min(times), created


def _due_to_sent(lab, technician) -> float:
    from aiosmtpd.controller import Controller

    from protocol_tracker.celery import app
    from protocol_tracker.reminders.models import Notification
    from protocol_tracker.runs.models import StageRun
    from tests.celery_worker import celery_process
    from tests.factories import stage_run_due
    from tests.reminders.conftest import MailSink, free_port, wait_until

    logging.getLogger("mail.log").setLevel(logging.WARNING)
    interval = settings.REMINDER_SWEEP_SECONDS
    sink, port = MailSink(), free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    env = {"EMAIL_URL": f"smtp://127.0.0.1:{port}", "REMINDER_SWEEP_SECONDS": str(interval)}
    app.control.purge()
    try:
        with (
            tempfile.TemporaryDirectory() as logs,
            celery_process("worker", log_dir=Path(logs), name="bench", extra_env=env),
            celery_process("beat", log_dir=Path(logs), extra_env=env),
        ):
            start = timezone.now()
            ids = [
                stage_run_due(
                    lab,
                    start + timedelta(seconds=5 + i * interval / DUE_TO_SENT_STAGES),
                    assignee=technician,
                    lead=timedelta(0),
                ).pk
                for i in range(DUE_TO_SENT_STAGES)
            ]
            wait_until(
                lambda: (
                    Notification.objects.filter(object_id__in=ids, status="sent").count()
                    == len(ids)
                ),
                timeout=2 * interval + 30,
                interval=0.5,
            )
    finally:
        controller.stop()
    due = dict(StageRun.objects.filter(pk__in=ids).values_list("pk", "due_at"))
    delays = [
        (n.sent_at - due[n.object_id]).total_seconds()
        for n in Notification.objects.filter(object_id__in=ids, kind="due", status="sent")
    ]
    if len(delays) != len(ids):
        raise RuntimeError(f"only {len(delays)} of {len(ids)} due emails were sent")
    return max(delays)


def _cleanup(lab) -> None:
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM reminders_notification WHERE lab_id = %s", [lab.pk])
        cursor.execute(
            "DELETE FROM runs_stagerun WHERE run_id IN (SELECT id FROM runs_run WHERE lab_id = %s)",
            [lab.pk],
        )
        for table in ("runs_run", "runs_donor"):
            cursor.execute(f"DELETE FROM {table} WHERE lab_id = %s", [lab.pk])  # noqa: S608
        cursor.execute(
            "DELETE FROM protocols_stagetemplate WHERE protocol_id IN "
            "(SELECT id FROM protocols_protocoltemplate WHERE lab_id = %s)",
            [lab.pk],
        )
        cursor.execute("DELETE FROM protocols_protocoltemplate WHERE lab_id = %s", [lab.pk])
        cursor.execute("DELETE FROM labs_membership WHERE lab_id = %s", [lab.pk])
        cursor.execute("DELETE FROM labs_lab WHERE id = %s", [lab.pk])


def run() -> dict:
    from tests.factories import LabFactory, MembershipFactory, UserFactory

    lab = LabFactory(name="Bench reminders", slug="bench-reminders", timezone="Asia/Shanghai")
    technician = UserFactory(username="bench-reminders-tech")
    MembershipFactory(user=technician, lab=lab, role="technician")
    figures: dict[str, dict] = {}
    try:
        interval = settings.REMINDER_SWEEP_SECONDS
        figures["due_to_sent_seconds"] = {
            "value": round(_due_to_sent(lab, technician), 2),
            "unit": "s",
            "target": f"< {interval + 5} (sweep every {interval} s, plus 5 s)",
        }
        _cleanup_runs_only(lab)
        now = timezone.now()
        state = _seed(lab, technician, now)
        seconds = {}
        for size in SIZES:
            started = time.perf_counter()
            _grow(state, size, now)
            print(
                f"   {size:,} stage runs seeded in {time.perf_counter() - started:.1f} s",
                flush=True,
            )
            seconds[size], created = _time_sweep(now)
            if created < DUE:
                raise RuntimeError(f"the sweep created {created} notifications, not {DUE}")
        figures["sweep_10k_seconds"] = {
            "value": round(seconds[10_000], 4),
            "unit": "s",
            "target": f"{DUE} due among 10,000 stage runs",
        }
        figures["sweep_1m_seconds"] = {
            "value": round(seconds[1_000_000], 4),
            "unit": "s",
            "target": "< 1",
        }
        figures["sweep_ms_per_due_stage"] = {
            "value": round(1000 * seconds[1_000_000] / DUE, 3),
            "unit": "ms",
            "target": "at 1,000,000 stage runs",
        }
        figures["sweep_1m_vs_10k_ratio"] = {
            "value": round(seconds[1_000_000] / seconds[10_000], 3),
            "unit": "x",
            "target": "<= 1.5",
        }
    finally:
        _cleanup(lab)
        technician.delete()
    return figures


def _cleanup_runs_only(lab) -> None:
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM reminders_notification WHERE lab_id = %s", [lab.pk])
        cursor.execute(
            "DELETE FROM runs_stagerun WHERE run_id IN (SELECT id FROM runs_run WHERE lab_id = %s)",
            [lab.pk],
        )
        cursor.execute("DELETE FROM runs_run WHERE lab_id = %s", [lab.pk])
