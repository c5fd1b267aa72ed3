"""The web access-matrix rows of the materials, equipment and storage screens
(``test_access_matrix`` adds them to its tables; the rules are its rules).

The scenario's lab gets its stock once (``stock_for``), including an instrument, a frozen vial
and a vessel.
"""

from __future__ import annotations

from protocol_tracker.cellbank import services as bank
from protocol_tracker.equipment.services import instrument_register
from protocol_tracker.usage.services import LotUse
from tests.builders.stock import stocked
from tests.factories import MembershipFactory, UserFactory

ROLES = ("technician", "reviewer", "lab_admin", "viewer", "clinician")
ALL = frozenset(ROLES)
WORK = frozenset({"technician", "reviewer", "lab_admin"})
REVIEW = frozenset({"reviewer"})
MANAGE = frozenset({"reviewer", "lab_admin"})


def stock_for(s):
    cached = getattr(s, "_stock", None)
    if cached is not None:
        return cached
    lab = s.run.lab
    technician = s.run.created_by
    reviewer = UserFactory(username=f"stock-web-{lab.slug}")
    MembershipFactory(user=reviewer, lab=lab, role="reviewer")
    stock = stocked(lab, technician, reviewer, protocol_code="bom-web")
    freeze = bank.vials_freeze(
        stage_run=s.stage_run, actor=technician, count=1, cells_per_vial=1e6,
        contents="iPSC", medium=LotUse(stock.cryo_lot, quantity=1), box=stock.box,
    )  # fmt: skip
    stock.extra["vial"] = freeze.vials.get()
    stock.extra["vessel"] = bank.vessel_seed(run=s.run, actor=technician, kind="t25")
    instrument = instrument_register(lab=lab, name="Counter-W", kind="cell_counter",
                                     allowed_assays=[], actor=None)  # fmt: skip
    stock.extra["instrument"] = instrument.equipment
    s._stock = stock
    return stock


def _lot(s):
    return stock_for(s).medium_lot.pk


OBJECT_VIEWS = [
    ("lot", "get", lambda s: f"/materials/lots/{_lot(s)}/", ALL, 200),
    ("lot_coa", "get", lambda s: f"/materials/lots/{_lot(s)}/coa/", ALL, 200),
    ("lot_release", "post", lambda s: f"/materials/lots/{_lot(s)}/do/release/", REVIEW, 422),
    ("lot_recall", "post", lambda s: f"/materials/lots/{_lot(s)}/do/recall/", REVIEW, 422),
    ("lot_consumed", "post", lambda s: f"/materials/lots/{_lot(s)}/do/consumed/", WORK, 422),
    ("equipment_detail", "get", lambda s: f"/equipment/{stock_for(s).cabinet.pk}/", ALL, 200),
    ("equipment_calibrate", "post",
     lambda s: f"/equipment/{stock_for(s).cabinet.pk}/do/calibrate/", WORK, 422),
    ("equipment_assays", "post",
     lambda s: f"/equipment/{stock_for(s).extra['instrument'].pk}/do/assays/", MANAGE, 302),
    ("stage_materials", "get", lambda s: f"/stages/{s.stage_run.pk}/materials/", WORK, 200),
    ("stage_materials_post", "post", lambda s: f"/stages/{s.stage_run.pk}/materials/", WORK, 422),
    ("task_record", "get", lambda s: f"/tasks/{s.task.pk}/record/", WORK, 200),
    ("run_freeze", "get", lambda s: f"/runs/{s.run.pk}/freeze/", WORK, 200),
    ("box", "get", lambda s: f"/storage/boxes/{stock_for(s).box.pk}/", ALL, 200),
    ("vial", "get", lambda s: f"/storage/vials/{stock_for(s).extra['vial'].pk}/", ALL, 200),
    ("vial_thaw", "post",
     lambda s: f"/storage/vials/{stock_for(s).extra['vial'].pk}/do/thaw/", WORK, 422),
    ("vessel", "get", lambda s: f"/storage/vessels/{stock_for(s).extra['vessel'].pk}/", ALL, 200),
]  # fmt: skip

LAB_VIEWS = [
    ("materials", "/materials/", ALL),
    ("material_new", "/materials/new/", MANAGE),
    ("lot_receive", "/materials/lots/receive/", WORK),
    ("equipment", "/equipment/", ALL),
    ("equipment_new", "/equipment/new/", MANAGE),
    ("instrument_new", "/equipment/instruments/new/", MANAGE),
    ("storage", "/storage/", ALL),
    ("inventory_import", "/inventory/import/", MANAGE),
    ("inventory_export", "/inventory/export.csv", ALL),
]
