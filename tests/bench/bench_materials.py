"""Materials and the cell bank: "where used" of a lot drawn by 10,000 stage runs, the box map of a
10×10 box among 100,000 vials, and the import of a 10,000-row inventory CSV.

The data behind the first two is bulk-copied from rows the services made (a lot drawn once, a
freeze into one box): the same shape as real use, made fast. The import goes through the
service, whole.
"""

from __future__ import annotations

import csv
import io
import statistics
import time

from django.db import connection, reset_queries
from django.test.utils import CaptureQueriesContext

ROUNDS = 20


def _people(slug: str):
    from tests.factories import LabFactory, MembershipFactory, UserFactory

    lab = LabFactory(name=f"Bench lab {slug}", slug=slug, timezone="Asia/Shanghai")
    technician = UserFactory(username=f"{slug}-tech")
    reviewer = UserFactory(username=f"{slug}-reviewer")
    admin = UserFactory(username=f"{slug}-admin")
    MembershipFactory(user=technician, lab=lab, role="technician")
    MembershipFactory(user=reviewer, lab=lab, role="reviewer")
    MembershipFactory(user=admin, lab=lab, role="lab_admin")
    return lab, technician, reviewer, admin


def _timed(call) -> tuple[float, int]:
    """(p50 seconds, queries of one call) over ROUNDS calls."""
    with CaptureQueriesContext(connection) as ctx:
        call()
    queries = len(ctx.captured_queries)
    times = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return statistics.median(times), queries


def _clone(obj, **changes):
    values = {f.attname: getattr(obj, f.attname) for f in type(obj)._meta.concrete_fields}
    values.pop("id")
    values.update(changes)
    return type(obj)(**values)


def _where_used(lab, technician, reviewer) -> dict:
    from protocol_tracker.qc.services import stage_complete
    from protocol_tracker.runs.models import Run, StageRun
    from protocol_tracker.usage.models import LotConsumption
    from protocol_tracker.usage.selectors import WHERE_USED_COLUMNS, lot_where_used
    from protocol_tracker.usage.services import LotUse
    from tests.builders import record, working_stage
    from tests.builders.stock import stocked

    stock = stocked(lab, technician, reviewer)
    sr = working_stage(stock.protocol, technician)
    record(sr, technician)
    stage_complete(
        stage_run=sr,
        actor=technician,
        lots=[LotUse(stock.medium_lot, quantity="0.001"), LotUse(stock.matrix_lot, quantity=1)],
        equipment=[stock.cabinet],
    )
    template = LotConsumption.objects.get(lot=stock.medium_lot)
    stage_run = StageRun.objects.get(pk=template.stage_run_id)
    # 10,000 stage runs (of 10,000 runs) that drew the lot.
    runs = [_clone(stage_run.run, code=f"WU-{i:05d}") for i in range(9_999)]
    Run.objects.bulk_create(runs, batch_size=1000)
    stage_runs = StageRun.objects.bulk_create(
        [_clone(stage_run, run_id=run.pk) for run in runs], batch_size=1000
    )
    LotConsumption.objects.bulk_create(
        [_clone(template, run_id=s.run_id, stage_run_id=s.pk) for s in stage_runs],
        batch_size=2000,
    )
    assert LotConsumption.objects.filter(lot=stock.medium_lot).count() == 10_000
    seconds, queries = _timed(lambda: lot_where_used(lot=stock.medium_lot))
    # The floor: the same SQL, executed and fetched as tuples, nothing built.
    sql, params = (
        LotConsumption.objects.for_lab(lab)
        .filter(lot=stock.medium_lot)
        .order_by("consumed_at", "id")
        .values(*WHERE_USED_COLUMNS)
        .query.sql_with_params()
    )

    def raw():
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall()

    floor, _ = _timed(raw)
    return {
        "where used, lot drawn by 10,000 stage runs": {
            "value": seconds * 1000,
            "unit": "ms",
            "target": "< 250 ms (p50)",
        },
        "where used vs its raw SQL fetched": {
            "value": seconds / floor,
            "unit": "x",
            "target": "< 3x",
        },
        "where used queries": {"value": queries, "unit": "queries", "target": "1"},
    }


def _box_map(lab, technician, reviewer) -> dict:
    from protocol_tracker.cellbank.models import Vial
    from protocol_tracker.cellbank.selectors import box_map
    from protocol_tracker.cellbank.services import vials_freeze
    from protocol_tracker.inventory.models import Box, Position
    from protocol_tracker.usage.services import LotUse
    from tests.builders import working_stage
    from tests.builders.stock import stocked

    stock = stocked(lab, technician, reviewer)
    sr = working_stage(stock.protocol, technician)
    freeze = vials_freeze(
        stage_run=sr,
        actor=technician,
        count=100,
        cells_per_vial=1e6,
        contents="iPSC",
        medium=LotUse(stock.cryo_lot, quantity=1),
        box=stock.box,
    )
    template_vial = freeze.vials.order_by("pk").first()
    # 999 more full 10×10 boxes: 100,000 vials in the lab.
    boxes = Box.objects.bulk_create(
        [_clone(stock.box, code=f"BX{i:04d}") for i in range(999)], batch_size=500
    )
    positions = Position.objects.bulk_create(
        [
            Position(lab_id=lab.pk, box_id=b.pk, row=r, column=c)
            for b in boxes
            for r in range(1, 11)
            for c in range(1, 11)
        ],
        batch_size=5000,
    )
    Vial.objects.bulk_create(
        [
            _clone(template_vial, code=f"BENCH-V{i:06d}", position_id=p.pk)
            for i, p in enumerate(positions)
        ],
        batch_size=5000,
    )
    assert Vial.objects.filter(lab=lab).count() == 100_000
    box = Box.objects.get(pk=stock.box.pk)
    seconds, queries = _timed(lambda: box_map(box=box))
    return {
        "box map 10x10 among 100,000 vials": {
            "value": seconds * 1000,
            "unit": "ms",
            "target": "< 50 ms (p50)",
        },
        "box map queries": {"value": queries, "unit": "queries", "target": "2"},
    }


def _import(lab, reviewer) -> dict:
    from protocol_tracker.cellbank.selectors import EXPORT_COLUMNS
    from protocol_tracker.cellbank.services import inventory_import
    from tests.factories import DonorFactory

    DonorFactory(lab=lab, code="DON-IMP")
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=EXPORT_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for m in range(100):
        writer.writerow(
            {
                "type": "material",
                "material_code": f"m{m:03d}",
                "material_name": f"Material {m}",
                "kind": "medium",
                "unit": "mL",
            }
        )
    for n in range(900):
        writer.writerow(
            {
                "type": "lot",
                "material_code": f"m{n % 100:03d}",
                "lot_number": f"L{n:04d}",
                "expiry_date": "2031-01-31",
                "quantity": "500",
            }
        )
    for v in range(9_000):
        box, slot = divmod(v, 100)
        writer.writerow(
            {
                "type": "vial",
                "vial_code": f"IMP-{v:05d}",
                "donor_code": "DON-IMP",
                "passage": 10,
                "cells_per_vial": "1e6",
                "contents": "iPSC",
                "bank": "working",
                "tank": "IMP",
                "rack": f"R{box // 10}",
                "box": f"B{box:02d}",
                "box_rows": 10,
                "box_columns": 10,
                "position": f"{'ABCDEFGHIJ'[slot // 10]}{slot % 10 + 1}",
            }
        )
    data = out.getvalue().encode()
    started = time.perf_counter()
    result = inventory_import(lab=lab, data=data, actor=reviewer)
    seconds = time.perf_counter() - started
    assert (result.materials, result.lots, result.vials) == (100, 900, 9_000)
    return {
        "inventory import, 10,000 CSV rows": {"value": seconds, "unit": "s", "target": "< 30 s"},
        "inventory import rate": {"value": 10_000 / seconds, "unit": "rows/s", "target": ""},
    }


def run() -> dict:
    from django.test import override_settings

    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        figures = {}
        lab, technician, reviewer, _ = _people("wu-bench")
        figures.update(_where_used(lab, technician, reviewer))
        lab, technician, reviewer, _ = _people("box-bench")
        figures.update(_box_map(lab, technician, reviewer))
        lab, _, _, admin = _people("import-bench")
        figures.update(_import(lab, admin))
        reset_queries()
    return figures
