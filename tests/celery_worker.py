"""Start a real Celery worker (and optionally beat) process for tests.

The worker gets the test process's environment with ``DATABASE_URL`` pointing at the *test*
database, so it sees what a ``transactional_db`` test committed. Tests using it need
``@pytest.mark.django_db(transaction=True)``.

Each test session has a queue of its own (``SESSION_QUEUE``, set up by ``use_session_queue``
from the root conftest): the test process sends every task there and the workers started here
consume only it, so a stray worker on the same broker (a developer's ``make run`` on the
embedded broker in ``var/``, another checkout's tests on the same Redis database) cannot take
the tests' tasks, and ``app.control.purge()`` empties only the session's queue.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path

from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[1]
SESSION_QUEUE = f"pt-test-{uuid.uuid4().hex[:12]}"
QUEUE_VAR = "CELERY_TASK_DEFAULT_QUEUE"


def use_session_queue() -> str:
    """Make ``SESSION_QUEUE`` the default queue of this process and of the processes it starts
    (through ``CELERY_TASK_DEFAULT_QUEUE``). pytest-django reads the settings before any
    conftest runs, so the settings and the Celery app are told as well; no task is sent yet."""
    from protocol_tracker.celery import app

    if "amqp" in app.__dict__ and "queues" in app.amqp.__dict__:
        raise RuntimeError("the Celery queues were built before the session chose its queue")
    os.environ[QUEUE_VAR] = SESSION_QUEUE
    settings.CELERY_TASK_DEFAULT_QUEUE = SESSION_QUEUE
    app.conf.task_default_queue = SESSION_QUEUE
    return SESSION_QUEUE


def queue_drop(celery_app, name: str) -> None:
    """Delete the queue ``name`` and its exchange (Celery names both after the queue): Redis
    keeps a queue's bindings after its last message, so a test cleans up the queues it made."""
    from kombu import Exchange, Queue

    with celery_app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1)
        bound = Queue(name, Exchange(name), routing_key=name)(conn.default_channel)
        bound.declare()
        bound.delete()
        bound.exchange.delete()


def drop_session_queue() -> None:
    """At the end of the session: nothing of it is left on a Redis broker."""
    from kombu.exceptions import OperationalError

    from protocol_tracker.celery import app

    if not settings.CELERY_BROKER_URL.startswith("redis"):
        return  # the filesystem broker keeps no state per queue
    with contextlib.suppress(OSError, OperationalError):  # the broker is gone: nothing left
        queue_drop(app, SESSION_QUEUE)


def test_database_url() -> str:
    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{connection.settings_dict['NAME']}"
    user = db.get("USER") or ""
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    auth = f"{user}{password}@" if user else ""
    host = db.get("HOST") or "127.0.0.1"
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"postgres://{auth}{host}{port}/{connection.settings_dict['NAME']}"


def worker_env(extra: Mapping[str, str | None] | None = None) -> dict[str, str]:
    """The test process's environment for a worker: its test database, its ``VAR_DIR`` (the
    embedded broker), its queue; then ``extra`` (a value of None unsets the variable)."""
    env = dict(os.environ)
    env["DATABASE_URL"] = test_database_url()
    env["VAR_DIR"] = str(settings.VAR_DIR)
    env[QUEUE_VAR] = settings.CELERY_TASK_DEFAULT_QUEUE
    env.setdefault("DJANGO_ENV", "test")
    for key, value in (extra or {}).items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def _wait_for(proc: subprocess.Popen, log: Path, marker: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"celery exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        if log.exists() and marker in log.read_text(errors="replace"):
            return
        time.sleep(0.1)
    raise RuntimeError(f"celery not ready after {timeout}s:\n{log.read_text()[-3000:]}")


@contextlib.contextmanager
def celery_process(
    kind: str,
    *,
    log_dir: Path,
    name: str = "",
    args: tuple[str, ...] = (),
    extra_env: Mapping[str, str | None] | None = None,
    queues: str | None = None,
) -> Iterator[subprocess.Popen]:
    """Run ``celery worker`` or ``celery beat`` until the block ends. A worker consumes
    ``queues`` (comma-separated), by default only the session's queue."""
    log = log_dir / f"celery-{kind}{('-' + name) if name else ''}.log"
    cmd = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "protocol_tracker",
        kind,
        "--loglevel=INFO",
        f"--logfile={log}",
    ]
    if kind == "worker":
        cmd += [
            "--pool=solo",
            "--without-gossip",
            "--without-mingle",
            f"--hostname={name or 'test'}@%h",
            f"--queues={queues or settings.CELERY_TASK_DEFAULT_QUEUE}",
        ]
        marker = "ready."
    else:
        cmd += [f"--schedule={log_dir / ('beat-schedule' + name)}"]
        marker = "beat: Starting"
    cmd += list(args)
    proc = subprocess.Popen(
        cmd,
        cwd=ROOT,
        env=worker_env(extra_env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_for(proc, log, marker, timeout=60)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
