"""CGM import: an export file for a visit → its metrics as the visit's CGM values."""

from __future__ import annotations

import hashlib
from pathlib import PurePosixPath

from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.utils import timezone

from labs.selectors import require_role
from protocol_tracker.audit.services import Change, audit_record_many
from protocol_tracker.clinical.cgm import CGMError, cgm_metrics, parse_export
from protocol_tracker.clinical.locks import lock_recipient
from protocol_tracker.clinical.measures import CGM_MEASURES, MEASURES
from protocol_tracker.clinical.models import CGMImport, ValueSource, Visit, VisitValue
from protocol_tracker.clinical.rules.cgm_targets import MIN_DAYS
from protocol_tracker.clinical.services.common import CAN_RECORD_CLINICAL, refuse
from protocol_tracker.core.actors import Person
from protocol_tracker.core.errors import Conflict, ValidationFailed

MAX_BYTES = 20 * 1024 * 1024  # the same ceiling as instrument CSV files


@transaction.atomic
def cgm_import(
    *,
    visit: Visit,
    data: bytes,
    filename: str,
    device_timezone: str,
    actor: Person,
    declared_unit: str | None = None,
) -> CGMImport:
    """Import a Dexcom Clarity or LibreView export for ``visit``: the file is kept (identifying
    fields blanked, both SHA-256 recorded) and its metrics become the visit's CGM values; values
    from an earlier import or entered by hand are superseded. Nothing is written when the file
    is refused."""
    visit = Visit.objects.select_related("recipient__lab").get(pk=visit.pk)
    lock_recipient(visit.recipient_id)
    lab = visit.recipient.lab
    require_role(actor, lab, CAN_RECORD_CLINICAL, "import CGM files")
    if not isinstance(data, bytes | bytearray) or not data:
        raise refuse("file", "the file is empty")
    if len(data) > MAX_BYTES:
        raise refuse("file", f"the file is larger than {MAX_BYTES // (1024 * 1024)} MiB")
    name = PurePosixPath((filename or "").replace("\\", "/")).name.strip()[:255] or "cgm.csv"
    if declared_unit not in (None, "", "mg/dL", "mmol/L"):
        raise refuse("unit", "mg/dL or mmol/L")
    try:
        parsed = parse_export(
            bytes(data), device_timezone=device_timezone, declared_unit=declared_unit or None
        )
        metrics = cgm_metrics(parsed.readings, interval_minutes=parsed.interval_minutes)
    except CGMError as exc:
        raise ValidationFailed(f"file: {exc}", fields={"file": [str(exc)]}) from None
    now = timezone.now()
    if parsed.readings[-1].at > now:
        raise refuse("file", "the export has readings in the future: check the device time zone")
    original = hashlib.sha256(bytes(data)).hexdigest()
    stored = hashlib.sha256(parsed.stored_bytes).hexdigest()
    warnings = []
    if metrics["low_wear"]:
        warnings.append(f"wear time {metrics['wear']:g}% is below 70% of the expected readings")
    if metrics["days"] < MIN_DAYS:
        warnings.append(f"{metrics['days']:g} days of data: the consensus asks for 14")
    summary = {
        "format": parsed.format,
        "rows": parsed.rows,
        "readings": len(parsed.readings),
        "duplicates": parsed.duplicates,
        "sensor_low_high": parsed.out_of_range_flags,
        "nonexistent_local_times": parsed.nonexistent_local_times,
        "ambiguous_local_times": parsed.ambiguous_local_times,
        "dst_transitions": parsed.dst_transitions,
        "redacted": parsed.redacted,
        "warnings": warnings,
    }
    record = CGMImport(
        visit=visit,
        format=parsed.format,
        filename=name,
        sha256_original=original,
        sha256_stored=stored,
        size_bytes=len(parsed.stored_bytes),
        device=parsed.device,
        device_timezone=device_timezone,
        unit=parsed.unit,
        summary=summary,
        metrics=metrics,
        imported_by=actor,
    )
    if CGMImport.objects.filter(visit=visit, sha256_original=original).exists():
        raise Conflict(f"{name} was already imported for this visit", code="duplicate")
    record.file.save(f"{stored}.csv", ContentFile(parsed.stored_bytes), save=False)
    try:
        with transaction.atomic():
            record.save()
    except IntegrityError:
        record.file.delete(save=False)
        raise Conflict(f"{name} was already imported for this visit", code="duplicate") from None
    current = {
        v.measure: v
        for v in VisitValue.objects.select_for_update(of=("self",)).filter(
            visit=visit, measure__in=CGM_MEASURES, superseded_by__isnull=True
        )
    }
    reason = f"re-imported from {name}"
    created = []
    for measure in CGM_MEASURES:
        value = float(metrics[str(measure)])
        created.append(
            VisitValue.objects.create(
                visit=visit,
                measure=measure,
                value=value,
                unit=MEASURES[measure].unit,
                value_canonical=value,
                source=ValueSource.CGM,
                cgm_import=record,
                supersedes=current.get(measure),
                reason=reason if measure in current else "",
                recorded_by=actor,
            )
        )
    changes = [
        Change(
            action="cgm.import",
            obj=record,
            after={
                "visit": visit.pk,
                "filename": name,
                "sha256_original": original,
                "sha256_stored": stored,
                "device_timezone": device_timezone,
                "summary": summary,
                "metrics": metrics,
            },
            run_id=visit.run_id,
            lab_id=lab.pk,
        ),
        *(
            Change(
                action="visit_value.record",
                obj=v,
                after={
                    "visit": visit.pk,
                    "measure": v.measure,
                    "value": v.value,
                    "unit": v.unit,
                    "source": v.source,
                    "supersedes": v.supersedes_id,
                },
                reason=v.reason,
                run_id=visit.run_id,
                lab_id=lab.pk,
            )
            for v in created
        ),
    ]
    audit_record_many(actor=actor, changes=changes)
    return record
