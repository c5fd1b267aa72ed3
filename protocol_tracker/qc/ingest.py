"""Instrument files in: a raw file becomes parsed metadata and QC results.

The API stores the upload first (``services.raw_file_store``: kept as it came, with its SHA-256),
then calls :func:`instrument_file_ingest`, in the request for small files or from a Celery task
for large ones. Ingestion is all or nothing: a file that does not parse, or any result the
services refuse, records nothing and says why (per CSV line where it applies).

- **FCS** (2.0-3.2, via ``qc.parsers.parse_fcs``): the metadata ($CYT, serial, acquisition time,
  $TOT, parameters) is kept on the raw file; the file supports one result, for the given stage
  run and checkpoint. Its value is the one sent with the file, else the event count for an
  event-count checkpoint, else the file's name for a file checkpoint. An instrument's upload must
  come from that instrument (serial number check, when both are known).
- **CSV** exports, read through the instrument's ``csv_mapping``: each row's metrics become
  results. The target stage run is the one given, else the run whose code is the row's sample
  id, at its stage in progress; a metric maps to the checkpoint of that stage with the same key
  (or metric name). Each result is linked to the raw file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import PurePosixPath

from django.db import transaction
from django.utils import timezone

from labs.models import Instrument
from protocol_tracker.audit.services import audit_record
from protocol_tracker.core.errors import DomainError, RowErrors, ValidationFailed
from protocol_tracker.protocols.models import CheckpointTemplate, ValueType
from protocol_tracker.qc.models import QCResult, RawFile, RawFileKind, RawFileStatus
from protocol_tracker.qc.parsers import (
    MAX_CSV_BYTES,
    MAX_FCS_BYTES,
    FcsMetadata,
    ParseError,
    fcs_check,
    parse_csv,
    parse_fcs,
)
from protocol_tracker.runs.models import StageRun, StageStatus

EVENT_COUNT_METRICS = frozenset({"event_count", "events", "total_events", "tot"})
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
_WORKING = (StageStatus.IN_PROGRESS, StageStatus.AWAITING_QC)


class UnsupportedFile(ValidationFailed):
    """Neither an FCS file nor a text CSV export (HTTP 415)."""

    code = "unsupported_file"
    http_status = 415


class FileTooLarge(ValidationFailed):
    """Larger than the parser for its kind accepts (HTTP 413)."""

    code = "file_too_large"
    http_status = 413


def detect_kind(head: bytes, filename: str, content_type: str = "") -> str:
    """``"fcs"`` or ``"csv"`` from the first bytes, the name and the declared type."""
    suffix = PurePosixPath((filename or "").replace("\\", "/")).suffix.lower()
    if head.startswith(b"FCS"):
        return RawFileKind.FCS
    if suffix == ".fcs":
        raise UnsupportedFile(
            "the file is named .fcs but does not start with an FCS header",
            fields={"file": ["not an FCS file"]},
        )
    media = (content_type or "").split(";")[0].strip().lower()
    textual = b"\x00" not in head[:1024] or head.startswith((b"\xff\xfe", b"\xfe\xff"))
    if (
        suffix in (".csv", ".txt", ".tsv", "")
        and (media in CSV_CONTENT_TYPES or media.startswith("text/"))
        and textual
    ):
        return RawFileKind.CSV
    raise UnsupportedFile(
        f"unsupported file {filename!r} ({media or 'no type'}): send an FCS file or a CSV export",
        fields={"file": ["unsupported file type"]},
    )


def max_bytes(kind: str) -> int:
    return MAX_FCS_BYTES if kind == RawFileKind.FCS else MAX_CSV_BYTES


def check_size(kind: str, size: int, *, limit: int | None = None) -> None:
    """Refuse a file over the parser's limit for its kind (or a lower ``limit``)."""
    limit = min(max_bytes(kind), limit) if limit is not None else max_bytes(kind)
    if size > limit:
        raise FileTooLarge(
            f"the {kind.upper()} file is {size} bytes; the limit is {limit} bytes",
            fields={"file": [f"at most {limit} bytes"]},
        )


def fcs_metadata_json(meta: FcsMetadata) -> dict:
    """What we keep of an FCS file's TEXT segment (JSON-ready)."""
    return {
        "format": "fcs",
        "version": meta.version,
        "cytometer": meta.cytometer,
        "serial": meta.serial,
        "software": meta.software,
        "acquired_at": meta.acquired_at.isoformat() if meta.acquired_at else None,
        "event_count": meta.event_count,
        "parameter_count": meta.parameter_count,
        "parameters": [{"name": name, "label": label} for name, label in meta.parameters],
        "sample_id": meta.sample_id,
        "warnings": list(meta.warnings),
    }


@dataclass
class IngestResult:
    results: list[QCResult] = field(default_factory=list)
    metadata: dict = field(default_factory=dict)


def _parse_failure(exc: ParseError, kind: str) -> ValidationFailed:
    errors = list(exc.errors) or [exc.message]
    return ValidationFailed(
        f"the {kind.upper()} file could not be read: {exc.message}",
        code="file_unreadable",
        fields={"file": errors},
    )


def raw_file_mark(
    *, raw_file: RawFile, status: str, actor, metadata: dict | None = None, error: str = ""
) -> RawFile:
    """Record the parse state of a raw file (audited; the file itself never changes)."""
    before = {"status": raw_file.status}
    updates = {"status": status, "error": error[:10000]}
    if metadata is not None:
        updates["metadata"] = metadata
    RawFile.objects.filter(pk=raw_file.pk).update(**updates)
    for name, value in updates.items():
        setattr(raw_file, name, value)
    audit_record(
        actor=actor,
        action=f"raw_file.{status}",
        obj=raw_file,
        lab_id=raw_file.lab_id,
        before=before,
        after={"status": status, "error": updates["error"]},
    )
    return raw_file


def _aware(moment: datetime | None, tz) -> datetime | None:
    if moment is None:
        return None
    return timezone.make_aware(moment, tz) if timezone.is_naive(moment) else moment


def _record(stage_run, checkpoint, *, value, unit, measured_at, comment, raw_file, actor):
    from protocol_tracker.qc.services import qc_result_record

    return qc_result_record(
        stage_run=stage_run,
        checkpoint=checkpoint,
        value=value,
        unit=unit or None,
        measured_at=measured_at,
        actor=actor,
        comment=comment,
        raw_file=raw_file,
    )


def _ingest_fcs(
    data: bytes,
    *,
    raw_file: RawFile,
    actor,
    stage_run,
    checkpoint,
    value,
    unit,
    measured_at,
    comment,
) -> IngestResult:
    try:
        meta = parse_fcs(data)
    except ParseError as exc:
        raise _parse_failure(exc, "fcs") from None
    expected_serial = actor.serial if isinstance(actor, Instrument) and actor.serial else None
    problems = fcs_check(
        meta, min_events=1, expected_serial=expected_serial if meta.serial else None
    )
    if problems:
        raise ValidationFailed(
            "the FCS file fails its checks: " + "; ".join(problems),
            code="file_rejected",
            fields={"file": problems},
        )
    metadata = fcs_metadata_json(meta)
    if stage_run is None or checkpoint is None:
        missing = [
            name
            for name, obj in (("stage_run", stage_run), ("checkpoint", checkpoint))
            if obj is None
        ]
        raise ValidationFailed(
            "an FCS file needs the stage run and checkpoint it supports",
            fields={name: ["required with an FCS file"] for name in missing},
        )
    if value in (None, ""):
        if checkpoint.metric.lower() in EVENT_COUNT_METRICS or checkpoint.key in (
            EVENT_COUNT_METRICS
        ):
            value = meta.event_count
        elif checkpoint.value_type == ValueType.FILE:
            value = raw_file.filename
        else:
            raise ValidationFailed(
                f"checkpoint '{checkpoint.name}' needs a value with the file",
                fields={"value": ["required for this checkpoint"]},
            )
    lab_tz = stage_run.run.lab.tz
    when = measured_at or _aware(meta.acquired_at, lab_tz) or timezone.now()
    result = _record(
        stage_run,
        checkpoint,
        value=value,
        unit=unit,
        measured_at=when,
        comment=comment,
        raw_file=raw_file,
        actor=actor,
    )
    return IngestResult(results=[result], metadata=metadata)


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


def _checkpoint_for(metric: str, checkpoints: list[CheckpointTemplate]):
    for cp in checkpoints:
        if cp.key == metric:
            return cp
    for cp in checkpoints:
        if cp.metric == metric:
            return cp
    return None


def _ingest_csv(
    data: bytes,
    *,
    raw_file: RawFile,
    actor,
    instrument: Instrument | None,
    stage_run,
    measured_at,
    comment,
) -> IngestResult:
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
        raise _parse_failure(exc, "csv") from None
    targets = _csv_targets(rows, lab_id=raw_file.lab_id, stage_run=stage_run)
    stage_ids = {
        sr.stage_id
        for value in targets.values()
        for sr in (value if isinstance(value, list) else [value])
    }
    checkpoints: dict[int, list[CheckpointTemplate]] = {}
    for cp in CheckpointTemplate.objects.filter(stage_id__in=stage_ids).order_by("order", "key"):
        checkpoints.setdefault(cp.stage_id, []).append(cp)
    when = measured_at or timezone.now()
    errors: list[dict] = []
    results: list[QCResult] = []
    for row in rows:
        candidates = targets[row.line]
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
                            _record(
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


@transaction.atomic
def instrument_file_ingest(
    *,
    raw_file: RawFile,
    kind: str,
    actor,
    stage_run: StageRun | None = None,
    checkpoint: CheckpointTemplate | None = None,
    instrument: Instrument | None = None,
    value=None,
    unit: str = "",
    measured_at: datetime | None = None,
    comment: str = "",
) -> IngestResult:
    """Parse ``raw_file`` and record the results it carries; all or nothing.

    ``actor`` is the uploading user or instrument (an instrument's CSV uses its own mapping).
    Raises a :class:`DomainError` (``ValidationFailed``/``RowErrors`` for a bad file or bad
    rows, ``NotPermitted``, ``InvalidTransition``...) and then writes nothing. On success the
    raw file is marked ``parsed`` with its metadata.
    """
    if isinstance(actor, Instrument):
        instrument = actor
    if stage_run is not None and stage_run.run.lab_id != raw_file.lab_id:
        raise ValidationFailed("stage run not found", fields={"stage_run": ["not found"]})
    check_size(kind, raw_file.size_bytes)
    with raw_file.file.open("rb") as handle:
        data = handle.read()
    if kind == RawFileKind.FCS:
        outcome = _ingest_fcs(
            data,
            raw_file=raw_file,
            actor=actor,
            stage_run=stage_run,
            checkpoint=checkpoint,
            value=value,
            unit=unit,
            measured_at=measured_at,
            comment=comment,
        )
    elif kind == RawFileKind.CSV:
        outcome = _ingest_csv(
            data,
            raw_file=raw_file,
            actor=actor,
            instrument=instrument,
            stage_run=stage_run,
            measured_at=measured_at,
            comment=comment,
        )
    else:
        raise UnsupportedFile(f"cannot ingest a file of kind {kind!r}")
    raw_file_mark(
        raw_file=raw_file, status=RawFileStatus.PARSED, actor=actor, metadata=outcome.metadata
    )
    return outcome


__all__ = [
    "FileTooLarge",
    "IngestResult",
    "UnsupportedFile",
    "check_size",
    "detect_kind",
    "fcs_metadata_json",
    "instrument_file_ingest",
    "max_bytes",
    "raw_file_mark",
]
