"""Row locks for the workflow engine: the only place that calls ``select_for_update`` on runs.

Every transition of a run or of one of its stage runs first locks the *run* row, then the stage
run rows it touches (in ``pk`` order). One order everywhere means two transactions never wait on
each other in a cycle; locking the run serialises all work on one batch, which is cheap (a batch
sees a handful of writes a day) and makes "two technicians complete the same stage at once" a
plain re-check after the lock. On SQLite ``select_for_update`` is a no-op and the database
serialises writers itself.
"""

from __future__ import annotations

from collections.abc import Iterable

from protocol_tracker.runs.models import Run, StageRun


def lock_runs(pks: Iterable[int]) -> dict[int, Run]:
    """Lock runs in ``pk`` order; returns them fresh from the database, by pk."""
    ordered = sorted(set(pks))
    runs = Run.objects.select_for_update().filter(pk__in=ordered).order_by("pk")
    return {run.pk: run for run in runs}


def lock_run(pk: int) -> Run:
    # of=("self",): lock the run only; locking its lab too would deadlock with the foreign-key
    # checks other audited transactions make at commit.
    return (
        Run.objects.select_for_update(of=("self",))
        .select_related("lab", "protocol", "donor")
        .get(pk=pk)
    )


def lock_stage_run(pk: int, *, run_id: int | None = None) -> StageRun:
    """Lock the stage run's run, then the stage run; both fresh (``stage_run.run`` is locked)."""
    if run_id is None:
        run_id = StageRun.objects.values_list("run_id", flat=True).get(pk=pk)
    run = lock_run(run_id)
    stage_run = StageRun.objects.select_for_update(of=("self",)).select_related("stage").get(pk=pk)
    stage_run.run = run
    return stage_run
