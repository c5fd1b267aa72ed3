"""The materials, equipment and cell-bank API end to end: the gates answer with problem details
(409 naming the rule), an instrument posts by checkpoint key until its calibration lapses, a
recall flags the using runs, the box map and where-used read back, the export is CSV or Excel
of one's own lab only."""

from __future__ import annotations

import io
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone
from openpyxl import load_workbook

from protocol_tracker.equipment import services as equipment_services
from protocol_tracker.equipment.models import Equipment
from protocol_tracker.materials.models import LotStatus, MaterialLot
from protocol_tracker.runs.models import Run
from tests import builders as f
from tests.api.conftest import client_for
from tests.builders.stock import stocked
from tests.factories import PASSWORD, MembershipFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def stock(lab, technician, reviewer):
    return stocked(lab, technician, reviewer)


def _problem(response, status):
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    return response.json()


def _working(stock):
    sr = f.working_stage(stock.protocol, stock.technician)
    f.record(sr, stock.technician)
    return sr


def test_an_expired_lot_or_a_lapsed_cabinet_refuses_the_completion_with_409(api, stock):
    person = api(stock.technician)
    sr = _working(stock)
    MaterialLot.objects.filter(pk=stock.medium_lot.pk).update(status=LotStatus.EXPIRED)
    body = {
        "note": "done",
        "lots": [{"lot": stock.medium_lot.pk}, {"lot": stock.matrix_lot.pk, "quantity": "2.5"}],
        "equipment": [stock.cabinet.pk],
    }

    problem = _problem(person.post(f"/api/v1/stage-runs/{sr.pk}/complete/", body), 409)
    assert problem["type"] == "urn:problem:protocol-tracker:lot_expired"
    assert problem["errors"][0]["field"] == "lots[0]"
    assert "mTeSR Plus lot MT-001 expired on" in problem["detail"]

    MaterialLot.objects.filter(pk=stock.medium_lot.pk).update(status=LotStatus.RELEASED)
    lapsed = {**body, "equipment": [stock.lapsed_cabinet.pk]}
    problem = _problem(person.post(f"/api/v1/stage-runs/{sr.pk}/complete/", lapsed), 409)
    assert problem["type"] == "urn:problem:protocol-tracker:calibration_lapsed"
    assert "BSC-2 (BSC-2) is out of calibration" in problem["detail"]

    done = person.post(f"/api/v1/stage-runs/{sr.pk}/complete/", body)
    assert (done.status_code, done.json()["status"]) == (200, "completed")
    usage = person.get(f"/api/v1/stage-runs/{sr.pk}/usage/").json()
    assert [(c["lot_code"], c["quantity"]) for c in usage["consumptions"]] == [
        ("mtesr-MT-001", "50.000000"),
        ("matrigel-MG-001", "2.500000"),
    ]
    assert [u["code"] for u in usage["equipment_uses"]] == ["BSC-1"]


def test_a_bench_task_is_done_through_the_api_only_with_its_lot(api, stock):
    person = api(stock.technician)
    sr = f.working_stage(stock.protocol, stock.technician)
    task = sr.tasks.order_by("due_at").first()

    problem = _problem(person.post(f"/api/v1/task-occurrences/{task.pk}/done/", {}), 409)
    assert problem["type"] == "urn:problem:protocol-tracker:materials_missing"
    done = person.post(
        f"/api/v1/task-occurrences/{task.pk}/done/",
        {"note": "fed", "lots": [{"lot": stock.medium_lot.pk}]},
    )
    assert done.status_code == 200 and done.json()["done_at"]


def test_an_instrument_posts_by_checkpoint_key_until_its_calibration_lapses(
    api, lab, lab_admin, technician, world
):
    out = StringIO()
    call_command(
        "create_instrument_token",
        "--lab",
        lab.slug,
        "--name",
        "Countess",
        "--kind",
        "cell_counter",
        "--assays",
        "cell_count,flow_cytometry",
        "--calibration-interval-days",
        "365",
        stdout=out,
        stderr=StringIO(),
    )
    instrument = client_for(out.getvalue().strip())
    equipment = Equipment.objects.get(instrument__name="Countess")
    sr = f.working_stage(world.protocol, world.worker)
    body = {
        "stage_run": sr.pk,
        "checkpoint_key": "viability",
        "value": 93,
        "unit": "%",
        "measured_at": timezone.now().isoformat(),
    }

    refused = _problem(instrument.post("/api/v1/qc-results/", body), 409)
    assert refused["type"] == "urn:problem:protocol-tracker:calibration_lapsed"
    assert refused["detail"] == (
        "results of instrument Countess are refused: Countess (Countess) has no passed "
        "calibration on record; record a passed calibration to post again"
    )
    upload = instrument.post(
        "/api/v1/instrument-uploads/",
        {
            "file": f.named_file(f.fcs_bytes(), "s.fcs"),
            "stage_run": sr.pk,
            "checkpoint_key": "events",
        },
        format="multipart",
    )
    assert _problem(upload, 409)["code"] == "calibration_lapsed"

    equipment_services.calibration_record_add(
        equipment=equipment,
        performed_at=timezone.now() - timedelta(hours=1),
        performed_by="Thermo",
        passed=True,
        actor=technician,
    )
    posted = instrument.post("/api/v1/qc-results/", body, HTTP_IDEMPOTENCY_KEY="k-1")
    assert posted.status_code == 201, posted.content
    assert posted.json()["checkpoint_key"] == "viability"
    filed = instrument.post(
        "/api/v1/instrument-uploads/",
        {
            "file": f.named_file(f.fcs_bytes(events=2400), "s2.fcs"),
            "stage_run": sr.pk,
            "checkpoint_key": "events",
        },
        format="multipart",
    )
    assert filed.status_code == 201, filed.content
    bulk = instrument.post(
        "/api/v1/qc-results/bulk/",
        {"results": [{**body, "checkpoint_key": "nope"}]},
    )
    problem = _problem(bulk, 400)
    assert problem["rows"] == [
        {
            "index": 0,
            "field": "checkpoint_key",
            "message": "no checkpoint 'nope' in this stage run's stage",
        }
    ]


def test_a_recall_through_the_api_flags_the_runs_and_lists_them(api, stock, reviewer2):
    person = api(stock.technician)
    runs = []
    for _ in range(2):
        sr = _working(stock)
        person.post(
            f"/api/v1/stage-runs/{sr.pk}/complete/",
            {
                "lots": [{"lot": stock.medium_lot.pk}, {"lot": stock.matrix_lot.pk, "quantity": 1}],
                "equipment": [stock.cabinet.pk],
            },
        )
        runs.append(sr.run)

    response = api(reviewer2).post(
        f"/api/v1/material-lots/{stock.medium_lot.pk}/recall/",
        {"password": PASSWORD, "reason": "supplier recall notice"},
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["runs"] == 2 and {u["run_code"] for u in body["uses"]} == {r.code for r in runs}
    assert all(u["run_flagged"] for u in body["uses"])
    assert Run.objects.filter(flagged=True).count() == 2


def test_freeze_map_and_thaw_through_the_api(api, stock):
    person = api(stock.technician)
    sr = f.working_stage(stock.protocol, stock.technician)

    frozen = person.post(
        "/api/v1/vials/freeze/",
        {
            "stage_run": sr.pk,
            "count": 10,
            "cells_per_vial": 1e6,
            "contents": "iPSC clone 1",
            "bank": "master",
            "medium_lot": stock.cryo_lot.pk,
            "medium_quantity": "5",
            "box": stock.box.pk,
            "freezer": stock.freezer.pk,
        },
        HTTP_IDEMPOTENCY_KEY="freeze-1",
    )
    again = person.post(
        "/api/v1/vials/freeze/",
        {
            "stage_run": sr.pk,
            "count": 10,
            "cells_per_vial": 1e6,
            "contents": "iPSC clone 1",
            "bank": "master",
            "medium_lot": stock.cryo_lot.pk,
            "medium_quantity": "5",
            "box": stock.box.pk,
            "freezer": stock.freezer.pk,
        },
        HTTP_IDEMPOTENCY_KEY="freeze-1",
    )

    assert frozen.status_code == 201, frozen.content
    assert again.json() == frozen.json() and again["Idempotent-Replayed"] == "true"
    vials = frozen.json()["vials"]
    assert [v["location"] for v in vials[:3]] == ["T1/R1/B1/A1", "T1/R1/B1/A2", "T1/R1/B1/A3"]
    grid = person.get(f"/api/v1/storage/boxes/{stock.box.pk}/map/").json()
    assert grid["counts"] == {"free": 90, "reserved": 0, "occupied": 10}
    assert grid["rows"][0][0]["vial_code"] == vials[0]["code"]

    mismatch = person.post(
        f"/api/v1/vials/{vials[0]['id']}/thaw/",
        {"scanned_code": vials[1]["code"], "run": sr.run_id, "vessel_kind": "well_6"},
    )
    assert _problem(mismatch, 409)["code"] == "identity_mismatch"
    thawed = person.post(
        f"/api/v1/vials/{vials[0]['id']}/thaw/",
        {"scanned_code": vials[0]["code"], "run": sr.run_id, "vessel_kind": "well_6"},
    )
    assert thawed.status_code == 201 and thawed.json()["source_vial"] == vials[0]["id"]
    assert (
        person.get(f"/api/v1/storage/boxes/{stock.box.pk}/map/").json()["counts"]["occupied"] == 9
    )


def test_the_export_is_csv_or_excel_of_ones_own_lab(api, stock, other_lab, other_technician):
    other_reviewer = MembershipFactory(lab=other_lab, role="reviewer").user
    stocked(other_lab, other_technician, other_reviewer, protocol_code="bom-b")
    person = api(stock.technician)

    csv_response = person.get("/api/v1/inventory/export/")
    xlsx_response = person.get("/api/v1/inventory/export/?as=xlsx")
    foreign = person.get(f"/api/v1/inventory/export/?lab={other_lab.pk}")

    assert csv_response.status_code == 200
    assert csv_response["Content-Type"] == "text/csv; charset=utf-8"
    text = csv_response.content.decode("utf-8-sig")
    assert text.splitlines()[0].startswith("type,material_code,material_name")
    assert text.count("\r\nlot,") == 3 and "bom-b" not in text
    sheet = load_workbook(io.BytesIO(xlsx_response.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:3] == ("type", "material_code", "material_name")
    assert [r[0] for r in rows[1:]] == ["material"] * 3 + ["lot"] * 3
    assert _problem(foreign, 400)["errors"][0]["field"] == "lab"
    assert (
        _problem(person.get("/api/v1/inventory/export/?as=pdf"), 400)["errors"][0]["field"] == "as"
    )
