"""Instrument files in: a kept raw file becomes parsed metadata and QC results.

The upload keeps the file first (``raw_file_store``: as it came, with its SHA-256); then
:func:`instrument_file_ingest` reads it with its format (:mod:`.formats`), in the request for a
small file or in the ``qc.ingest_upload`` task for a large one. Ingestion is all or nothing: a
file that does not parse, or any result the services refuse, records nothing and says why (per
CSV line where it applies); the raw file's parse state is recorded (audited) either way.
"""

from __future__ import annotations

from django.db import transaction

from labs.models import Instrument
from protocol_tracker.audit.services import audit_record
from protocol_tracker.core.actors import Actor
from protocol_tracker.core.errors import ValidationFailed
from protocol_tracker.qc.models import RawFile, RawFileStatus
from protocol_tracker.qc.services.formats import (
    IngestResult,
    IngestTargets,
    check_size,
    format_of,
)


def raw_file_mark(
    *,
    raw_file: RawFile,
    status: str,
    actor: Actor | None,
    metadata: dict | None = None,
    error: str = "",
) -> RawFile:
    """Record the parse state of a raw file (audited; the file itself never changes)."""
    before = {"status": raw_file.status}
    updates: dict[str, object] = {"status": status, "error": error[:10000]}
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


@transaction.atomic
def instrument_file_ingest(
    *, raw_file: RawFile, kind: str, actor: Actor, targets: IngestTargets | None = None
) -> IngestResult:
    """Parse ``raw_file`` as ``kind`` and record the results it carries; all or nothing.

    ``actor`` is the uploading user or instrument (an instrument's CSV uses its own mapping).
    Raises a DomainError (``ValidationFailed``/``RowErrors`` for a bad file or bad rows,
    ``NotPermitted``, ``InvalidTransition``...) and then writes nothing. On success the raw file
    is marked ``parsed`` with its metadata.
    """
    file_format = format_of(kind)
    targets = targets or IngestTargets()
    if isinstance(actor, Instrument):
        targets = IngestTargets(**{**targets.__dict__, "instrument": actor})
    if targets.stage_run is not None and targets.stage_run.run.lab_id != raw_file.lab_id:
        raise ValidationFailed("stage run not found", fields={"stage_run": ["not found"]})
    check_size(kind, raw_file.size_bytes)
    with raw_file.file.open("rb") as handle:
        data = handle.read()
    outcome = file_format.ingest(data, raw_file=raw_file, actor=actor, targets=targets)
    raw_file_mark(
        raw_file=raw_file, status=RawFileStatus.PARSED, actor=actor, metadata=outcome.metadata
    )
    return outcome
