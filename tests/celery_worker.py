"""Start a real Celery worker (and optionally beat) process for tests.

The worker gets the test process's environment with ``DATABASE_URL`` pointing at the *test*
database, so it sees what a ``transactional_db`` test committed. Tests using it need
``@pytest.mark.django_db(transaction=True)``.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[1]


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


def worker_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env["DATABASE_URL"] = test_database_url()
    env["VAR_DIR"] = str(settings.VAR_DIR)
    env.setdefault("DJANGO_ENV", "test")
    env.update(extra or {})
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
    extra_env: dict[str, str] | None = None,
) -> Iterator[subprocess.Popen]:
    """Run ``celery worker`` or ``celery beat`` until the block ends."""
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
