"""Reads of QC records: results (with their corrections), deviations, signatures and the trend
of a checkpoint across batches. Lab-scoped, prefetched."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db.models import QuerySet

from labs.selectors import visible_to
from protocol_tracker.core.actors import Person
from protocol_tracker.protocols.models import CheckpointTemplate
from protocol_tracker.qc.models import Deviation, QCResult, Verdict
from protocol_tracker.signatures.models import Signature

if TYPE_CHECKING:
    from labs.models import Lab
    from protocol_tracker.core.actors import Actor
    from protocol_tracker.runs.models import Run

TREND_POINTS = 60

# --- results -------------------------------------------------------------------------------


def qc_results_visible_to(viewer: Actor) -> QuerySet[QCResult]:
    """Results the caller (a person or an instrument) may read, with stage run, checkpoint and
    the correction that superseded each (the API's list and detail)."""
    return visible_to(QCResult.objects.all(), viewer).select_related(
        "stage_run", "checkpoint", "superseded_by"
    )


def qc_result_for_user(*, result_id: int, user: Person) -> QCResult:
    """One result of the user's labs with its stage run (run, lab, stage), checkpoint and
    recorder. Another lab's result raises ``QCResult.DoesNotExist`` like a missing one."""
    return (
        QCResult.objects.for_user(user)
        .select_related("stage_run__run__lab", "stage_run__stage", "checkpoint", "recorded_by")
        .get(pk=result_id)
    )


def qc_result_correction(*, result: QCResult, lab: Lab | int) -> QCResult | None:
    """The result that corrected (superseded) ``result``, if one did."""
    return QCResult.objects.for_lab(lab).filter(supersedes=result).first()


def qc_result_history(*, result: QCResult, lab: Lab | int) -> list[QCResult]:
    """The chain ``result`` corrects, oldest first, ``result`` last (one query per correction:
    chains are short)."""
    chain = [result]
    while chain[-1].supersedes_id:
        chain.append(
            QCResult.objects.for_lab(lab)
            .select_related("recorded_by")
            .get(pk=chain[-1].supersedes_id)
        )
    return list(reversed(chain))


def qc_results_of_run(*, run: Run) -> QuerySet[QCResult]:
    """Every result of the run, corrected ones included, in the order they were recorded."""
    return (
        QCResult.objects.for_lab(run.lab_id)
        .filter(stage_run__run=run)
        .select_related("recorded_by", "recorded_by_instrument", "raw_file")
        .order_by("recorded_at", "pk")
    )


def checkpoint_trend(
    *, checkpoint: CheckpointTemplate, lab: Lab | int, limit: int = TREND_POINTS
) -> list[dict]:
    """The current numeric results of ``checkpoint`` (of any version of its protocol: matched by
    protocol code and checkpoint key) in ``lab``, oldest first, at most ``limit``; invalid
    assays left out. One query.

    Each point: ``result_id``, ``run_id``, ``run_code``, ``measured_at``, ``value`` (in the
    spec's unit when it was converted) and ``verdict``.
    """
    rows = (
        QCResult.objects.for_lab(lab)
        .filter(
            checkpoint_id__in=CheckpointTemplate.objects.for_lab(lab)
            .filter(protocol__code=checkpoint.protocol.code, key=checkpoint.key)
            .values("pk"),
            superseded_by__isnull=True,
            value_number__isnull=False,
        )
        .exclude(verdict=Verdict.INVALID)
        .order_by("-measured_at", "-pk")
        .values(
            "pk",
            "value_number",
            "value_in_spec_unit",
            "verdict",
            "measured_at",
            "stage_run__run_id",
            "stage_run__run__code",
        )[:limit]
    )
    points = [
        {
            "result_id": row["pk"],
            "run_id": row["stage_run__run_id"],
            "run_code": row["stage_run__run__code"],
            "measured_at": row["measured_at"],
            "value": (
                row["value_in_spec_unit"]
                if row["value_in_spec_unit"] is not None
                else row["value_number"]
            ),
            "verdict": row["verdict"],
        }
        for row in rows
    ]
    points.reverse()
    return points


# --- deviations ----------------------------------------------------------------------------


def deviations_for_user(user: Person) -> QuerySet[Deviation]:
    """Deviations in the user's labs (the API's list and detail)."""
    return Deviation.objects.for_user(user)


def deviation_for_user(*, deviation_id: int, user: Person) -> Deviation:
    """One deviation of the user's labs with what its page shows: run, stage, the result it is
    about (checkpoint, recorder), who opened and who closed it. Another lab's deviation raises
    ``Deviation.DoesNotExist`` like a missing one."""
    return (
        Deviation.objects.for_user(user)
        .select_related(
            "lab",
            "run",
            "stage_run__stage",
            "qc_result__checkpoint",
            "qc_result__recorded_by",
            "opened_by",
            "closed_by",
        )
        .get(pk=deviation_id)
    )


def deviation_of_result(*, result: QCResult, lab: Lab | int) -> Deviation | None:
    """The (first) deviation opened about ``result``, if any."""
    return Deviation.objects.for_lab(lab).filter(qc_result=result).order_by("pk").first()


def deviations_of_run(*, run: Run) -> QuerySet[Deviation]:
    """The run's deviations in the order they were opened, with stage, result and people."""
    return (
        Deviation.objects.for_lab(run.lab_id)
        .filter(run=run)
        .select_related("opened_by", "closed_by", "qc_result", "stage_run__stage")
        .order_by("opened_at", "pk")
    )


# --- signatures ----------------------------------------------------------------------------


def signatures_of_run(*, run: Run) -> QuerySet[Signature]:
    """Every signature on the run or its records, in the order they were given."""
    return (
        Signature.objects.for_lab(run.lab_id)
        .filter(run=run)
        .select_related("signer")
        .order_by("signed_at", "pk")
    )
