"""Shipments (blood to the lab, product to the clinic): courier, times, the temperature range,
and the data-logger file kept as it came (SHA-256), judged against the range. An excursion or a
gap in the record opens a deviation linked to the run; the reviewers are alerted at once.
Receiving a blood shipment computes the draw-to-processing time for its checkpoint."""

from __future__ import annotations

import hashlib
from datetime import datetime

from django.core.files.base import ContentFile
from django.db import transaction

from labs.selectors import require_role
from protocol_tracker.audit.services import audit_record
from protocol_tracker.core.actors import Person
from protocol_tracker.core.errors import InvalidTransition, ValidationFailed
from protocol_tracker.core.text import clean_identifier, clean_text
from protocol_tracker.custody import loggers
from protocol_tracker.custody.locks import lock_shipment
from protocol_tracker.custody.models import LoggerFile, Shipment, ShipmentKind, ShipmentStatus
from protocol_tracker.custody.services.common import (
    CAN_HANDLE,
    line,
    moment,
    moment_or_none,
    temperature,
)
from protocol_tracker.custody.services.computed import (
    computed_result_record,
    draw_to_processing_waiting,
)
from protocol_tracker.qc.models import DeviationKind, DeviationSeverity
from protocol_tracker.qc.services import deviation_create_system
from protocol_tracker.runs.locks import lock_run
from protocol_tracker.runs.models import Run

LOGGER_MAX_BYTES = 20 * 1024 * 1024
# Ranges the reference and common practice name: refrigerated 2-8 °C, controlled room
# temperature 15-25 °C (the examples; the lab sets its own per shipment).
RANGES = {"2-8": (2.0, 8.0), "15-25": (15.0, 25.0)}


def shipment_state(shipment: Shipment) -> dict:
    return {
        "kind": shipment.kind,
        "status": shipment.status,
        "courier": shipment.courier,
        "tracking": shipment.tracking,
        "origin": shipment.origin,
        "destination": shipment.destination,
        "range_min_c": shipment.range_min_c,
        "range_max_c": shipment.range_max_c,
        "drawn_at": shipment.drawn_at,
        "packed_at": shipment.packed_at,
        "shipped_at": shipment.shipped_at,
        "received_at": shipment.received_at,
    }


@transaction.atomic
def shipment_create(
    *,
    run: Run,
    kind: str,
    courier: str,
    origin: str,
    destination: str,
    range_min_c: float,
    range_max_c: float,
    packed_at: datetime,
    actor: Person,
    tracking: str = "",
    drawn_at: datetime | None = None,
    shipped_at: datetime | None = None,
) -> Shipment:
    """A shipment of ``run``'s material, packed (and perhaps already handed to the courier)."""
    run = lock_run(run.pk)
    require_role(actor, run.lab_id, CAN_HANDLE, "record shipments")
    if kind not in ShipmentKind.values:
        raise ValidationFailed(
            f"kind must be one of {ShipmentKind.values}", fields={"kind": ["unknown"]}
        )
    low = temperature(range_min_c, "range_min_c")
    high = temperature(range_max_c, "range_max_c")
    if low is None or high is None or low >= high:
        raise ValidationFailed(
            "the temperature range needs a minimum below its maximum (°C)",
            fields={"range_min_c": ["below the maximum"]},
        )
    packed = moment(packed_at, "packed_at")
    drawn_at = moment_or_none(drawn_at, "drawn_at")
    shipped_at = moment_or_none(shipped_at, "shipped_at")
    if drawn_at is not None and drawn_at > packed:
        raise ValidationFailed("drawn after it was packed", fields={"drawn_at": ["after packing"]})
    if shipped_at is not None and shipped_at < packed:
        raise ValidationFailed(
            "shipped before it was packed", fields={"shipped_at": ["before packing"]}
        )
    shipment = Shipment.objects.create(
        lab_id=run.lab_id,
        run=run,
        kind=kind,
        status=ShipmentStatus.SHIPPED if shipped_at else ShipmentStatus.PACKED,
        courier=line(courier, "courier"),
        tracking=clean_identifier(tracking, field="tracking") if tracking else "",
        origin=line(origin, "origin"),
        destination=line(destination, "destination"),
        range_min_c=low,
        range_max_c=high,
        drawn_at=drawn_at,
        packed_at=packed,
        shipped_at=shipped_at,
        created_by=actor,
    )
    audit_record(
        actor=actor,
        action="shipment.create",
        obj=shipment,
        run_id=run.pk,
        lab_id=run.lab_id,
        after=shipment_state(shipment),
    )
    return shipment


@transaction.atomic
def shipment_receive(
    *, shipment: Shipment, received_at: datetime, actor: Person, shipped_at: datetime | None = None
) -> Shipment:
    """The shipment arrived. A blood shipment with its draw time then gives the draw-to-
    processing time to the run's checkpoint that computes it (when that stage is being worked)."""
    run, fresh = lock_shipment(shipment.pk, run_id=shipment.run_id)
    require_role(actor, run.lab_id, CAN_HANDLE, "receive shipments")
    if not fresh.can_transition_to(ShipmentStatus.RECEIVED):
        raise InvalidTransition(f"SH-{fresh.pk} was already received")
    received = moment(received_at, "received_at")
    shipped_at = moment_or_none(shipped_at, "shipped_at") or fresh.shipped_at
    if received < fresh.packed_at or (shipped_at and received < shipped_at):
        raise ValidationFailed(
            "received before it was packed or shipped", fields={"received_at": ["too early"]}
        )
    before = shipment_state(fresh)
    fresh.status = ShipmentStatus.RECEIVED
    fresh.received_at = received
    fresh.shipped_at = shipped_at
    fresh.save(update_fields=["status", "received_at", "shipped_at"])
    audit_record(
        actor=actor,
        action="shipment.receive",
        obj=fresh,
        run_id=run.pk,
        lab_id=run.lab_id,
        before=before,
        after=shipment_state(fresh),
    )
    if fresh.kind == ShipmentKind.BLOOD and fresh.drawn_at is not None:
        for stage_run, checkpoint in draw_to_processing_waiting(run):
            computed_result_record(stage_run=stage_run, checkpoint=checkpoint, actor=actor)
    return fresh


def _excursion_text(shipment: Shipment, judged: loggers.Judgement) -> tuple[str, str]:
    band = f"{shipment.range_min_c:g}–{shipment.range_max_c:g} °C"
    if judged.excursions:
        title = (
            f"Temperature excursion in shipment SH-{shipment.pk}: "
            f"{judged.minutes_outside:g} min outside {band}"
        )
    else:
        title = f"Temperature record of shipment SH-{shipment.pk} has gaps"
    parts = [
        f"{e.start:%Y-%m-%d %H:%M} to {e.end:%Y-%m-%d %H:%M} UTC: {e.minutes:g} min, "
        f"{e.min_c:.1f} to {e.max_c:.1f} °C"
        for e in judged.excursions
    ] + [
        f"no readings {g.start:%Y-%m-%d %H:%M} to {g.end:%Y-%m-%d %H:%M} UTC ({g.minutes:g} min)"
        for g in judged.gaps
    ]
    return title, "; ".join(parts)


@transaction.atomic
def shipment_logger_attach(
    *, shipment: Shipment, data: bytes, filename: str, actor: Person
) -> LoggerFile:
    """Keep the logger export (SHA-256), read it, judge it against the shipment's range. An
    unreadable file is refused with the reason and nothing is kept."""
    run, fresh = lock_shipment(shipment.pk, run_id=shipment.run_id)
    require_role(actor, run.lab_id, CAN_HANDLE, "attach logger files")
    filename = clean_text(
        filename or "logger.csv", field="filename", max_length=255, multiline=False
    )
    if not data:
        raise ValidationFailed("the logger file is empty", fields={"file": ["empty"]})
    if len(data) > LOGGER_MAX_BYTES:
        raise ValidationFailed(
            f"a logger file is at most {LOGGER_MAX_BYTES // 1024 // 1024} MiB",
            fields={"file": ["too large"]},
        )
    sha256 = hashlib.sha256(data).hexdigest()
    if LoggerFile.objects.filter(shipment=fresh, sha256=sha256).exists():
        raise ValidationFailed(
            "this logger file is already attached to the shipment",
            code="duplicate",
            fields={"file": ["already attached"]},
        )
    try:
        record = loggers.parse(data, zone=run.lab.tz)
    except loggers.LoggerFileError as exc:
        raise ValidationFailed(
            f"logger file {filename}: {exc}", code="logger_unreadable", fields={"file": [str(exc)]}
        ) from None
    judged = loggers.judge(record, min_c=fresh.range_min_c, max_c=fresh.range_max_c)
    logger = LoggerFile(
        lab_id=run.lab_id,
        shipment=fresh,
        filename=filename,
        size_bytes=len(data),
        sha256=sha256,
        readings=len(record.readings),
        first_at=record.first_at,
        last_at=record.last_at,
        min_c=judged.min_c,
        max_c=judged.max_c,
        minutes_outside=judged.minutes_outside,
        excursions=[
            {
                "start": e.start.isoformat(),
                "end": e.end.isoformat(),
                "minutes": e.minutes,
                "min_c": e.min_c,
                "max_c": e.max_c,
            }
            for e in judged.excursions
        ],
        gaps=[
            {"start": g.start.isoformat(), "end": g.end.isoformat(), "minutes": g.minutes}
            for g in judged.gaps
        ],
        notes=record.notes,
        series=[[t.isoformat(), round(v, 3)] for t, v in loggers.downsample(record)],
        uploaded_by=actor,
    )
    logger.file.save(f"{sha256}.csv", ContentFile(data), save=False)
    try:
        if not judged.in_range:
            title, description = _excursion_text(fresh, judged)
            logger.deviation = deviation_create_system(
                run=run,
                kind=DeviationKind.CUSTODY,
                severity=DeviationSeverity.MAJOR,
                actor=actor,
                title=title,
                description=f"{description}. Logger file {filename} (SHA-256 {sha256}).",
            )
        logger.save()
    except Exception:
        logger.file.delete(save=False)
        raise
    audit_record(
        actor=actor,
        action="shipment.logger_attach",
        obj=logger,
        run_id=run.pk,
        lab_id=run.lab_id,
        after={
            "shipment": fresh.pk,
            "filename": filename,
            "sha256": sha256,
            "readings": logger.readings,
            "minutes_outside": logger.minutes_outside,
            "excursions": len(logger.excursions),
            "gaps": len(logger.gaps),
            "deviation": logger.deviation_id,
        },
    )
    return logger
