"""Row locks for custody records. Same order as :mod:`protocol_tracker.runs.locks`: the run
first, then the record."""

from __future__ import annotations

from protocol_tracker.custody.models import HandOff, Shipment
from protocol_tracker.runs.locks import lock_run
from protocol_tracker.runs.models import Run


def lock_shipment(pk: int, *, run_id: int) -> tuple[Run, Shipment]:
    run = lock_run(run_id)
    return run, Shipment.objects.select_for_update(of=("self",)).get(pk=pk)


def lock_handoff(pk: int, *, run_id: int) -> tuple[Run, HandOff]:
    run = lock_run(run_id)
    handoff = HandOff.objects.select_for_update(of=("self",)).select_related("item__coi").get(pk=pk)
    return run, handoff
