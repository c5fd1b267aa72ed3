"""End to end with real processes: Celery beat and workers on the configured broker (Redis in CI,
the embedded filesystem broker otherwise), the test database, and a real SMTP server (aiosmtpd).

Waits are bounded and poll the mailbox, the database or the worker's log; nothing sleeps a fixed
time to "let things happen".
"""

from __future__ import annotations

import contextlib
import subprocess
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from protocol_tracker.celery import app
from protocol_tracker.reminders.models import Notification
from protocol_tracker.reminders.services import reminders_sweep
from tests.celery_worker import celery_process
from tests.factories import H, stage_run_due
from tests.reminders.conftest import wait_until

pytestmark = pytest.mark.django_db(transaction=True)
SWEEP = 5  # seconds: REMINDER_SWEEP_SECONDS for these processes (the smallest allowed)


@pytest.fixture
def env(smtp_server) -> Iterator[dict[str, str]]:
    _sink, port = smtp_server
    app.control.purge()  # nothing left over from an earlier test's processes
    yield {
        "EMAIL_URL": f"smtp://127.0.0.1:{port}",
        "REMINDER_SWEEP_SECONDS": str(SWEEP),
        "REMINDER_RETRY_SECONDS": "1",
    }
    app.control.purge()  # and nothing of ours left for a later test


@pytest.fixture
def sink(smtp_server):
    return smtp_server[0]


def _kill(proc: subprocess.Popen) -> None:
    # A warm (or even cold) worker shutdown on the embedded broker takes ~6 s; by now every
    # sweep and send these tests wait for has finished and been recorded, so nothing is lost.
    if proc.poll() is None:
        proc.kill()


def start_together(stack: contextlib.ExitStack, *processes) -> None:
    """Enter several ``celery_process`` contexts at once (their start-ups overlap); on exit the
    processes are killed."""
    entered: list = []
    errors: list[BaseException] = []

    def enter(process) -> None:
        try:
            proc = process.__enter__()
            entered.append((process, proc))
        except BaseException as exc:  # re-raised below, after the others are registered
            errors.append(exc)

    threads = [threading.Thread(target=enter, args=(p,)) for p in processes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for process, proc in entered:
        stack.push(process)
        stack.callback(_kill, proc)
    if errors:
        raise errors[0]


def sweeps_done(log: Path) -> int:
    """How many sweeps a worker has finished, from its log."""
    if not log.exists():
        return 0
    return sum(
        1
        for line in log.read_text(errors="replace").splitlines()
        if "reminders.sweep[" in line and "succeeded" in line
    )


def wait_for_more_sweeps(logs: list[Path], more: int = 1) -> None:
    """Block until the workers together finished ``more`` further sweeps (bounded)."""
    start = sum(sweeps_done(log) for log in logs)
    assert wait_until(
        lambda: sum(sweeps_done(log) for log in logs) >= start + more, timeout=SWEEP * (more + 3)
    )


def test_a_stage_coming_due_produces_exactly_one_email(lab, technician, env, sink, tmp_path):
    stage_run = stage_run_due(lab, timezone.now() + H, assignee=technician)

    with contextlib.ExitStack() as stack:
        start_together(
            stack,
            celery_process("beat", log_dir=tmp_path, extra_env=env),
            celery_process("worker", log_dir=tmp_path, name="w1", extra_env=env),
        )
        messages = sink.wait_for(1, timeout=SWEEP * 4)
        wait_for_more_sweeps([tmp_path / "celery-worker-w1.log"])

    assert len(sink.messages) == 1
    assert messages[0]["To"] == "tech-a@example.org"
    assert messages[0]["Subject"] == (
        f"[protocol_tracker] Due soon: Expansion, run {stage_run.run.code}"
    )
    assert list(Notification.objects.values_list("kind", "status", "attempts")) == [
        ("due_soon", "sent", 1)
    ]


def test_two_beats_and_two_workers_still_send_each_once(
    lab, technician, technician2, env, sink, tmp_path
):
    for hours in (1, 2, 3):
        stage_run_due(lab, timezone.now() + hours * H)  # unassigned: both technicians

    with contextlib.ExitStack() as stack:
        start_together(
            stack,
            *(
                celery_process("beat", log_dir=tmp_path, name=name, extra_env=env)
                for name in ("b1", "b2")
            ),
            *(
                celery_process("worker", log_dir=tmp_path, name=name, extra_env=env)
                for name in ("w1", "w2")
            ),
        )
        sink.wait_for(6, timeout=SWEEP * 5)
        wait_for_more_sweeps(
            [tmp_path / "celery-worker-w1.log", tmp_path / "celery-worker-w2.log"], more=2
        )

    sent = sorted((m["To"], m["Message-ID"]) for m in sink.messages)
    assert len(sent) == 6
    assert len(set(sent)) == 6
    assert Notification.objects.filter(status="sent").count() == 6


def test_after_an_outage_what_is_owed_is_sent_once_late(lab, technician, env, sink, tmp_path):
    due = timezone.now() + timedelta(seconds=3)
    stage_run = stage_run_due(lab, due, assignee=technician, lead=timedelta(seconds=1))

    with contextlib.ExitStack() as stack:
        start_together(stack, celery_process("beat", log_dir=tmp_path, extra_env=env))
        # The worker is down: beat's sweeps wait in the broker (and expire) while the stage falls
        # due, its due-soon window passing unseen.
        assert wait_until(lambda: timezone.now() > due + timedelta(seconds=2), timeout=10)
        start_together(stack, celery_process("worker", log_dir=tmp_path, name="w1", extra_env=env))
        messages = sink.wait_for(1, timeout=SWEEP * 4)
        wait_for_more_sweeps([tmp_path / "celery-worker-w1.log"])

    assert len(sink.messages) == 1
    assert messages[0]["Subject"] == (
        f"[protocol_tracker] Due now: Expansion, run {stage_run.run.code}"
    )
    notification = Notification.objects.get()
    assert (notification.kind, notification.status) == ("due", "sent")
    assert notification.sent_at > due + timedelta(seconds=2)


def test_smtp_refusing_then_accepting_is_retried_by_the_worker_and_sent_once(
    lab, technician, env, sink, tmp_path
):
    sink.refuse = 2
    stage_run_due(lab, timezone.now() + H, assignee=technician)

    with contextlib.ExitStack() as stack:
        start_together(stack, celery_process("worker", log_dir=tmp_path, name="w1", extra_env=env))
        [pk] = reminders_sweep(now=timezone.now()).notification_ids  # enqueued on commit
        sink.wait_for(1, timeout=20)
        assert wait_until(lambda: Notification.objects.get(pk=pk).status == "sent", timeout=10)

    assert (sink.refused, len(sink.messages)) == (2, 1)
    notification = Notification.objects.get(pk=pk)
    assert (notification.status, notification.attempts, notification.last_error) == ("sent", 3, "")
