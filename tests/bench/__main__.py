"""``make bench``: run every ``tests/bench/bench_*.py`` and write ``var/bench/results.json``.

Each bench module defines ``run() -> dict[str, dict]`` returning figures as
``{"name": {"value": number, "unit": "...", "target": "..."}}``. The runner sets up a throwaway
database (PostgreSQL when ``DATABASE_URL`` says so), calls them in turn, prints a table and writes
the merged figures. Benchmarks never run under ``make test``.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
import uuid
from pathlib import Path

import django

ROOT = Path(__file__).resolve().parents[2]


def main(argv: list[str]) -> int:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "protocol_tracker.settings")
    # The benchmark's workers get a queue of their own, as the tests' do (tests/celery_worker.py).
    os.environ["CELERY_TASK_DEFAULT_QUEUE"] = f"pt-bench-{uuid.uuid4().hex[:12]}"
    django.setup()
    from django.conf import settings
    from django.db import connection
    from django.test.utils import setup_test_environment, teardown_test_environment

    only = set(argv)
    modules = sorted(p.stem for p in Path(__file__).parent.glob("bench_*.py"))
    if only:
        modules = [m for m in modules if m in only or m.removeprefix("bench_") in only]

    setup_test_environment()
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
    figures: dict[str, dict] = {}
    try:
        for name in modules:
            module = importlib.import_module(f"tests.bench.{name}")
            started = time.monotonic()
            print(f"== {name}", flush=True)
            result = module.run()
            figures.update(result)
            print(f"   ({time.monotonic() - started:.1f} s)", flush=True)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
        teardown_test_environment()

    width = max((len(k) for k in figures), default=10)
    print(f"\n{'figure':<{width}}  {'value':>12}  unit        target")
    for key, fig in figures.items():
        print(f"{key:<{width}}  {fig['value']:>12.4g}  {fig['unit']:<10}  {fig.get('target', '')}")
    out = Path(settings.VAR_DIR) / "bench" / "results.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    previous = json.loads(out.read_text()) if out.exists() and only else {}
    previous.update(figures)
    out.write_text(json.dumps(previous, indent=2, sort_keys=True))
    print(f"\nwrote {out} (database: {connection.vendor})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
