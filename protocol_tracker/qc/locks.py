"""Row locks for QC records. Same order as :mod:`protocol_tracker.runs.locks`: run first."""

from __future__ import annotations

from protocol_tracker.qc.models import Deviation
from protocol_tracker.runs.locks import lock_run


def lock_deviation(pk: int, *, run_id: int | None = None) -> Deviation:
    """Lock the deviation's run, then the deviation; both fresh (``deviation.run`` is locked)."""
    if run_id is None:
        run_id = Deviation.objects.values_list("run_id", flat=True).get(pk=pk)
    run = lock_run(run_id)
    deviation = (
        Deviation.objects.select_for_update(of=("self",))
        .select_related("qc_result", "qc_result__checkpoint", "stage_run", "stage_run__stage")
        .get(pk=pk)
    )
    deviation.run = run
    return deviation
