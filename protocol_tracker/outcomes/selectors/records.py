"""Reads of the release record: a run's stored documents."""

from __future__ import annotations

from django.db.models import QuerySet

from protocol_tracker.outcomes.models import ReleaseDocument
from protocol_tracker.runs.models import Run


def release_documents_of_run(*, run: Run) -> QuerySet[ReleaseDocument]:
    """The documents stored at the run's release (without their bytes), by kind."""
    return (
        ReleaseDocument.objects.for_lab(run.lab_id)
        .filter(run=run)
        .defer("content")
        .select_related("signature", "generated_by")
        .order_by("kind")
    )


def release_document(*, run: Run, kind: str) -> ReleaseDocument | None:
    """The stored document of ``kind`` with its bytes, or None before the release."""
    return ReleaseDocument.objects.for_lab(run.lab_id).filter(run=run, kind=kind).first()
