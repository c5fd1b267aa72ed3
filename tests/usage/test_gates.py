"""The gates at the moment of use, through the services: a stage completes and a bench task is
logged only with released, unexpired lots of the materials its bill names, in equipment that is
in calibration; a lot near its expiry warns; quantities are drawn exactly; where-used is one
query."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.utils import timezone

from protocol_tracker.audit.models import AuditEvent
from protocol_tracker.core.errors import Conflict, InvalidTransition, ValidationFailed
from protocol_tracker.equipment import services as equipment_services
from protocol_tracker.materials import services as materials
from protocol_tracker.materials.models import LotStatus, MaterialLot
from protocol_tracker.qc.services import stage_complete
from protocol_tracker.recalls.services import lot_recall
from protocol_tracker.runs import services as run_services
from protocol_tracker.runs.models import StageStatus, TaskOccurrence
from protocol_tracker.usage.models import EquipmentUse, LotConsumption
from protocol_tracker.usage.selectors import (
    lot_where_used,
    run_equipment_warnings,
    run_materials_and_equipment,
    run_materials_near_expiry,
    stage_usage_gaps,
)
from protocol_tracker.usage.services import LotUse, stage_usage_record, task_record
from tests.builders import completion_reasons, record, stage, working_stage
from tests.builders.stock import lot, stocked
from tests.factories import PASSWORD, MembershipFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def stock(lab, technician, reviewer):
    return stocked(lab, technician, reviewer)


def _working(stock):
    sr = working_stage(stock.protocol, stock.technician)
    record(sr, stock.technician)
    return sr


def _written():
    return (
        LotConsumption.objects.count(),
        EquipmentUse.objects.count(),
        AuditEvent.objects.count(),
        list(MaterialLot.objects.order_by("pk").values_list("quantity_remaining", flat=True)),
    )


def _complete(stock, sr, *, lots=None, equipment=None):
    return stage_complete(
        stage_run=sr,
        actor=stock.technician,
        **completion_reasons(sr),
        lots=[LotUse(stock.medium_lot), LotUse(stock.matrix_lot, quantity=2)]
        if lots is None
        else lots,
        equipment=[stock.cabinet] if equipment is None else equipment,
    )


def test_a_stage_completes_with_its_lots_and_equipment_and_the_quantities_are_drawn(stock):
    sr = _working(stock)

    done = _complete(stock, sr)

    assert done.status == StageStatus.COMPLETED
    stock.medium_lot.refresh_from_db()
    stock.matrix_lot.refresh_from_db()
    # The bill's 50 mL when no amount is given; the 2 mL given for the matrix.
    assert stock.medium_lot.quantity_remaining == Decimal("450")
    assert stock.matrix_lot.quantity_remaining == Decimal("498")
    assert [(c.material_code, c.quantity, c.unit) for c in LotConsumption.objects.all()] == [
        ("mtesr", Decimal("50"), "mL"),
        ("matrigel", Decimal("2"), "mL"),
    ]
    use = EquipmentUse.objects.get()
    assert (use.equipment, use.kind, use.calibration_due) == (
        stock.cabinet,
        "biosafety_cabinet",
        stock.cabinet.calibration_due,
    )
    actions = list(AuditEvent.objects.filter(run=sr.run).values_list("action", flat=True))
    completion = actions[actions.index("material_lot.draw") :]
    assert completion[:5] == [
        "material_lot.draw",
        "material_lot.draw",
        "lot_consumption.record",
        "lot_consumption.record",
        "equipment_use.record",
    ]
    # Then the stage's open bench tasks are resolved and the stage completes.
    rest = completion[5:]
    assert set(rest[: rest.index("stage_run.complete")]) <= {"task.resolve"}


def test_a_stage_without_its_lots_or_equipment_does_not_complete(stock):
    sr = _working(stock)
    before = _written()

    with pytest.raises(InvalidTransition) as exc:
        stage_complete(stage_run=sr, actor=stock.technician)

    assert exc.value.code == "materials_missing"
    assert exc.value.message == (
        "stage 'Expansion' cannot complete: no lot recorded for mTeSR Plus, Matrigel; "
        "no equipment recorded of kind Biosafety cabinet"
    )
    assert _written() == before


@pytest.mark.parametrize(
    ("state", "code", "message"),
    [
        ("quarantine", "lot_quarantined", "mTeSR Plus lot MT-Q is in quarantine"),
        ("expired", "lot_expired", "mTeSR Plus lot MT-Q expired on"),
        ("recalled", "lot_recalled", "mTeSR Plus lot MT-Q was recalled (supplier notice)"),
        ("consumed", "lot_consumed", "mTeSR Plus lot MT-Q is used up"),
        ("expires_today", "lot_expired", "expired on"),
    ],
)
def test_a_lot_that_may_not_be_used_refuses_the_whole_completion(stock, state, code, message):
    bad = lot(stock.medium, stock.technician, lot_number="MT-Q", expires_in_days=30)
    if state != "quarantine":
        bad = materials.lot_release(lot=bad, actor=stock.reviewer, password=PASSWORD)
    if state == "expired":
        MaterialLot.objects.filter(pk=bad.pk).update(status=LotStatus.EXPIRED)
    elif state == "recalled":
        lot_recall(lot=bad, actor=stock.reviewer, password=PASSWORD, reason="supplier notice")
    elif state == "consumed":
        materials.lot_mark_consumed(lot=bad, actor=stock.technician, reason="empty")
    elif state == "expires_today":
        # Its expiry date begins on the lab's clock: refused even before the sweep marks it.
        MaterialLot.objects.filter(pk=bad.pk).update(
            expiry_date=timezone.now().astimezone(stock.lab.tz).date()
        )
    bad.refresh_from_db()
    sr = _working(stock)
    before = _written()

    with pytest.raises(Conflict) as exc:
        _complete(stock, sr, lots=[LotUse(bad), LotUse(stock.matrix_lot, quantity=1)])

    assert exc.value.code == code and message in exc.value.message
    assert exc.value.fields == {"lots[0]": [exc.value.message]}
    assert _written() == before
    sr.refresh_from_db()
    assert sr.status == StageStatus.IN_PROGRESS


def test_equipment_out_of_calibration_or_service_cannot_be_used(stock):
    sr = _working(stock)
    before = _written()

    with pytest.raises(Conflict) as exc:
        _complete(stock, sr, equipment=[stock.lapsed_cabinet])
    assert exc.value.code == "calibration_lapsed"
    assert exc.value.message.startswith(
        "BSC-2 (BSC-2) is out of calibration: its calibration was due on"
    )
    equipment_services.equipment_status_set(
        equipment=stock.cabinet,
        status="out_of_service",
        reason="HEPA alarm",
        actor=stock.technician,
    )
    stock.cabinet.refresh_from_db()
    with pytest.raises(Conflict) as exc:
        _complete(stock, sr)
    assert exc.value.code == "equipment_out_of_service"
    assert "is out of service: HEPA alarm" in exc.value.message
    after = _written()  # only the status change was written (audited)
    assert (after[0], after[1], after[2] - 1, after[3]) == before


def test_quantities_units_and_materials_are_checked(stock):
    sr = _working(stock)
    before = _written()

    with pytest.raises(Conflict) as exc:
        stage_usage_record(
            stage_run=sr, actor=stock.technician, lots=[LotUse(stock.medium_lot, quantity=501)]
        )
    assert exc.value.code == "insufficient_quantity"
    assert "only 500 mL is left" in exc.value.message
    for use, field, text in [
        (LotUse(stock.medium_lot, quantity=0), "lots[0].quantity", "more than zero"),
        (LotUse(stock.medium_lot, quantity=-1), "lots[0].quantity", "more than zero"),
        (LotUse(stock.medium_lot, quantity="nan"), "lots[0].quantity", "finite"),
        (LotUse(stock.medium_lot, quantity=5, unit="parsecs"), "lots[0].quantity", "unknown unit"),
        (LotUse(stock.medium_lot, quantity=5, unit="mg"), "lots[0].quantity", "cannot convert"),
        (LotUse(stock.matrix_lot, material="mtesr"), "lots[0]", "is not mtesr"),
        (LotUse(stock.matrix_lot), "lots[0].quantity", "how much of Matrigel"),
    ]:
        with pytest.raises(ValidationFailed) as exc:
            stage_usage_record(stage_run=sr, actor=stock.technician, lots=[use])
        assert text in exc.value.fields[field][0], (use, exc.value.fields)
    assert _written() == before

    recorded = stage_usage_record(
        stage_run=sr,
        actor=stock.technician,
        lots=[LotUse(stock.medium_lot, quantity=2500, unit="uL")],
    )
    stock.medium_lot.refresh_from_db()
    assert stock.medium_lot.quantity_remaining == Decimal("497.5")
    assert (recorded.consumptions[0].quantity, recorded.consumptions[0].unit) == (
        Decimal("2500"),
        "uL",
    )


def test_drawing_the_last_of_a_lot_uses_it_up(stock):
    sr = _working(stock)
    small = lot(stock.medium, stock.technician, stock.reviewer, lot_number="SMALL", quantity=50)

    _complete(stock, sr, lots=[LotUse(small), LotUse(stock.matrix_lot, quantity=1)])

    small.refresh_from_db()
    assert (small.quantity_remaining, small.status, small.status_reason) == (
        Decimal("0"),
        LotStatus.CONSUMED,
        "used up",
    )


def test_a_lot_near_its_expiry_is_used_with_a_warning_kept_for_the_record(stock):
    stock.medium.expiry_warning_days = 10
    stock.medium.save(update_fields=["expiry_warning_days"])
    near = lot(stock.medium, stock.technician, stock.reviewer, lot_number="NEAR", expires_in_days=5)
    sr = _working(stock)
    with time_machine.travel(timezone.now() + timedelta(days=1)):
        _complete(stock, sr, lots=[LotUse(near), LotUse(stock.matrix_lot, quantity=1)])

    rows = run_materials_near_expiry(run=sr.run)
    assert [(r["lot"], r["days_to_expiry"]) for r in rows] == [("NEAR", 4)]
    assert (
        rows[0]["warning"].startswith("mTeSR Plus lot NEAR expires on")
        and "in 4 days" in (rows[0]["warning"])
    )


def test_equipment_falling_due_is_used_with_a_warning(stock, lab):
    soon = equipment_services.equipment_create(
        lab=lab,
        code="BSC-3",
        name="BSC-3",
        kind="biosafety_cabinet",
        calibration_interval_days=365,
        actor=stock.reviewer,
    )
    equipment_services.calibration_record_add(
        equipment=soon,
        performed_at=timezone.now() - timedelta(days=360),
        performed_by="Vendor",
        passed=True,
        actor=stock.technician,
    )
    soon.refresh_from_db()
    sr = _working(stock)

    _complete(stock, sr, equipment=[soon])

    [row] = run_equipment_warnings(run=sr.run)
    assert row["code"] == "BSC-3" and row["warning"].startswith("BSC-3 (BSC-3): calibration due on")


def test_a_bench_task_is_logged_only_with_the_lot_its_bill_needs(stock):
    sr = working_stage(stock.protocol, stock.technician)
    occurrence = TaskOccurrence.objects.filter(stage_run=sr).order_by("due_at").first()
    expired = lot(stock.medium, stock.technician, stock.reviewer, lot_number="OLD")
    MaterialLot.objects.filter(pk=expired.pk).update(status=LotStatus.EXPIRED)
    expired.refresh_from_db()
    before = _written()

    with pytest.raises(Conflict) as exc:
        task_record(occurrence=occurrence, actor=stock.technician)
    assert exc.value.code == "materials_missing"
    assert exc.value.message == (
        "'Medium change' cannot be logged as done: record the lot used of mTeSR Plus"
    )
    with pytest.raises(Conflict) as exc:
        task_record(occurrence=occurrence, actor=stock.technician, lots=[LotUse(expired)])
    assert exc.value.code == "lot_expired"
    assert _written() == before
    occurrence.refresh_from_db()
    assert occurrence.done_at is None

    done, recorded = task_record(
        occurrence=occurrence, actor=stock.technician, lots=[LotUse(stock.medium_lot)], note="fed"
    )

    assert done.done_at is not None and done.note == "fed"
    assert [(c.task_occurrence_id, c.quantity, c.purpose) for c in recorded.consumptions] == [
        (occurrence.pk, Decimal("10"), "task")
    ]


def test_a_material_the_lab_does_not_catalogue_does_not_block_but_shows_untracked(stock):
    stock.matrix.is_active = False
    stock.matrix.save(update_fields=["is_active"])
    sr = _working(stock)

    assert stage_usage_gaps(sr, lab_id=stock.lab.pk).materials == ["mTeSR Plus"]
    done = _complete(stock, sr, lots=[LotUse(stock.medium_lot)])

    assert done.status == StageStatus.COMPLETED


def test_another_labs_lot_or_equipment_is_not_found(stock, other_lab, other_technician):
    sr = _working(stock)

    other_reviewer = MembershipFactory(lab=other_lab, role="reviewer").user
    theirs = stocked(other_lab, other_technician, other_reviewer, protocol_code="bom-b")
    before = _written()

    with pytest.raises(ValidationFailed) as exc:
        _complete(stock, sr, lots=[LotUse(theirs.medium_lot)], equipment=[theirs.cabinet])

    assert exc.value.fields == {
        "lots[0]": ["lot not found in this lab"],
        "equipment[0]": ["equipment not found in this lab"],
    }
    assert _written()[:3] == before[:3]


def test_where_used_lists_every_use_in_one_query_whatever_the_number_of_runs(
    stock, django_assert_num_queries
):
    srs = [_working(stock) for _ in range(2)]
    for sr in srs:
        _complete(stock, sr)
    with django_assert_num_queries(1):
        rows = lot_where_used(lot=stock.medium_lot)
    assert [(r["run__code"], r["stage_run__stage__key"], r["quantity"]) for r in rows] == [
        (sr.run.code, "expand", Decimal("50")) for sr in srs
    ]
    for _ in range(3):
        _complete(stock, _working(stock))
    with django_assert_num_queries(1):
        assert len(lot_where_used(lot=stock.medium_lot)) == 5


def test_the_batch_record_rows_name_materials_and_equipment(stock):
    sr = _working(stock)
    _complete(stock, sr)
    bank = run_services.stage_start(stage_run=stage(sr.run, "bank"), actor=stock.technician)
    assert bank.status == StageStatus.IN_PROGRESS

    rows = run_materials_and_equipment(run=sr.run)

    assert [(r["kind"], r["what"], r["identifier"], r["amount"]) for r in rows] == [
        ("material", "mTeSR Plus", "MT-001", "50 mL"),
        ("material", "Matrigel", "MG-001", "2 mL"),
        ("equipment", "BSC-1", "BSC-1", ""),
    ]
