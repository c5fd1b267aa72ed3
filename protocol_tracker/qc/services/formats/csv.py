"""CSV exports (cell counters, plate readers), read through the instrument's ``csv_mapping``:
each row's metrics become results. The target stage run is the one given, else the run whose
code is the row's sample id, at its stage in progress; a metric maps to the checkpoint of that
stage with the same key (or metric name). Each result is linked to the raw file. One bad line
fails the file: nothing is recorded and the error names each line.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from protocol_tracker.core.actors import Actor
from protocol_tracker.core.errors import DomainError, RowErrors, ValidationFailed
from protocol_tracker.protocols.models import CheckpointTemplate
from protocol_tracker.qc.models import QCResult, RawFile, RawFileKind
from protocol_tracker.qc.parsers import MAX_CSV_BYTES, ParseError, parse_csv
from protocol_tracker.qc.services.formats.base import (
    FileFormat,
    IngestResult,
    IngestTargets,
    parse_failure,
    record_one,
)
from protocol_tracker.runs.models import StageRun
from protocol_tracker.runs.services import WORKING_STAGE_STATUSES

CSV_CONTENT_TYPES = frozenset(
    {
        "text/csv",
        "text/plain",
        "application/csv",
        "application/vnd.ms-excel",
        "text/comma-separated-values",
        "text/tab-separated-values",
        "application/octet-stream",
        "",
    }
)
_WORKING = tuple(WORKING_STAGE_STATUSES)


def sniff(head: bytes, suffix: str, media_type: str) -> bool:
    textual = b"\x00" not in head[:1024] or head.startswith((b"\xff\xfe", b"\xfe\xff"))
    return (
        suffix in (".csv", ".txt", ".tsv", "")
        and (media_type in CSV_CONTENT_TYPES or media_type.startswith("text/"))
        and textual
    )


def _csv_targets(rows, *, lab_id: int, stage_run: StageRun | None):
    """Stage run per row: the given one, else the working stage of the run coded sample id."""
    if stage_run is not None:
        return {row.line: stage_run for row in rows}
    codes = {row.sample_id for row in rows}
    working = (
        StageRun.objects.filter(run__lab_id=lab_id, run__code__in=codes, status__in=_WORKING)
        .select_related("run__lab", "stage")
        .order_by("order")
    )
    by_code: dict[str, list[StageRun]] = {}
    for sr in working:
        by_code.setdefault(sr.run.code, []).append(sr)
    return {row.line: by_code.get(row.sample_id, []) for row in rows}


def _checkpoint_for(
    metric: str, checkpoints: list[CheckpointTemplate]
) -> CheckpointTemplate | None:
    for cp in checkpoints:
        if cp.key == metric:
            return cp
    for cp in checkpoints:
        if cp.metric == metric:
            return cp
    return None


def ingest(data: bytes, *, raw_file: RawFile, actor: Actor, targets: IngestTargets) -> IngestResult:
    instrument = targets.instrument
    stage_run, measured_at, comment = targets.stage_run, targets.measured_at, targets.comment
    if instrument is None:
        raise ValidationFailed(
            "a CSV export is read with its instrument's column mapping: "
            "say which instrument produced it",
            fields={"instrument": ["required with a CSV file"]},
        )
    if not instrument.csv_mapping:
        raise ValidationFailed(
            f"instrument {instrument.name} has no CSV column mapping configured",
            code="no_csv_mapping",
            fields={"instrument": ["no CSV mapping"]},
        )
    try:
        rows = parse_csv(data, instrument.csv_mapping)
    except ParseError as exc:
        raise parse_failure(exc, "csv") from None
    by_line = _csv_targets(rows, lab_id=raw_file.lab_id, stage_run=stage_run)
    stage_ids = {
        sr.stage_id
        for value in by_line.values()
        for sr in (value if isinstance(value, list) else [value])
    }
    checkpoints: dict[int, list[CheckpointTemplate]] = {}
    for template in CheckpointTemplate.objects.filter(stage_id__in=stage_ids).order_by(
        "order", "key"
    ):
        checkpoints.setdefault(template.stage_id, []).append(template)
    when = measured_at or timezone.now()
    errors: list[dict] = []
    results: list[QCResult] = []
    for row in rows:
        candidates = by_line[row.line]
        candidates = candidates if isinstance(candidates, list) else [candidates]
        if not candidates:
            errors.append(
                {
                    "index": row.line,
                    "field": "sample_id",
                    "message": f"no run coded {row.sample_id!r} has a stage in progress",
                }
            )
            continue
        matched = False
        for metric, (number, unit) in row.values.items():
            for sr in candidates:
                cp = _checkpoint_for(metric, checkpoints.get(sr.stage_id, []))
                if cp is None:
                    continue
                matched = True
                note = f"{comment} (sample {row.sample_id}, line {row.line})".strip()
                try:
                    with transaction.atomic():
                        results.append(
                            record_one(
                                sr,
                                cp,
                                value=number,
                                unit=unit,
                                measured_at=when,
                                comment=note,
                                raw_file=raw_file,
                                actor=actor,
                            )
                        )
                except DomainError as exc:
                    errors.append({"index": row.line, "field": metric, "message": exc.message})
                break
        if not matched:
            errors.append(
                {
                    "index": row.line,
                    "field": "sample_id",
                    "message": "none of the row's metrics ("
                    + ", ".join(row.values)
                    + ") is a checkpoint of the stage in progress",
                }
            )
    if errors:
        raise RowErrors(
            f"{len({e['index'] for e in errors})} CSV line(s) could not be recorded; nothing was "
            "recorded (index is the line number in the file)",
            rows=errors,
        )
    metadata = {
        "format": "csv",
        "instrument": instrument.name,
        "rows": len(rows),
        "samples": sorted({row.sample_id for row in rows}),
    }
    return IngestResult(results=results, metadata=metadata)


CSV = FileFormat(
    kind=RawFileKind.CSV, label="a CSV export", max_bytes=MAX_CSV_BYTES, sniff=sniff, ingest=ingest
)
