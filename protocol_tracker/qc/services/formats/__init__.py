"""The instrument file formats we read, in the order they are tried.

A new format is one module here (its ``sniff`` and ``ingest``, pure parsing in
``qc.parsers``) and one line in :data:`FORMATS`.
"""

from __future__ import annotations

from pathlib import PurePosixPath

from protocol_tracker.qc.services.formats.base import (
    FileFormat,
    FileTooLarge,
    IngestResult,
    IngestTargets,
    UnsupportedFile,
)
from protocol_tracker.qc.services.formats.csv import CSV
from protocol_tracker.qc.services.formats.fcs import FCS

FORMATS: tuple[FileFormat, ...] = (FCS, CSV)
_BY_KIND = {f.kind: f for f in FORMATS}


def format_of(kind: str) -> FileFormat:
    try:
        return _BY_KIND[kind]
    except KeyError:
        raise UnsupportedFile(f"cannot ingest a file of kind {kind!r}") from None


def detect_format(head: bytes, filename: str, content_type: str = "") -> FileFormat:
    """The format of a file from its first bytes, its name and its declared type."""
    suffix = PurePosixPath((filename or "").replace("\\", "/")).suffix.lower()
    media = (content_type or "").split(";")[0].strip().lower()
    for candidate in FORMATS:
        if candidate.sniff(head, suffix, media):
            return candidate
    accepted = " or ".join(f.label for f in FORMATS)
    raise UnsupportedFile(
        f"unsupported file {filename!r} ({media or 'no type'}): send {accepted}",
        fields={"file": ["unsupported file type"]},
    )


def check_size(kind: str, size: int, *, limit: int | None = None) -> None:
    """Refuse a file over its format's limit (or a lower configured ``limit``)."""
    allowed = format_of(kind).max_bytes
    if limit is not None:
        allowed = min(allowed, limit)
    if size > allowed:
        raise FileTooLarge(
            f"the {kind.upper()} file is {size} bytes; the limit is {allowed} bytes",
            fields={"file": [f"at most {allowed} bytes"]},
        )


__all__ = [
    "FORMATS",
    "FileFormat",
    "FileTooLarge",
    "IngestResult",
    "IngestTargets",
    "UnsupportedFile",
    "check_size",
    "detect_format",
    "format_of",
]
