"""Vials through their life: frozen into free positions (an occupied position refused; two
freezes racing for one position on PostgreSQL: exactly one wins), thawed with a scan into a
vessel of a run of the same donor, withdrawn, transferred; vessels split 1:k at passage n+1; the
box map and bank counts in constant queries."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.db import close_old_connections, connection

from protocol_tracker.audit.models import AuditEvent
from protocol_tracker.cellbank import services
from protocol_tracker.cellbank.labels import vial_label
from protocol_tracker.cellbank.models import Freeze, Vessel, Vial, VialMovement
from protocol_tracker.cellbank.selectors import bank_counts, box_map, run_lineage_stock
from protocol_tracker.core.errors import Conflict, InvalidTransition, ValidationFailed
from protocol_tracker.inventory.models import Position
from protocol_tracker.inventory.selectors import location_of, position_by_path
from protocol_tracker.inventory.services import position_reserve
from protocol_tracker.materials.models import MaterialLot
from protocol_tracker.runs.models import PassageEvent
from protocol_tracker.runs.services import run_spawn_child, run_start
from protocol_tracker.usage.selectors import lot_where_used
from protocol_tracker.usage.services import LotUse
from tests.builders import active_run, working_stage
from tests.builders.stock import stocked

pytestmark = pytest.mark.django_db


@pytest.fixture
def stock(lab, technician, reviewer):
    return stocked(lab, technician, reviewer)


def _freeze(stock, sr, count=10, **extra):
    values = {
        "stage_run": sr,
        "actor": stock.technician,
        "count": count,
        "cells_per_vial": 1e6,
        "contents": "iPSC clone 3",
        "bank": "master",
        "medium": LotUse(stock.cryo_lot, quantity=1),
        "freezer": stock.freezer,
        "box": stock.box,
        "profile": b"time,temp\n0,4\n60,-80\n",
        "profile_filename": "profile.csv",
        **extra,
    }
    return services.vials_freeze(**values)


def _written():
    return (
        Vial.objects.count(),
        Freeze.objects.count(),
        AuditEvent.objects.count(),
        VialMovement.objects.count(),
    )


def test_a_freeze_of_ten_vials_fills_the_first_free_positions(stock, django_assert_num_queries):
    sr = working_stage(stock.protocol, stock.technician)

    freeze = _freeze(stock, sr)

    vials = list(Vial.objects.order_by("code"))
    assert [v.code for v in vials] == [f"{sr.run.code}-V{i:03d}" for i in range(1, 11)]
    assert [location_of(v.position) for v in vials[:2]] == ["T1/R1/B1/A1", "T1/R1/B1/A2"]
    assert location_of(vials[-1].position) == "T1/R1/B1/A10"
    assert {(v.coi, v.passage, v.cells_per_vial, v.bank) for v in vials} == {
        (sr.run.donor.code, sr.run.passage, 1e6, "master")
    }
    assert len(freeze.profile_sha256) == 64
    # The freeze medium's lot was drawn and its where-used shows the freeze's stage.
    [use] = lot_where_used(lot=stock.cryo_lot)
    assert (use["purpose"], use["stage_run_id"], use["quantity"]) == ("freeze", sr.pk, Decimal("1"))
    assert PassageEvent.objects.filter(run=sr.run, kind="freeze").count() == 1
    label = vial_label(vials[0])
    assert label["barcode"] == vials[0].code and ("COI", sr.run.donor.code) in label["fields"]

    with django_assert_num_queries(2):
        grid = box_map(box=stock.box)
    assert grid.counts == {"free": 90, "reserved": 0, "occupied": 10}
    assert [cell.state for cell in grid.rows[0]] == ["occupied"] * 10
    assert grid.rows[0][0].vial.code == vials[0].code and grid.rows[1][0].state == "free"


def test_the_box_map_costs_two_queries_whatever_the_lab_holds(stock, django_assert_num_queries):
    sr = working_stage(stock.protocol, stock.technician)
    _freeze(stock, sr, count=3)
    with django_assert_num_queries(2):
        box_map(box=stock.box)
    _freeze(stock, sr, count=40)
    with django_assert_num_queries(2):
        assert box_map(box=stock.box).counts["occupied"] == 43


def test_an_occupied_position_is_refused_and_nothing_is_frozen(stock):
    sr = working_stage(stock.protocol, stock.technician)
    _freeze(stock, sr, count=1)
    taken = Position.objects.get(box=stock.box, row=1, column=1)
    free = Position.objects.get(box=stock.box, row=1, column=2)
    cryo_before = MaterialLot.objects.get(pk=stock.cryo_lot.pk).quantity_remaining
    before = _written()

    with pytest.raises(Conflict) as exc:
        _freeze(stock, sr, count=2, box=None, positions=[free, taken])

    assert exc.value.code == "position_occupied"
    assert exc.value.message == (
        f"occupied position(s): T1/R1/B1/A1 (vial {sr.run.code}-V001); nothing was frozen"
    )
    assert _written() == before
    assert MaterialLot.objects.get(pk=stock.cryo_lot.pk).quantity_remaining == cryo_before


def test_bad_freezes_are_refused(stock, other_lab):
    sr = working_stage(stock.protocol, stock.technician)
    before = _written()
    for extra, field in [
        ({"count": 0}, "count"),
        ({"count": 500}, "count"),
        ({"cells_per_vial": -1}, "cells_per_vial"),
        ({"cells_per_vial": float("nan")}, "cells_per_vial"),
        ({"contents": "\u202eevil"}, "contents"),
        ({"bank": "platinum"}, "bank"),
        ({"box": None}, "positions"),
        ({"profile": b""}, "profile"),
    ]:
        with pytest.raises(ValidationFailed) as exc:
            _freeze(stock, sr, **extra)
        assert field in exc.value.fields, (extra, exc.value.fields)
    with pytest.raises(Conflict) as exc:
        _freeze(stock, sr, count=101)
    assert exc.value.code == "box_full"
    assert _written() == before


def test_a_reserved_position_is_skipped_by_a_suggestion_and_taken_when_chosen(stock):
    sr = working_stage(stock.protocol, stock.technician)
    a1 = Position.objects.get(box=stock.box, row=1, column=1)
    position_reserve(position=a1, reserved_for="clone 5 bank", actor=stock.technician)
    assert box_map(box=stock.box).counts == {"free": 99, "reserved": 1, "occupied": 0}

    _freeze(stock, sr, count=1)
    assert location_of(Vial.objects.get().position) == "T1/R1/B1/A2"
    _freeze(stock, sr, count=1, box=None, positions=[a1])
    a1.refresh_from_db()
    assert not a1.is_reserved and Vial.objects.filter(position=a1).exists()


def test_a_thaw_checks_the_vial_out_with_a_scan_into_a_vessel_of_the_same_donor(stock, technician):
    sr = working_stage(stock.protocol, technician)
    _freeze(stock, sr, count=2)
    vial = Vial.objects.order_by("code").first()
    child = run_spawn_child(parent=sr.run, protocol=stock.protocol, actor=technician)

    child = run_start(run=child, actor=technician)
    stranger = active_run(stock.protocol, technician)
    before = _written()

    with pytest.raises(Conflict) as exc:
        services.vial_thaw(
            vial=vial, scanned_code="WRONG-V001", run=child, actor=technician, vessel_kind="well_6"
        )
    assert exc.value.code == "identity_mismatch"
    with pytest.raises(Conflict) as exc:
        services.vial_thaw(
            vial=vial, scanned_code=vial.code, run=stranger, actor=technician, vessel_kind="well_6"
        )
    assert "chain of identity" in exc.value.message
    with pytest.raises(ValidationFailed):
        services.vial_thaw(
            vial=vial, scanned_code="", run=child, actor=technician, vessel_kind="well_6"
        )
    assert _written() == before

    vessel = services.vial_thaw(
        vial=vial,
        scanned_code=f" {vial.code.lower()} ",
        run=child,
        actor=technician,
        vessel_kind="well_6",
        cells_seeded=1.14e6,
    )

    vial.refresh_from_db()
    assert vial.status == "thawed" and vial.checked_out_by == technician
    assert (vessel.run, vessel.passage, vessel.source_vial, vessel.coi) == (
        child,
        vial.passage,
        vial,
        vial.coi,
    )
    assert vessel.seeding_density == pytest.approx(1.14e6 / 57)
    assert box_map(box=stock.box).counts["occupied"] == 1
    with pytest.raises(InvalidTransition):
        services.vial_thaw(
            vial=vial, scanned_code=vial.code, run=child, actor=technician, vessel_kind="well_6"
        )


def test_a_split_makes_k_children_at_the_next_passage_and_moves_the_run_counter(stock, technician):
    sr = working_stage(stock.protocol, technician)
    run = sr.run
    parent = services.vessel_seed(run=run, actor=technician, kind="t75", cells_seeded=2e6)

    children = services.vessel_split(vessel=parent, ratio=3, actor=technician, kind="well_6")

    parent.refresh_from_db()
    run.refresh_from_db()
    assert (parent.status, parent.split_ratio) == ("split", 3)
    assert [(c.passage, c.parent_id, c.coi, c.kind) for c in children] == [
        (1, parent.pk, run.donor.code, "well_6")
    ] * 3
    assert run.passage == 1
    assert [n.code for n in run_lineage_stock(run=run)] == [parent.code]
    assert [c.code for c in run_lineage_stock(run=run)[0].children] == [c.code for c in children]
    with pytest.raises(InvalidTransition):
        services.vessel_split(vessel=parent, ratio=2, actor=technician)
    with pytest.raises(ValidationFailed):
        services.vessel_split(vessel=children[0], ratio=1, actor=technician)
    with pytest.raises(ValidationFailed):
        services.vessel_observe(vessel=children[0], actor=technician, confluence_percent=120)
    seen = services.vessel_observe(vessel=children[0], actor=technician, confluence_percent=70)
    assert seen.confluence_percent == 70


def test_transfer_withdraw_and_bank_counts(stock, technician, technician2):
    sr = working_stage(stock.protocol, technician)
    _freeze(stock, sr, count=6)
    vials = list(Vial.objects.order_by("code"))
    target = position_by_path(lab=stock.lab, path="T1/R1/B1/J10")
    occupied_target = vials[1].position

    with pytest.raises(Conflict) as exc:
        services.vial_transfer(
            vial=vials[0], scanned_code=vials[0].code, to_position=occupied_target, actor=technician
        )
    assert exc.value.code == "position_occupied"
    moved = services.vial_transfer(
        vial=vials[0],
        scanned_code=vials[0].code,
        to_position=target,
        actor=technician,
        received_by=technician2,
        reason="consolidating",
    )
    assert location_of(moved.position) == "T1/R1/B1/J10"
    movement = VialMovement.objects.filter(vial=moved, kind="transfer").get()
    assert (movement.received_by, location_of(movement.from_position)) == (
        technician2,
        "T1/R1/B1/A1",
    )
    services.vial_check_out(
        vial=vials[2],
        scanned_code=vials[2].code,
        actor=technician,
        status="withdrawn",
        reason="STR testing",
        received_by=technician2,
    )

    [line] = bank_counts(lab=stock.lab)
    assert (line.run_code, line.bank, line.count, line.low) == (sr.run.code, "master", 5, False)
    assert line.locations == [("T1/R1/B1", 5)]
    for vial in vials[3:]:
        services.vial_check_out(
            vial=vial, scanned_code=vial.code, actor=technician, status="discarded", reason="test"
        )
    assert bank_counts(lab=stock.lab)[0].low


@pytest.mark.django_db(transaction=True)
def test_two_freezes_racing_for_one_position_exactly_one_wins(postgres, lab, technician, reviewer):
    stock = stocked(lab, technician, reviewer)
    stage_runs = [working_stage(stock.protocol, technician) for _ in range(2)]
    position = Position.objects.get(box=stock.box, row=5, column=5)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def freeze(sr):
        try:
            barrier.wait(timeout=10)
            _freeze(stock, sr, count=1, box=None, positions=[position])
            outcomes.append("frozen")
        except Conflict as exc:
            outcomes.append(exc.code)
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=freeze, args=(sr,)) for sr in stage_runs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(outcomes) == ["frozen", "position_occupied"]
    assert Vial.objects.filter(position=position).count() == 1
    assert Freeze.objects.count() == 1
    # The loser drew no freeze medium either.
    assert MaterialLot.objects.get(pk=stock.cryo_lot.pk).quantity_remaining == Decimal("499")
    assert Vessel.objects.count() == 0
