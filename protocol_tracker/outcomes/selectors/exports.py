"""The QC results an export holds: of one run, of one protocol version, or measured in a date
range (any combination), in one of the caller's labs; one query, read lean."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from protocol_tracker.core.actors import Person
from protocol_tracker.qc.models import QCResult

EXPORT_MAX_ROWS = 200_000

_COLUMNS = (
    "pk",
    "stage_run__run__lab__slug",
    "stage_run__run__code",
    "stage_run__run__donor__code",
    "stage_run__run__protocol__code",
    "stage_run__run__protocol__version",
    "stage_run__stage__key",
    "stage_run__stage__name",
    "checkpoint__key",
    "checkpoint__name",
    "checkpoint__assay",
    "checkpoint__metric",
    "value_number",
    "value_bool",
    "value_text",
    "unit",
    "value_in_spec_unit",
    "spec_snapshot",
    "verdict",
    "measured_at",
    "recorded_at",
    "recorded_by__username",
    "recorded_by_instrument__name",
    "supersedes_id",
    "superseded_by__id",
    "reason",
    "comment",
)


def qc_results_for_export(
    *,
    user: Person,
    lab_id: int,
    run_id: int | None = None,
    protocol_id: int | None = None,
    measured_from: datetime | None = None,
    measured_to: datetime | None = None,
) -> Iterator[dict]:
    """Rows of the results matching every given filter, oldest measurement first (at most
    :data:`EXPORT_MAX_ROWS`); corrected results are included and marked."""
    qs = QCResult.objects.for_user(user).filter(stage_run__run__lab_id=lab_id)
    if run_id is not None:
        qs = qs.filter(stage_run__run_id=run_id)
    if protocol_id is not None:
        qs = qs.filter(stage_run__run__protocol_id=protocol_id)
    if measured_from is not None:
        qs = qs.filter(measured_at__gte=measured_from)
    if measured_to is not None:
        qs = qs.filter(measured_at__lt=measured_to)
    return iter(qs.order_by("measured_at", "pk").values(*_COLUMNS)[:EXPORT_MAX_ROWS].iterator(2000))
