"""The materials, equipment and storage screens at work (Django's test client): the bench's
one-tap buttons lead to the lot picker when a bill needs it, a scanned expired lot is refused
with its rule, a stage completes with its lots, a reviewer releases and recalls a lot, vials
are frozen and thawed with a scan, an inventory CSV's bad rows are listed."""

from __future__ import annotations

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from protocol_tracker.cellbank.models import Vial
from protocol_tracker.cellbank.services import vials_freeze
from protocol_tracker.materials.models import LotStatus, MaterialLot
from protocol_tracker.runs.models import Run, StageStatus, TaskOccurrence
from protocol_tracker.usage.services import LotUse
from tests import builders as f
from tests.builders.stock import stocked
from tests.factories import PASSWORD, DonorFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def stock(lab, technician, reviewer):
    return stocked(lab, technician, reviewer)


def _text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def test_the_bench_complete_button_leads_to_the_lot_picker_and_an_expired_lot_is_refused(
    client, stock, technician
):
    sr = f.working_stage(stock.protocol, technician)
    f.record(sr, technician)
    client.force_login(technician)

    tapped = client.post(f"/stages/{sr.pk}/complete/", {"next": f"/runs/{sr.run_id}/"})
    assert tapped.status_code == 302
    assert tapped["Location"] == f"/stages/{sr.pk}/materials/?next=%2Fruns%2F{sr.run_id}%2F"
    page = client.get(tapped["Location"])
    assert page.status_code == 200
    body = _text(page)
    assert "mTeSR Plus" in body and "Matrigel" in body and "BSC-1" in body
    assert "BSC-2 (BSC-2) is out of calibration" in body  # shown, and its radio disabled

    MaterialLot.objects.filter(pk=stock.medium_lot.pk).update(status=LotStatus.EXPIRED)
    refused = client.post(
        f"/stages/{sr.pk}/materials/",
        {
            "scan_0": stock.medium_lot.code,
            "lot_1": stock.matrix_lot.pk,
            "qty_1": "1",
            "equip_0": stock.cabinet.pk,
            "action": "complete",
        },
    )
    assert refused.status_code == 422
    assert "mTeSR Plus lot MT-001 expired on" in _text(refused)
    sr.refresh_from_db()
    assert sr.status == StageStatus.IN_PROGRESS

    lapsed = client.post(
        f"/stages/{sr.pk}/materials/",
        {"lot_1": stock.matrix_lot.pk, "qty_1": "1", "escan_0": "BSC-2", "action": "record"},
    )
    assert lapsed.status_code == 422
    assert "is out of calibration" in _text(lapsed)

    MaterialLot.objects.filter(pk=stock.medium_lot.pk).update(status=LotStatus.RELEASED)
    done = client.post(
        f"/stages/{sr.pk}/materials/",
        {
            "scan_0": stock.medium_lot.code,
            "lot_1": stock.matrix_lot.pk,
            "qty_1": "1",
            "equip_0": stock.cabinet.pk,
            "action": "complete",
            "next": f"/runs/{sr.run_id}/",
        },
    )
    assert (done.status_code, done["Location"]) == (302, f"/runs/{sr.run_id}/")
    sr.refresh_from_db()
    assert sr.status == StageStatus.COMPLETED
    run_page = _text(client.get(f"/runs/{sr.run_id}/"))
    assert "MT-001" in run_page and "BSC-1" in run_page
    record = _text(client.get(f"/runs/{sr.run_id}/record/"))
    assert "Materials and equipment" in record and "MG-001" in record


def test_a_bench_task_with_a_bill_asks_for_its_lot(client, stock, technician):
    sr = f.working_stage(stock.protocol, technician)
    task = TaskOccurrence.objects.filter(stage_run=sr).order_by("due_at").first()
    client.force_login(technician)

    tapped = client.post(f"/tasks/{task.pk}/done/", {"next": "/"})
    assert tapped["Location"] == f"/tasks/{task.pk}/record/?next=%2F"
    missing = client.post(f"/tasks/{task.pk}/record/", {})
    assert missing.status_code == 422
    assert "record the lot used of mTeSR Plus" in _text(missing)
    done = client.post(f"/tasks/{task.pk}/record/", {"lot_0": stock.medium_lot.pk, "next": "/"})
    assert done.status_code == 302
    task.refresh_from_db()
    assert task.done_at is not None


def test_receive_release_and_recall_a_lot_on_the_screens(
    client, stock, technician, reviewer, reviewer2
):
    client.force_login(technician)
    received = client.post(
        "/materials/lots/receive/",
        {
            "material": stock.medium.pk,
            "lot_number": "WEB-1",
            "expiry_date": "2031-05-01",
            "quantity": "250",
        },
    )
    lot = MaterialLot.objects.get(lot_number="WEB-1")
    assert received["Location"] == f"/materials/lots/{lot.pk}/"
    bad = client.post(
        "/materials/lots/receive/",
        {
            "material": stock.medium.pk,
            "lot_number": "WEB-2",
            "expiry_date": "2031-05-01",
            "quantity": "-1",
        },
    )
    assert bad.status_code == 422 and "must be more than zero" in _text(bad)

    client.force_login(reviewer)
    no_coa = client.post(f"/materials/lots/{lot.pk}/do/release/", {"release-password": PASSWORD})
    assert no_coa.status_code == 422 and "no certificate of analysis" in _text(no_coa)

    sr = f.working_stage(stock.protocol, technician)
    f.record(sr, technician)
    client.force_login(technician)
    client.post(
        f"/stages/{sr.pk}/materials/",
        {
            "lot_0": stock.medium_lot.pk,
            "lot_1": stock.matrix_lot.pk,
            "qty_1": "1",
            "equip_0": stock.cabinet.pk,
            "action": "complete",
        },
    )
    client.force_login(reviewer2)
    page = _text(client.get(f"/materials/lots/{stock.medium_lot.pk}/"))
    assert "Where used (1)" in page and sr.run.code in page
    wrong = client.post(
        f"/materials/lots/{stock.medium_lot.pk}/do/recall/",
        {"recall-reason": "supplier notice", "recall-password": "nope"},
    )
    assert wrong.status_code == 422
    recalled = client.post(
        f"/materials/lots/{stock.medium_lot.pk}/do/recall/",
        {"recall-reason": "supplier notice", "recall-password": PASSWORD},
    )
    assert recalled.status_code == 302
    assert Run.objects.get(pk=sr.run_id).flagged
    assert "Recalled material used" in _text(client.get(f"/runs/{sr.run_id}/"))


def test_freeze_ten_vials_see_them_on_the_map_and_thaw_one_with_a_scan(
    client, stock, technician, django_assert_num_queries
):
    sr = f.working_stage(stock.protocol, technician)
    client.force_login(technician)

    frozen = client.post(
        f"/runs/{sr.run_id}/freeze/",
        {
            "stage_run": sr.pk,
            "count": 10,
            "cells_per_vial": "1000000",
            "contents": "iPSC clone 1",
            "bank": "master",
            "medium_scan": stock.cryo_lot.code,
            "medium_quantity": "5",
            "medium_unit": "mL",
            "box": stock.box.pk,
            "freezer": stock.freezer.pk,
        },
    )
    assert frozen.status_code == 302 and frozen["Location"] == f"/storage/boxes/{stock.box.pk}/"
    client.get("/")
    with django_assert_num_queries(8):
        grid = client.get(frozen["Location"])
    body = _text(grid)
    assert "10 occupied" in body and "90 free" in body
    vial = Vial.objects.order_by("code").first()
    assert f"/storage/vials/{vial.pk}/" in body

    mismatch = client.post(
        f"/storage/vials/{vial.pk}/do/thaw/",
        {
            "thaw-scanned_code": "NOT-THIS",
            "thaw-run_code": sr.run.code,
            "thaw-vessel_kind": "well_6",
        },
    )
    assert mismatch.status_code == 422 and "check the vial in your hand" in _text(mismatch)
    thawed = client.post(
        f"/storage/vials/{vial.pk}/do/thaw/",
        {
            "thaw-scanned_code": vial.code,
            "thaw-run_code": sr.run.code,
            "thaw-vessel_kind": "well_6",
        },
    )
    assert thawed.status_code == 302
    vial.refresh_from_db()
    assert vial.status == "thawed"
    assert "9 occupied" in _text(client.get(f"/storage/boxes/{stock.box.pk}/"))
    assert (
        client.get(f"/storage/scan/?code={vial.code}")["Location"] == f"/storage/vials/{vial.pk}/"
    )


def test_the_box_page_costs_the_same_queries_for_few_and_many_vials(
    client, stock, technician, django_assert_num_queries
):
    sr = f.working_stage(stock.protocol, technician)
    client.force_login(technician)
    client.get("/")
    for count in (2, 60):
        f_count = Vial.objects.count()
        vials_freeze(
            stage_run=sr,
            actor=technician,
            count=count - f_count,
            cells_per_vial=1e6,
            contents="x",
            medium=LotUse(stock.cryo_lot, quantity=1),
            box=stock.box,
        )
        with django_assert_num_queries(8):
            assert client.get(f"/storage/boxes/{stock.box.pk}/").status_code == 200


def test_an_inventory_csv_with_bad_rows_lists_them_and_imports_nothing(client, lab, reviewer):
    DonorFactory(lab=lab, code="DON-9")
    client.force_login(reviewer)
    data = (
        b"type,material_code,material_name,kind,unit,lot_number,expiry_date,quantity\n"
        b"material,mtesr,mTeSR,medium,mL,,,\n"
        b"lot,mtesr,,,,L1,2031-01-01,-5\n"
    )
    response = client.post(
        "/inventory/import/", {"file": SimpleUploadedFile("inv.csv", data, "text/csv")}
    )

    assert response.status_code == 422
    body = _text(response)
    assert "1 of 2 rows are invalid; nothing was imported" in body
    assert "<td>3</td><td><code>quantity</code></td><td>must be more than zero</td>" in body
    assert not MaterialLot.objects.exists()


def test_storage_is_set_up_by_reviewers_and_admins_only(client, lab, technician, lab_admin):
    client.force_login(technician)
    refused = client.post(
        "/storage/new/tank/", {"tank-code": "T9", "tank-name": "Tank 9", "tank-kind": "ln2_vapour"}
    )
    assert refused.status_code == 403
    client.force_login(lab_admin)
    made = client.post(
        "/storage/new/tank/", {"tank-code": "T9", "tank-name": "Tank 9", "tank-kind": "ln2_vapour"}
    )
    assert made.status_code == 302
    tank = lab.tanks.get()
    client.post("/storage/new/rack/", {"tank": tank.pk, "rack-code": "R1"})
    rack = tank.racks.get()
    client.post(
        "/storage/new/box/",
        {"box-rack": rack.pk, "box-code": "B1", "box-rows": 9, "box-columns": 9},
    )
    assert rack.boxes.get().positions.count() == 81
