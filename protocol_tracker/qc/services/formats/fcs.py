"""FCS 2.0-3.2 (flow cytometers): one file supports one result, for the given stage run and
checkpoint. Its value is the one sent with the file, else the event count for an event-count
checkpoint, else the file's name for a file checkpoint. An instrument's upload must come from
that instrument (serial number check, when both are known). The TEXT metadata ($CYT, serial,
acquisition time, $TOT, parameters) is kept on the raw file.
"""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from labs.models import Instrument
from protocol_tracker.core.actors import Actor
from protocol_tracker.core.errors import ValidationFailed
from protocol_tracker.protocols.models import ValueType
from protocol_tracker.qc.models import RawFile, RawFileKind
from protocol_tracker.qc.parsers import MAX_FCS_BYTES, FcsMetadata, ParseError, fcs_check, parse_fcs
from protocol_tracker.qc.services.formats.base import (
    FileFormat,
    IngestResult,
    IngestTargets,
    UnsupportedFile,
    parse_failure,
    record_one,
)

EVENT_COUNT_METRICS = frozenset({"event_count", "events", "total_events", "tot"})


def sniff(head: bytes, suffix: str, media_type: str) -> bool:
    if head.startswith(b"FCS"):
        return True
    if suffix == ".fcs":
        raise UnsupportedFile(
            "the file is named .fcs but does not start with an FCS header",
            fields={"file": ["not an FCS file"]},
        )
    return False


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


def _aware(moment: datetime | None, tz) -> datetime | None:
    if moment is None:
        return None
    return timezone.make_aware(moment, tz) if timezone.is_naive(moment) else moment


def ingest(data: bytes, *, raw_file: RawFile, actor: Actor, targets: IngestTargets) -> IngestResult:
    stage_run, checkpoint = targets.stage_run, targets.checkpoint
    value, unit, measured_at, comment = (
        targets.value,
        targets.unit,
        targets.measured_at,
        targets.comment,
    )
    try:
        meta = parse_fcs(data)
    except ParseError as exc:
        raise parse_failure(exc, "fcs") from None
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
    result = record_one(
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


FCS = FileFormat(
    kind=RawFileKind.FCS, label="an FCS file", max_bytes=MAX_FCS_BYTES, sniff=sniff, ingest=ingest
)
