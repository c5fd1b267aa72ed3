"""A lot's life through the services: received into quarantine, released by another person's
signature against its certificate, expired at the start of its expiry date on the lab's clock,
used up; and the bad inputs, each refused with nothing written."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine

from protocol_tracker.audit.models import AuditEvent
from protocol_tracker.core.errors import (
    Conflict,
    InvalidTransition,
    NotPermitted,
    SignatureRefused,
    ValidationFailed,
)
from protocol_tracker.materials import services
from protocol_tracker.materials.labels import lot_label
from protocol_tracker.materials.models import LotStatus, Material, MaterialLot
from protocol_tracker.materials.selectors import lots_by_scan
from protocol_tracker.signatures.models import Signature
from tests.builders.stock import COA, lot
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db

# 23:30 UTC on 9 March is 07:30 on 10 March in Shanghai (the ``lab`` fixture's zone).
LATE_UTC = datetime(2026, 3, 9, 23, 30, tzinfo=UTC)


@pytest.fixture
def medium(lab, reviewer):
    return services.material_create(
        lab=lab, code="MTeSR", name="mTeSR Plus", kind="medium", unit="ml", actor=reviewer
    )


def _written():
    return (MaterialLot.objects.count(), Material.objects.count(), AuditEvent.objects.count())


def test_a_lot_is_received_into_quarantine_and_released_by_another_reviewer(
    lab, medium, technician, reviewer
):
    assert (medium.code, medium.unit) == ("mtesr", "mL")
    received = lot(medium, technician, lot_number="2403A", quantity="500")
    assert (received.status, received.code, received.quantity_remaining) == (
        LotStatus.QUARANTINE,
        "mtesr-2403A",
        Decimal("500.000000"),
    )
    assert received.coa_sha256 == hashlib.sha256(COA).hexdigest()
    with received.coa.open("rb") as handle:
        assert handle.read() == COA

    released = services.lot_release(lot=received, actor=reviewer, password=PASSWORD)

    assert released.status == LotStatus.RELEASED and released.released_by == reviewer
    signature = Signature.objects.get(pk=released.release_signature_id)
    assert (signature.meaning, signature.object_type, signature.object_id) == (
        "released",
        "materials.materiallot",
        str(released.pk),
    )
    assert released.coa_sha256[:12] in signature.statement
    assert list(
        AuditEvent.objects.filter(object_type="materials.materiallot").values_list(
            "action", flat=True
        )
    ) == ["material_lot.receive", "material_lot.release"]
    assert lots_by_scan(lab=lab, code="MTESR-2403a") == [released]
    assert lot_label(released)["barcode"] == "mtesr-2403A"


def test_four_eyes_the_receiver_cannot_release_nor_can_a_technician(
    lab, medium, technician, reviewer, reviewer2
):
    received = lot(medium, reviewer, lot_number="A1")
    before = _written()

    with pytest.raises(SignatureRefused, match="four eyes"):
        services.lot_release(lot=received, actor=reviewer, password=PASSWORD)
    with pytest.raises(NotPermitted):
        services.lot_release(lot=received, actor=technician, password=PASSWORD)
    with pytest.raises(SignatureRefused, match="password"):
        services.lot_release(lot=received, actor=reviewer2, password="wrong")

    assert _written() == before
    received.refresh_from_db()
    assert received.status == LotStatus.QUARANTINE


def test_a_lot_without_its_certificate_is_not_released_until_it_is_attached(
    medium, technician, reviewer
):
    received = lot(medium, technician, lot_number="NOCOA", coa=False)

    with pytest.raises(InvalidTransition, match="no certificate of analysis"):
        services.lot_release(lot=received, actor=reviewer, password=PASSWORD)

    services.lot_coa_attach(lot=received, data=COA, filename="coa.pdf", actor=technician)
    assert services.lot_release(lot=received, actor=reviewer, password=PASSWORD).status == (
        LotStatus.RELEASED
    )
    with pytest.raises(InvalidTransition, match="fixed at its release"):
        services.lot_coa_attach(lot=received, data=b"other", filename="x.pdf", actor=technician)


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"quantity": 0}, "quantity", "must be more than zero"),
        ({"quantity": -5}, "quantity", "must be more than zero"),
        ({"quantity": "NaN"}, "quantity", "must be a finite number"),
        ({"quantity": float("inf")}, "quantity", "must be a finite number"),
        ({"quantity": "10000000000"}, "quantity", "at most 1,000,000,000"),
        ({"quantity": "1.0000001"}, "quantity", "more than six decimal places"),
        ({"unit": "furlongs"}, "unit", "unknown unit 'furlongs'"),
        ({"unit": "mg"}, "unit", "counted in mL, not mg"),
        ({"lot_number": "lot\x00 1"}, "lot_number", "may contain only"),
        ({"lot_number": "  "}, "lot_number", "is required"),
    ],
)
def test_bad_receipts_are_refused_and_write_nothing(medium, technician, changes, field, message):
    values = {
        "material": medium,
        "lot_number": "L-1",
        "expiry_date": date(2030, 1, 1),
        "quantity": 10,
        "actor": technician,
        **changes,
    }
    before = _written()

    with pytest.raises(ValidationFailed) as exc:
        services.lot_receive(**values)

    assert any(message in m for m in exc.value.fields[field]), exc.value.fields
    assert _written() == before


def test_a_lot_that_expires_today_on_the_labs_clock_is_refused_at_receipt(medium, technician):
    # Already the 10th in Shanghai, still the 9th in UTC: the lab's date decides.
    with time_machine.travel(LATE_UTC, tick=False):
        with pytest.raises(ValidationFailed) as exc:
            services.lot_receive(
                material=medium,
                lot_number="TODAY",
                expiry_date=date(2026, 3, 10),
                quantity=1,
                actor=technician,
            )
        tomorrow = services.lot_receive(
            material=medium,
            lot_number="TOMORROW",
            expiry_date=date(2026, 3, 11),
            quantity=1,
            actor=technician,
        )

    assert "expired on the lab's date (2026-03-10)" in exc.value.fields["expiry_date"][0]
    assert tomorrow.status == LotStatus.QUARANTINE


def test_a_duplicate_lot_number_is_a_conflict(medium, technician):
    lot(medium, technician, lot_number="DUP")
    before = _written()

    with pytest.raises(Conflict) as exc:
        lot(medium, technician, lot_number="DUP")

    assert exc.value.code == "duplicate" and _written() == before


def test_the_sweep_expires_lots_at_the_start_of_their_date_in_the_labs_zone(
    lab, other_lab, medium, technician, reviewer
):
    with time_machine.travel(datetime(2026, 3, 1, 2, 0, tzinfo=UTC), tick=False):
        shanghai = services.lot_release(
            lot=services.lot_receive(
                material=medium,
                lot_number="SH",
                quantity=5,
                expiry_date=date(2026, 3, 10),
                coa=COA,
                coa_filename="coa.pdf",
                actor=technician,
            ),
            actor=reviewer,
            password=PASSWORD,
        )
    london_material = Material.objects.create(
        lab=other_lab, code="m", name="M", kind="medium", unit="mL"
    )
    london = MaterialLot.objects.create(
        lab=other_lab,
        material=london_material,
        lot_number="LO",
        code="m-LO",
        expiry_date=date(2026, 3, 10),
        unit="mL",
        quantity_received=1,
        quantity_remaining=1,
        received_at=LATE_UTC - timedelta(days=5),
        status=LotStatus.RELEASED,
    )

    # 23:30 UTC on the 9th: the 10th in Shanghai, still the 9th in London.
    assert services.lots_expire_due(now=LATE_UTC) == [shanghai.pk]
    assert services.lots_expire_due(now=LATE_UTC) == []  # idempotent
    assert services.lots_expire_due(now=datetime(2026, 3, 10, 0, 1, tzinfo=UTC)) == [london.pk]
    shanghai.refresh_from_db()
    assert shanghai.status == LotStatus.EXPIRED
    assert shanghai.status_reason == "expired on 2026-03-10 (Asia/Shanghai)"
    event = AuditEvent.objects.get(action="material_lot.expire", object_id=str(shanghai.pk))
    assert (event.actor_label, event.before["status"], event.after["status"]) == (
        "system",
        "released",
        "expired",
    )


def test_a_lot_is_marked_used_up_with_a_reason_only_when_released(medium, technician, reviewer):
    released = lot(medium, technician, reviewer, lot_number="UP")
    quarantined = lot(medium, technician, lot_number="Q")

    with pytest.raises(ValidationFailed):
        services.lot_mark_consumed(lot=released, actor=technician, reason=" ")
    with pytest.raises(InvalidTransition):
        services.lot_mark_consumed(lot=quarantined, actor=technician, reason="spilt")
    used = services.lot_mark_consumed(lot=released, actor=technician, reason="bottle empty")

    assert (used.status, used.status_reason) == (LotStatus.CONSUMED, "bottle empty")


def test_the_catalogue_refuses_bad_and_duplicate_materials(lab, reviewer, technician):
    with pytest.raises(NotPermitted):
        services.material_create(
            lab=lab, code="x", name="X", kind="medium", unit="mL", actor=technician
        )
    with pytest.raises(ValidationFailed) as exc:
        services.material_create(
            lab=lab, code="bad code", name="", kind="soup", unit="pints", actor=reviewer
        )
    assert set(exc.value.fields) == {"code", "name", "kind", "unit"}
    services.material_create(
        lab=lab, code="ok", name="OK", kind="matrix", unit="uL", actor=reviewer
    )
    with pytest.raises(Conflict):
        services.material_create(
            lab=lab, code="OK", name="Again", kind="matrix", unit="uL", actor=reviewer
        )
    material = Material.objects.get(code="ok")
    with pytest.raises(ValidationFailed, match="cannot change"):
        services.material_update(material=material, actor=reviewer, code="new")
    assert services.material_update(material=material, actor=reviewer, name="Matrigel").name == (
        "Matrigel"
    )
