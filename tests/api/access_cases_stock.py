"""The access-matrix cases of materials, equipment, storage, the cell bank and the inventory
import (``test_access_matrix`` adds them to its table; the rules are the table's).

Each world gets its stock once (``stock_of``): a protocol with a bill of materials, released
lots, equipment in calibration and a 10×10 box, received by the world's worker and released by a
reviewer of the lab made for it.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from protocol_tracker.cellbank import services as bank
from protocol_tracker.cellbank.models import Vial
from protocol_tracker.equipment import services as equipment_services
from protocol_tracker.inventory.models import Position
from protocol_tracker.inventory.services import position_reserve
from protocol_tracker.usage.services import LotUse
from tests import builders as f
from tests.builders.stock import COA, lot, stocked
from tests.factories import PASSWORD, MembershipFactory, UserFactory

MANAGE = frozenset({"reviewer", "lab_admin"})


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def stock_of(w):
    if "stock" not in w.extra:
        reviewer = UserFactory(username=f"stock-reviewer-{w.lab.slug}")
        MembershipFactory(user=reviewer, lab=w.lab, role="reviewer")
        w.extra["stock"] = stocked(w.lab, w.worker, reviewer, protocol_code="bom-matrix")
    return w.extra["stock"]


def _quarantined(w):
    return lot(stock_of(w).medium, w.worker, lot_number=_unique("Q"))


def _released(w):
    s = stock_of(w)
    return lot(s.medium, w.worker, s.reviewer, lot_number=_unique("R"))


def _bom_stage(w):
    return f.working_stage(stock_of(w).protocol, w.worker)


def _vial(w):
    s = stock_of(w)
    freeze = bank.vials_freeze(
        stage_run=_bom_stage(w), actor=w.worker, count=1, cells_per_vial=1e6,
        contents="iPSC", medium=LotUse(s.cryo_lot, quantity=1), box=s.box,
    )  # fmt: skip
    return Vial.objects.get(freeze=freeze)


def _standing_vial(w):
    if "vial" not in w.extra:
        w.extra["vial"] = _vial(w)
    return w.extra["vial"]


def _reserved_vial(w):
    return bank.vial_reserve(vial=_vial(w), reserved_for="next thaw", actor=w.worker)


def _free_position(w):
    s = stock_of(w)
    return (
        Position.objects.filter(box=s.box, reserved_at__isnull=True)
        .exclude(vials__status__in=["stored", "reserved"])
        .order_by("-row", "-column")
        .first()
    )


def _reserved_position(w):
    return position_reserve(position=_free_position(w), reserved_for="planned", actor=w.worker)


def _fresh_equipment(w):
    return equipment_services.equipment_create(
        lab=w.lab, code=_unique("EQ"), name="Incubator", kind="incubator",
        actor=stock_of(w).reviewer,
    )  # fmt: skip


def _vessel(w):
    return bank.vessel_seed(run=w.run, actor=w.worker, kind="t75")


def _standing_vessel(w):
    if "vessel" not in w.extra:
        w.extra["vessel"] = _vessel(w)
    return w.extra["vessel"]


def _coa():
    return SimpleUploadedFile("coa.pdf", COA, content_type="application/pdf")


def _csv(w, _):
    code = _unique("m").lower()
    data = f"type,material_code,material_name,kind,unit\nmaterial,{code},X,medium,mL\n".encode()
    return {"lab": w.lab.pk, "file": SimpleUploadedFile("inventory.csv", data, "text/csv")}


def stock_cases(Case, *, ALL, WORK, REVIEW):
    """The cases, built with the table's ``Case`` and role sets."""
    tomorrow = (timezone.now() + timedelta(days=400)).date().isoformat()
    return [
        Case("materials list", "GET", "/api/v1/materials/", ALL, 200,
             standing=stock_of, present=lambda w: stock_of(w).medium.pk),
        Case("materials retrieve", "GET", "/api/v1/materials/{id}/", ALL, 200,
             target=lambda w: stock_of(w).medium),
        Case("materials create", "POST", "/api/v1/materials/", MANAGE, 201,
             body=lambda w, _: {"lab": w.lab.pk, "code": _unique("m").lower(), "name": "M",
                                "kind": "medium", "unit": "mL"},
             ref_field="lab"),
        Case("material-lots list", "GET", "/api/v1/material-lots/", ALL, 200,
             standing=stock_of, present=lambda w: stock_of(w).medium_lot.pk),
        Case("material-lots retrieve", "GET", "/api/v1/material-lots/{id}/", ALL, 200,
             target=lambda w: stock_of(w).medium_lot),
        Case("material-lots create", "POST", "/api/v1/material-lots/", WORK, 201,
             standing=lambda w: stock_of(w).medium,
             body=lambda w, m: {"material": m.pk, "lot_number": _unique("L"),
                                "expiry_date": tomorrow, "quantity": "100"},
             ref_field="material"),
        Case("material-lots release", "POST", "/api/v1/material-lots/{id}/release/", REVIEW, 200,
             target=lambda w: stock_of(w).medium_lot, fresh=_quarantined,
             body=lambda w, _: {"password": PASSWORD}),
        Case("material-lots recall", "POST", "/api/v1/material-lots/{id}/recall/", REVIEW, 200,
             target=lambda w: stock_of(w).medium_lot, fresh=_released,
             body=lambda w, _: {"password": PASSWORD, "reason": "supplier notice"}),
        Case("material-lots coa", "POST", "/api/v1/material-lots/{id}/coa/", WORK, 200,
             target=lambda w: stock_of(w).medium_lot, fresh=_quarantined,
             body=lambda w, _: {"coa": _coa()}, multipart=True),
        Case("material-lots usage", "GET", "/api/v1/material-lots/{id}/usage/", ALL, 200,
             target=lambda w: stock_of(w).medium_lot),
        Case("equipment list", "GET", "/api/v1/equipment/", ALL, 200,
             standing=stock_of, present=lambda w: stock_of(w).cabinet.pk),
        Case("equipment retrieve", "GET", "/api/v1/equipment/{id}/", ALL, 200,
             target=lambda w: stock_of(w).cabinet),
        Case("equipment create", "POST", "/api/v1/equipment/", MANAGE, 201,
             body=lambda w, _: {"lab": w.lab.pk, "code": _unique("EQ"), "name": "Centrifuge",
                                "kind": "centrifuge"},
             ref_field="lab"),
        Case("equipment calibrations", "GET", "/api/v1/equipment/{id}/calibrations/", ALL, 200,
             target=lambda w: stock_of(w).cabinet),
        Case("equipment calibrate", "POST", "/api/v1/equipment/{id}/calibrations/", WORK, 201,
             target=lambda w: stock_of(w).cabinet,
             body=lambda w, _: {"performed_at": timezone.now().isoformat(),
                                "performed_by": "Vendor", "passed": True}),
        Case("equipment maintenance", "POST", "/api/v1/equipment/{id}/maintenance/", WORK, 201,
             target=lambda w: stock_of(w).cabinet,
             body=lambda w, _: {"performed_at": timezone.now().isoformat(),
                                "performed_by": "Vendor", "kind": "preventive",
                                "next_due": tomorrow}),
        Case("equipment status", "POST", "/api/v1/equipment/{id}/status/", WORK, 200,
             target=lambda w: stock_of(w).cabinet, fresh=_fresh_equipment,
             body=lambda w, _: {"status": "out_of_service", "reason": "alarm"}),
        Case("stage-runs usage", "GET", "/api/v1/stage-runs/{id}/usage/", ALL, 200,
             target=lambda w: w.stage_run),
        Case("stage-runs record usage", "POST", "/api/v1/stage-runs/{id}/usage/", WORK, 201,
             target=lambda w: _bom_stage(w), fresh=_bom_stage,
             body=lambda w, _: {"lots": [{"lot": stock_of(w).medium_lot.pk, "quantity": 1}]}),
        Case("storage tanks list", "GET", "/api/v1/storage/tanks/", ALL, 200,
             standing=stock_of, present=lambda w: stock_of(w).box.rack.tank_id),
        Case("storage tanks retrieve", "GET", "/api/v1/storage/tanks/{id}/", ALL, 200,
             target=lambda w: stock_of(w).box.rack.tank),
        Case("storage tanks create", "POST", "/api/v1/storage/tanks/", MANAGE, 201,
             body=lambda w, _: {"lab": w.lab.pk, "code": _unique("T"), "name": "Tank",
                                "kind": "ln2_vapour"},
             ref_field="lab"),
        Case("storage tanks racks", "POST", "/api/v1/storage/tanks/{id}/racks/", MANAGE, 201,
             target=lambda w: stock_of(w).box.rack.tank,
             body=lambda w, _: {"code": _unique("R")}),
        Case("storage boxes list", "GET", "/api/v1/storage/boxes/", ALL, 200,
             standing=stock_of, present=lambda w: stock_of(w).box.pk),
        Case("storage boxes retrieve", "GET", "/api/v1/storage/boxes/{id}/", ALL, 200,
             target=lambda w: stock_of(w).box),
        Case("storage boxes map", "GET", "/api/v1/storage/boxes/{id}/map/", ALL, 200,
             target=lambda w: stock_of(w).box),
        Case("storage boxes create", "POST", "/api/v1/storage/boxes/", MANAGE, 201,
             standing=lambda w: stock_of(w).box.rack,
             body=lambda w, rack: {"rack": rack.pk, "code": _unique("B"), "rows": 9,
                                   "columns": 9},
             ref_field="rack"),
        Case("storage positions list", "GET", "/api/v1/storage/positions/", ALL, 200,
             standing=stock_of,
             present=lambda w: Position.objects.filter(box=stock_of(w).box).order_by("-pk")[0].pk),
        Case("storage positions retrieve", "GET", "/api/v1/storage/positions/{id}/", ALL, 200,
             target=lambda w: Position.objects.filter(box=stock_of(w).box).first()),
        Case("storage positions reserve", "POST", "/api/v1/storage/positions/{id}/reserve/",
             WORK, 200, target=_free_position, fresh=_free_position,
             body=lambda w, _: {"reserved_for": "clone 4"}),
        Case("storage positions release", "POST", "/api/v1/storage/positions/{id}/release/",
             WORK, 200, target=_free_position, fresh=_reserved_position),
        Case("vials list", "GET", "/api/v1/vials/", ALL, 200,
             standing=_standing_vial, present=lambda w: _standing_vial(w).pk),
        Case("vials retrieve", "GET", "/api/v1/vials/{id}/", ALL, 200, target=_standing_vial),
        Case("vials freeze", "POST", "/api/v1/vials/freeze/", WORK, 201,
             fresh=_bom_stage, standing=lambda w: w.stage_run,
             body=lambda w, sr: {"stage_run": sr.pk, "count": 1, "cells_per_vial": 1e6,
                                 "contents": "iPSC", "medium_lot": stock_of(w).cryo_lot.pk,
                                 "medium_quantity": "1", "box": stock_of(w).box.pk},
             ref_field="stage_run"),
        Case("vials thaw", "POST", "/api/v1/vials/{id}/thaw/", WORK, 201,
             target=_standing_vial, fresh=_vial,
             body=lambda w, v: {"scanned_code": v.code, "run": v.run_id,
                                "vessel_kind": "well_6"}),
        Case("vials check-out", "POST", "/api/v1/vials/{id}/check-out/", WORK, 200,
             target=_standing_vial, fresh=_vial,
             body=lambda w, v: {"scanned_code": v.code, "status": "discarded",
                                "reason": "label damaged"}),
        Case("vials transfer", "POST", "/api/v1/vials/{id}/transfer/", WORK, 200,
             target=_standing_vial, fresh=_vial,
             body=lambda w, v: {"scanned_code": v.code, "to_position": _free_position(w).pk}),
        Case("vials reserve", "POST", "/api/v1/vials/{id}/reserve/", WORK, 200,
             target=_standing_vial, fresh=_vial, body=lambda w, _: {"reserved_for": "run X"}),
        Case("vials unreserve", "POST", "/api/v1/vials/{id}/unreserve/", WORK, 200,
             target=_standing_vial, fresh=_reserved_vial),
        Case("vessels list", "GET", "/api/v1/vessels/", ALL, 200,
             standing=_standing_vessel, present=lambda w: _standing_vessel(w).pk),
        Case("vessels retrieve", "GET", "/api/v1/vessels/{id}/", ALL, 200,
             target=lambda w: _standing_vessel(w)),
        Case("vessels create", "POST", "/api/v1/vessels/", WORK, 201,
             body=lambda w, _: {"run": w.run.pk, "kind": "t25"}, ref_field="run"),
        Case("vessels split", "POST", "/api/v1/vessels/{id}/split/", WORK, 201,
             target=lambda w: _standing_vessel(w), fresh=_vessel,
             body=lambda w, _: {"ratio": 2}),
        Case("vessels observe", "POST", "/api/v1/vessels/{id}/observe/", WORK, 201,
             target=lambda w: _standing_vessel(w), fresh=_vessel,
             body=lambda w, _: {"confluence_percent": 60}),
        Case("inventory import", "POST", "/api/v1/inventory/import/", MANAGE, 201,
             body=_csv, ref_field="lab", multipart=True),
    ]  # fmt: skip
