"""Demo chain of identity and custody (``manage.py seed_demo``): labels printed, identity scans
that match, blood shipments with their temperature loggers (one with an excursion), hand-offs
scanned on both sides, and one wrong-label scan that stopped a stage with a critical deviation.
Made by the real services; idempotent."""

from __future__ import annotations

from datetime import datetime, timedelta

from labs.models import Lab, Membership, Role
from protocol_tracker.custody import services as custody
from protocol_tracker.custody.models import IdentityScan, Item, ScanVerdict
from protocol_tracker.identity.codes import scan_payload
from protocol_tracker.identity.selectors import patient_identifier_counts
from protocol_tracker.identity.services import patient_identifiers_record
from protocol_tracker.protocols.models import CheckpointTemplate, RecordedBy, ValueType
from protocol_tracker.runs.models import Run, StageRun

H = timedelta(hours=1)
DEMO_IDENTIFIERS = {
    "DEMO-001": {"hospital_record": "SCH-2024-118845", "date_of_birth": "1965-04-12"},
    "DEMO-002": {"hospital_record": "SCH-2024-120317", "date_of_birth": "1971-09-03"},
    "DEMO-003": {"hospital_record": "SCH-2024-121902", "date_of_birth": "1958-01-27"},
    "DEMO-004": {"hospital_record": "SCH-2024-122460", "date_of_birth": "1969-11-30"},
}
# A donor whose blood travelled too warm: the demo's temperature excursion.
WARM_SHIPMENT_DONOR = "DEMO-003"


def _clinician(lab: Lab):
    membership = (
        Membership.objects.filter(lab=lab, role=Role.CLINICIAN).select_related("user").first()
    )
    return membership.user if membership else None


def _logger_csv(start: datetime, hours: float, *, warm: bool) -> bytes:
    """A logger export as a common logger writes it: BOM, ';', decimal commas, local time."""
    rows = ["\ufeffDate/Time;Temperature (°C)"]
    minutes = int(hours * 60)
    for i in range(0, minutes + 1, 5):
        value = 21.0 + (i % 30) / 30
        if warm and 90 <= i <= 150:
            value = 27.4 + (i % 10) / 10
        moment = start + timedelta(minutes=i)
        rows.append(f"{moment:%Y-%m-%d %H:%M:%S%z};{value:.1f}".replace(".", ","))
    return ("\n".join(rows) + "\n").encode()


def _blood_receipt(run: Run, *, actor, at: datetime) -> None:
    """The blood's journey: tube labelled at the ward, shipped with a logger, handed over twice."""
    if Item.objects.filter(run=run, kind="blood_tube").exists():
        return
    drawn = at - 7 * H
    tube = custody.run_labels_print(
        run=run, template="tube", kind="blood_tube", count=1, actor=actor
    )
    item = Item.objects.get(run=run, item_id=tube.record.labels[0]["title"])
    payload = scan_payload(item.coi.value, item.item_id)
    shipment = custody.shipment_create(
        run=run,
        kind="blood",
        courier="Changzheng hospital courier",
        origin="Ward 5, Changzheng Hospital",
        destination="GMP cell lab",
        range_min_c=15,
        range_max_c=25,
        drawn_at=drawn,
        packed_at=drawn + 0.5 * H,
        shipped_at=drawn + 0.75 * H,
        actor=actor,
    )
    custody.shipment_receive(shipment=shipment, received_at=drawn + 5 * H, actor=actor)
    warm = run.donor.code == WARM_SHIPMENT_DONOR
    custody.shipment_logger_attach(
        shipment=shipment,
        data=_logger_csv(drawn + 0.5 * H, 4.5, warm=warm),
        filename=f"logger-{run.code}.csv",
        actor=actor,
    )
    legs = [
        ("Ward nurse", "Ward 5", "Courier", "Courier box", drawn + 0.6 * H, drawn + 0.75 * H),
        (
            "Courier",
            "Courier box",
            "Receiving technician",
            "GMP lab goods-in",
            drawn + 4.9 * H,
            drawn + 5 * H,
        ),
    ]
    for from_party, from_location, to_party, to_location, sent, received in legs:
        handoff = custody.handoff_send(
            item=item,
            from_party=from_party,
            from_location=from_location,
            to_party=to_party,
            to_location=to_location,
            sent_at=sent,
            scanned=payload,
            shipment=shipment,
            actor=actor,
        )
        custody.handoff_receive(
            handoff=handoff,
            received_at=received,
            scanned=payload,
            condition="intact",
            temperature_c=21.5,
            actor=actor,
        )


def satisfy_checkpoint(sr: StageRun, cp: CheckpointTemplate, *, actor, at: datetime) -> bool:
    """Pass an identity or computed checkpoint of the demo runs the way the lab would (labels,
    scans, shipments); False when ``cp`` is an ordinary checkpoint."""
    run = sr.run
    if cp.value_type == ValueType.IDENTITY:
        kinds = (cp.spec or {}).get("item_kinds") or []
        if "blood_tube" in kinds:
            _blood_receipt(run, actor=actor, at=at)
        kind = kinds[0] if kinds else "document"
        item = Item.objects.filter(run=run, kind=kind).order_by("item_id").first()
        if item is None:
            template = {"vial": "cryovial", "bag": "bag", "shipper": "bag"}.get(kind, "tube")
            printed = custody.run_labels_print(
                run=run, template=template, kind=kind, count=4 if kind == "vial" else 1, actor=actor
            )
            item = Item.objects.get(run=run, item_id=printed.record.labels[0]["title"])
        custody.identity_scan_record(
            stage_run=sr,
            checkpoint=cp,
            scanned=scan_payload(item.coi.value, item.item_id),
            actor=actor,
        )
        return True
    if cp.recorded_by == RecordedBy.SYSTEM:
        if cp.assay == "draw_to_processing":
            _blood_receipt(run, actor=actor, at=at)  # the receipt records the result
            if sr.qc_results.filter(checkpoint=cp).exists():
                return True
        elif cp.assay == "vault_identifier_count":
            coi = run.donor.coi
            clinician = _clinician(run.lab)
            if clinician is not None and not patient_identifier_counts(coi_ids=[coi.pk]):
                patient_identifiers_record(
                    coi=coi,
                    values=DEMO_IDENTIFIERS.get(run.donor.code, DEMO_IDENTIFIERS["DEMO-001"]),
                    actor=clinician,
                )
        custody.computed_result_record(stage_run=sr, checkpoint=cp, actor=actor)
        return True
    return False


def demo_custody_seed(*, lab: Lab, technician) -> None:
    """The demo's wrong label: DEMO-001's enrolment scans a tube of DEMO-002 (another donor), so
    the stage is blocked and a critical deviation is open."""
    if IdentityScan.objects.filter(lab=lab, verdict=ScanVerdict.MISMATCH).exists():
        return
    run = Run.objects.filter(lab=lab, donor__code="DEMO-001").select_related("donor__coi").first()
    other = Item.objects.filter(lab=lab, run__donor__code="DEMO-002").order_by("item_id").first()
    if run is None or other is None:
        return
    sr = StageRun.objects.select_related("stage").get(run=run, stage__key="enrolment")
    if sr.status != "in_progress":
        return
    custody.run_labels_print(run=run, template="tube", kind="sample", count=2, actor=technician)
    checkpoint = sr.stage.checkpoints.get(key="coi_assigned")
    custody.identity_scan_record(
        stage_run=sr,
        checkpoint=checkpoint,
        scanned=scan_payload(other.coi.value, other.item_id),
        actor=technician,
    )
