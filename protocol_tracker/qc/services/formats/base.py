"""What every instrument file format provides, and what ingesting a file gives back."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from labs.models import Instrument
from protocol_tracker.core.actors import Actor
from protocol_tracker.core.errors import ValidationFailed
from protocol_tracker.protocols.models import CheckpointTemplate
from protocol_tracker.qc.models import QCResult, RawFile
from protocol_tracker.qc.parsers import ParseError
from protocol_tracker.qc.services.results import qc_result_record
from protocol_tracker.runs.models import StageRun


class UnsupportedFile(ValidationFailed):
    """Not a file of any format we read (HTTP 415)."""

    code = "unsupported_file"
    http_status = 415


class FileTooLarge(ValidationFailed):
    """Larger than the format (or the configured upload limit) accepts (HTTP 413)."""

    code = "file_too_large"
    http_status = 413


@dataclass(frozen=True)
class IngestTargets:
    """Where a file's results go, as the upload said (each may be absent)."""

    stage_run: StageRun | None = None
    checkpoint: CheckpointTemplate | None = None
    instrument: Instrument | None = None
    value: object = None
    unit: str = ""
    measured_at: datetime | None = None
    comment: str = ""


@dataclass
class IngestResult:
    results: list[QCResult] = field(default_factory=list)
    metadata: dict = field(default_factory=dict)


@dataclass(frozen=True)
class FileFormat:
    """One instrument file format: how to recognise it, how big it may be, how to ingest it.

    ``sniff(head, suffix, media_type)`` answers True (this format), False (not this one) or
    raises UnsupportedFile (it claims to be this format and is not). ``ingest(data, raw_file=,
    actor=, targets=)`` records the results the file carries (through the QC services) and
    returns them with the metadata to keep on the raw file; it raises a DomainError and then
    writes nothing (the caller's transaction rolls back)."""

    kind: str
    label: str  # for messages: "an FCS file"
    max_bytes: int
    sniff: Callable[[bytes, str, str], bool]
    ingest: Callable[..., IngestResult]


def parse_failure(exc: ParseError, kind: str) -> ValidationFailed:
    errors = list(exc.errors) or [exc.message]
    return ValidationFailed(
        f"the {kind.upper()} file could not be read: {exc.message}",
        code="file_unreadable",
        fields={"file": errors},
    )


def record_one(
    stage_run: StageRun,
    checkpoint: CheckpointTemplate,
    *,
    value,
    unit: str,
    measured_at: datetime,
    comment: str,
    raw_file: RawFile,
    actor: Actor,
) -> QCResult:
    """Record one result a file carries, linked to the file (the usual QC rules apply)."""
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


__all__ = [
    "FileFormat",
    "FileTooLarge",
    "IngestResult",
    "IngestTargets",
    "UnsupportedFile",
    "parse_failure",
    "record_one",
]
