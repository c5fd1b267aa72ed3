"""Checkpoints judged from the run's records, not typed (``recorded_by: system``): each names
its computation in ``assay``.

- ``draw_to_processing``: hours from the blood draw to its receipt at the lab, from the run's
  (or its lineage root's) received blood shipment (reference §2 stage 1: ≤ 24 h, CONV).
- ``vault_identifier_count``: the patient identifiers on record in the vault for the run's COI
  (counted, never read: reference §2 stage 0 and [Q12], at least two).
"""

from __future__ import annotations

from collections.abc import Callable

from django.db import transaction
from django.utils import timezone

from labs.selectors import require_role
from protocol_tracker.core.actors import Person
from protocol_tracker.core.errors import ValidationFailed
from protocol_tracker.custody.models import Shipment, ShipmentKind, ShipmentStatus
from protocol_tracker.custody.services.common import CAN_HANDLE, run_coi
from protocol_tracker.identity.selectors import patient_identifier_counts
from protocol_tracker.protocols.models import CheckpointTemplate, RecordedBy
from protocol_tracker.qc.models import QCResult
from protocol_tracker.qc.services import qc_result_record_decided
from protocol_tracker.runs.models import Run, StageRun
from protocol_tracker.runs.services import WORKING_STAGE_STATUSES


def _draw_to_processing(run: Run) -> tuple[float, str]:
    shipment = (
        Shipment.objects.for_lab(run.lab_id)
        .filter(
            run_id__in=[run.pk, run.root_id or run.pk],
            kind=ShipmentKind.BLOOD,
            status=ShipmentStatus.RECEIVED,
            drawn_at__isnull=False,
        )
        .order_by("received_at", "pk")
        .first()
    )
    if shipment is None or shipment.received_at is None or shipment.drawn_at is None:
        raise ValidationFailed(
            "no received blood shipment with a draw time: record the shipment (draw and receipt "
            "times) first",
            fields={"checkpoint": ["record the blood shipment first"]},
        )
    hours = (shipment.received_at - shipment.drawn_at).total_seconds() / 3600
    return round(hours, 2), (
        f"Computed from shipment SH-{shipment.pk}: drawn {shipment.drawn_at:%Y-%m-%d %H:%M} UTC, "
        f"received {shipment.received_at:%Y-%m-%d %H:%M} UTC."
    )


def _vault_identifier_count(run: Run) -> tuple[float, str]:
    coi = run_coi(run)
    count = patient_identifier_counts(coi_ids=[coi.pk]).get(coi.pk, 0)
    return float(count), f"Counted in the vault for COI {coi.value} (values not read)."


COMPUTATIONS: dict[str, Callable[[Run], tuple[float, str]]] = {
    "draw_to_processing": _draw_to_processing,
    "vault_identifier_count": _vault_identifier_count,
}


def draw_to_processing_waiting(run: Run) -> list[tuple[StageRun, CheckpointTemplate]]:
    """The (stage run, checkpoint) pairs of ``run`` whose draw-to-processing time is computed,
    being worked and still without a result: a blood receipt fills them in."""
    checkpoints = CheckpointTemplate.objects.filter(
        protocol_id=run.protocol_id, recorded_by=RecordedBy.SYSTEM, assay="draw_to_processing"
    )
    pairs = []
    for checkpoint in checkpoints:
        stage_run = (
            StageRun.objects.for_lab(run.lab_id)
            .filter(run=run, stage_id=checkpoint.stage_id, status__in=WORKING_STAGE_STATUSES)
            .first()
        )
        if (
            stage_run is not None
            and not QCResult.objects.filter(
                stage_run=stage_run, checkpoint=checkpoint, superseded_by__isnull=True
            ).exists()
        ):
            pairs.append((stage_run, checkpoint))
    return pairs


def is_computed(checkpoint: CheckpointTemplate) -> bool:
    return checkpoint.recorded_by == RecordedBy.SYSTEM and checkpoint.assay in COMPUTATIONS


@transaction.atomic
def computed_result_record(
    *, stage_run: StageRun, checkpoint: CheckpointTemplate, actor: Person
) -> QCResult:
    """Compute ``checkpoint``'s value from the run's records and record it (judged against its
    spec as any value; out of spec opens a deviation)."""
    if not is_computed(checkpoint) or checkpoint.stage_id != stage_run.stage_id:
        raise ValidationFailed(
            f"'{checkpoint.name}' is not a computed checkpoint of this stage",
            fields={"checkpoint": ["not computed from records"]},
        )
    run = Run.objects.select_related("donor__coi", "protocol", "lab").get(pk=stage_run.run_id)
    require_role(actor, run.lab_id, CAN_HANDLE, "record computed results")
    value, provenance = COMPUTATIONS[checkpoint.assay](run)
    return qc_result_record_decided(
        stage_run=stage_run,
        checkpoint=checkpoint,
        actor=actor,
        measured_at=timezone.now(),
        value=value,
        comment=provenance,
    )
