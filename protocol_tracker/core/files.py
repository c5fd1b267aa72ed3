"""Documents kept with a GMP record (a certificate of analysis, a calibration certificate, a
freezing profile): the bytes as they came, their SHA-256, a safe file name.

A record stores the file under a content-addressed path and its hash beside it, so a later
reader can prove the file is the one that was attached.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import PurePosixPath

from django.core.files.base import ContentFile

from protocol_tracker.core.errors import ValidationFailed
from protocol_tracker.core.text import clean_text

DOCUMENT_MAX_BYTES = 20 * 1024 * 1024


@dataclass(frozen=True)
class KeptFile:
    name: str
    sha256: str
    size: int
    content: ContentFile


def keep_document(
    data: object, filename: object, *, field: str, max_bytes: int = DOCUMENT_MAX_BYTES
) -> KeptFile:
    """``data`` (bytes) named ``filename``, checked: not empty, not too large, a plain name."""
    if not isinstance(data, bytes | bytearray) or not data:
        raise ValidationFailed(f"{field}: the file is empty", fields={field: ["the file is empty"]})
    if len(data) > max_bytes:
        message = f"the file is larger than {max_bytes // (1024 * 1024)} MiB"
        raise ValidationFailed(f"{field}: {message}", fields={field: [message]})
    raw_name = clean_text(filename, field=field, max_length=1000, multiline=False)
    name = PurePosixPath(raw_name.replace("\\", "/")).name.strip()[:200]
    if not name or name in (".", ".."):
        raise ValidationFailed(f"{field}: a file name is required", fields={field: ["required"]})
    digest = hashlib.sha256(data).hexdigest()
    return KeptFile(name=name, sha256=digest, size=len(data), content=ContentFile(bytes(data)))


def document_path(kind: str, lab_id: int, sha256: str, name: str) -> str:
    """Where a kept document lives: by kind, lab and hash (the name keeps its suffix)."""
    suffix = PurePosixPath(name).suffix.lower()[:10]
    return f"{kind}/{lab_id}/{sha256[:2]}/{sha256}{suffix}"
