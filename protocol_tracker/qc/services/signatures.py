"""Signing QC records and runs: a run's signature binds its whole QC record.

:func:`protocol_tracker.signatures.services.signature_sign` does the signing; for a run, the
signed content adds its stage runs, results and deviations (:func:`run_signed_content`), so a
change to any of them after the signature shows as a different hash.
"""

from __future__ import annotations

from django.db import models

from protocol_tracker.core.actors import Person
from protocol_tracker.qc.models import Deviation, QCResult
from protocol_tracker.runs.models import Run, StageRun
from protocol_tracker.signatures import services as signatures
from protocol_tracker.signatures.models import Signature


def run_signed_content(run: Run) -> dict:
    """What a run's signature covers beyond its own row: its stage runs, results, deviations."""
    return {
        "stage_runs": list(
            StageRun.objects.filter(run=run)
            .order_by("pk")
            .values("id", "status", "completed_at", "completed_by_id")
        ),
        "results": list(
            QCResult.objects.filter(stage_run__run=run)
            .order_by("pk")
            .values(
                "id",
                "checkpoint_id",
                "verdict",
                "value_number",
                "value_bool",
                "value_text",
                "unit",
                "supersedes_id",
            )
        ),
        "deviations": list(
            Deviation.objects.filter(run=run).order_by("pk").values("id", "status", "disposition")
        ),
    }


def _content(obj: models.Model) -> dict | None:
    return run_signed_content(obj) if isinstance(obj, Run) else None


def record_state(obj: models.Model) -> dict:
    """The signed content of ``obj`` (for a run, with its batch record)."""
    return signatures.record_state(obj, content=_content(obj))


def record_hash(obj: models.Model) -> str:
    return signatures.record_hash(obj, content=_content(obj))


def signature_sign(
    *,
    signer: Person,
    password: str,
    meaning: str,
    obj: models.Model,
    statement: str,
    run: Run | None = None,
) -> Signature:
    """Sign a QC record or a run as it stands now (reviewers; see ``signatures.services``)."""
    return signatures.signature_sign(
        signer=signer,
        password=password,
        meaning=meaning,
        obj=obj,
        statement=statement,
        run_id=run.pk if run is not None else None,
        content=_content(obj),
    )
