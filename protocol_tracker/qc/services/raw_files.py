"""Raw instrument files: kept as they came, with their SHA-256; the same bytes are stored once."""

from __future__ import annotations

import hashlib
from pathlib import PurePosixPath

from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction

from labs.models import CAN_WORK, Instrument, Lab
from labs.selectors import require_role
from protocol_tracker.audit.services import audit_record
from protocol_tracker.core.actors import Actor
from protocol_tracker.core.errors import NotPermitted, ValidationFailed
from protocol_tracker.qc.models import RawFile, RawFileKind

_KIND_BY_SUFFIX = {".fcs": RawFileKind.FCS, ".csv": RawFileKind.CSV}


@transaction.atomic
def raw_file_store(
    *, lab: Lab, data: bytes, filename: str, content_type: str = "", actor: Actor
) -> RawFile:
    """Keep an instrument file as it came, with its SHA-256; the same bytes are stored once."""
    if isinstance(actor, Instrument):
        if actor.lab_id != lab.pk or not actor.is_active:
            raise NotPermitted(f"instrument {actor.name} may not upload files in this lab")
    else:
        require_role(actor, lab, CAN_WORK, "upload raw files")
    if not isinstance(data, bytes | bytearray) or not data:
        raise ValidationFailed("the file is empty", fields={"file": ["the file is empty"]})
    name = PurePosixPath((filename or "").replace("\\", "/")).name.strip()[:255]
    if not name:
        raise ValidationFailed("a file name is required", fields={"filename": ["required"]})
    digest = hashlib.sha256(data).hexdigest()
    existing = RawFile.objects.filter(lab=lab, sha256=digest).first()
    if existing is not None:
        return existing
    raw = RawFile(
        lab=lab,
        kind=_KIND_BY_SUFFIX.get(PurePosixPath(name).suffix.lower(), RawFileKind.OTHER),
        filename=name,
        content_type=(content_type or "")[:100],
        size_bytes=len(data),
        sha256=digest,
        uploaded_by=None if isinstance(actor, Instrument) else actor,
        uploaded_by_instrument=actor if isinstance(actor, Instrument) else None,
    )
    raw.file.save(name, ContentFile(bytes(data)), save=False)
    try:
        with transaction.atomic():
            raw.save()
    except IntegrityError:
        raw.file.delete(save=False)
        return RawFile.objects.get(lab=lab, sha256=digest)
    audit_record(
        actor=actor,
        action="raw_file.store",
        obj=raw,
        lab_id=lab.pk,
        after={"filename": name, "kind": raw.kind, "sha256": digest, "size_bytes": raw.size_bytes},
    )
    return raw
