"""Importing an inventory CSV: every row checked first, per-row errors and nothing written when any
row is bad; then materials, lots (into quarantine) and vials in their positions; the export's
rows import back."""

from __future__ import annotations

import csv
import io

import pytest

from protocol_tracker.audit.models import AuditEvent
from protocol_tracker.cellbank.models import Vial, VialMovement
from protocol_tracker.cellbank.selectors import EXPORT_COLUMNS, box_map, inventory_export_rows
from protocol_tracker.cellbank.services import inventory_import
from protocol_tracker.core.errors import NotPermitted, RowErrors, ValidationFailed
from protocol_tracker.inventory.models import Box, Position, Tank
from protocol_tracker.materials.models import LotStatus, Material, MaterialLot
from tests.builders import active_run, api_protocol
from tests.factories import DonorFactory

pytestmark = pytest.mark.django_db


def _csv(rows: list[dict]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=EXPORT_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(row)
    return out.getvalue().encode()


def _material(code="mtesr", **extra):
    return {"type": "material", "material_code": code, "material_name": "mTeSR Plus",
            "kind": "medium", "unit": "mL", **extra}  # fmt: skip


def _lot(code="mtesr", number="L1", **extra):
    return {"type": "lot", "material_code": code, "lot_number": number,
            "expiry_date": "2031-01-31", "quantity": "500", **extra}  # fmt: skip


def _vial(code="OLD-V001", position="A1", **extra):
    return {"type": "vial", "vial_code": code, "donor_code": "DON-9", "passage": "12",
            "cells_per_vial": "1e6", "contents": "iPSC clone 2", "bank": "master",
            "tank": "T9", "rack": "R1", "box": "B1", "box_rows": "9", "box_columns": "9",
            "position": position, **extra}  # fmt: skip


def _counts():
    return (Material.objects.count(), MaterialLot.objects.count(), Vial.objects.count(),
            Tank.objects.count(), Box.objects.count(), Position.objects.count(),
            AuditEvent.objects.count())  # fmt: skip


def test_a_good_file_imports_materials_lots_and_vials_in_positions(lab, reviewer):
    DonorFactory(lab=lab, code="DON-9")
    data = _csv([_material(), _lot(), _vial(), _vial("OLD-V002", "I9")])

    result = inventory_import(lab=lab, data=data, actor=reviewer)

    assert (result.materials, result.lots, result.vials, result.tanks, result.boxes) == (
        1, 1, 2, 1, 1,
    )  # fmt: skip
    lot = MaterialLot.objects.get()
    assert (lot.status, lot.code, lot.quantity_remaining) == (LotStatus.QUARANTINE, "mtesr-L1", 500)
    box = Box.objects.get()
    assert (box.rows, box.columns) == (9, 9)
    grid = box_map(box=box)
    assert grid.counts == {"free": 79, "reserved": 0, "occupied": 2}
    assert grid.rows[8][8].vial.code == "OLD-V002"
    assert VialMovement.objects.filter(kind="import").count() == 2
    assert AuditEvent.objects.filter(action="vial.import").count() == 2


def test_any_bad_row_refuses_the_whole_file_with_every_rows_problem(lab, reviewer, other_lab):
    DonorFactory(lab=lab, code="DON-9")
    DonorFactory(lab=other_lab, code="DON-X")  # another lab's donor is not this lab's
    protocol = api_protocol(lab)
    run = active_run(protocol, reviewer)
    rows = [
        _material(),                                            # 2: fine
        _material(kind="soup"),                                 # 3: bad kind, duplicate code
        _lot(number="L1"),                                      # 4: fine
        _lot(number="L1"),                                      # 5: twice in the file
        _lot(number="L2", quantity="-3"),                       # 6: negative quantity
        _lot(number="L3", expiry_date="2020-01-01"),            # 7: expired
        _lot(code="nope", number="L4"),                         # 8: unknown material
        _lot(number="L5", unit="furlongs"),                     # 9: unknown unit
        _vial(),                                                # 10: fine
        _vial("OLD-V002", "A1"),                                # 11: same position
        _vial("OLD-V003", "Z99"),                               # 12: not a position
        _vial("OLD-V004", "J1"),                                # 13: outside a 9×9 box
        _vial("OLD-V005", "B1", donor_code="DON-X"),            # 14: donor of another lab
        _vial("OLD-V006", "B2", run_code=run.code),             # 15: run of another donor
        _vial("OLD-V007", "B3", cells_per_vial="nan"),          # 16: not a number in range
        {"type": "vessel"},                                     # 17: unknown type
    ]  # fmt: skip
    before = _counts()

    with pytest.raises(RowErrors) as exc:
        inventory_import(lab=lab, data=_csv(rows), actor=reviewer)

    problems = {(r["index"], r["field"]) for r in exc.value.rows}
    assert problems == {
        (3, "material_code"),
        (5, "lot_number"),
        (6, "quantity"),
        (7, "expiry_date"),
        (8, "material_code"),
        (9, "unit"),
        (11, "position"),
        (12, "position"),
        (13, "position"),
        (14, "donor_code"),
        (15, "run_code"),
        (16, "cells_per_vial"),
        (17, "type"),
    }
    assert exc.value.message == "13 of 16 rows are invalid; nothing was imported"
    assert _counts() == before


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "the file is empty"),
        (b"\xff\xfe\x00bad", "not UTF-8"),
        (b"name,lot\nx,y\n", "a 'type' column"),
        (b"type,colour\nlot,red\n", "unknown column(s): colour"),
        (b"type\n", "no rows"),
    ],
)
def test_malformed_files_are_refused(lab, reviewer, data, message):
    with pytest.raises(ValidationFailed) as exc:
        inventory_import(lab=lab, data=data, actor=reviewer)

    assert message in exc.value.message
    assert _counts() == (0, 0, 0, 0, 0, 0, 0)


def test_a_technician_may_not_import(lab, technician):
    with pytest.raises(NotPermitted):
        inventory_import(lab=lab, data=_csv([_material()]), actor=technician)


def test_the_export_imports_back_into_another_lab(lab, other_lab, reviewer, other_reviewer):
    DonorFactory(lab=lab, code="DON-9")
    DonorFactory(lab=other_lab, code="DON-9")
    inventory_import(lab=lab, data=_csv([_material(), _lot(), _vial()]), actor=reviewer)

    rows = inventory_export_rows(lab=lab)

    assert [r["type"] for r in rows] == ["material", "lot", "vial"]
    assert rows[2]["position"] == "A1" and rows[2]["tank"] == "T9"
    result = inventory_import(lab=other_lab, data=_csv(rows), actor=other_reviewer)
    assert (result.materials, result.lots, result.vials) == (1, 1, 1)
