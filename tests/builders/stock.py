"""A stocked lab built through the real services: a protocol with bills of materials, materials
with released lots, equipment in calibration (and one lapsed), a tank with a 10×10 box.

``stocked(lab, technician, reviewer)`` gives a :class:`Stock`; the technician receives the lots
and the reviewer releases them (four eyes).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from django.utils import timezone

from protocol_tracker.cellbank import services as bank
from protocol_tracker.equipment import services as equipment_services
from protocol_tracker.equipment.models import Equipment
from protocol_tracker.inventory import services as storage
from protocol_tracker.inventory.models import Box
from protocol_tracker.materials import services as materials
from protocol_tracker.materials.models import Material, MaterialLot
from protocol_tracker.protocols.models import ProtocolTemplate
from protocol_tracker.protocols.services import protocol_import
from protocol_tracker.usage.services import LotUse
from tests.builders.definitions import checkpoint_definition, stage_definition, task_definition
from tests.builders.runs import working_stage
from tests.factories import PASSWORD

COA = b"%PDF-1.4\n% certificate of analysis (test)\n"
WIDE = {"early": 1000, "late": 1000, "lead": 4}


def bom_definition(code: str = "bom") -> dict[str, Any]:
    """expand (48 h; medium 50 mL and matrix, in a biosafety cabinet; a daily feed drawing 10 mL
    of medium; viability ≥ 70 %) → bank (24 h; viability)."""
    viability = checkpoint_definition(
        "viability", assay="cell_count", unit="%", value_type="percent", spec={"min": 70}
    )
    expand = stage_definition(
        "expand",
        48,
        name="Expansion",
        **WIDE,
        tasks=[task_definition("feed", name="Medium change", every_hours=24)],
        checkpoints=[viability],
    )
    expand["materials"] = [
        {"material": "mtesr", "name": "mTeSR Plus", "quantity": 50, "unit": "mL"},
        {"material": "matrigel", "name": "Matrigel"},
    ]
    expand["equipment"] = [{"kind": "biosafety_cabinet"}]
    expand["tasks"][0]["materials"] = [
        {"material": "mtesr", "name": "mTeSR Plus", "quantity": 10, "unit": "mL"}
    ]
    bank = stage_definition(
        "bank",
        24,
        name="Banking",
        kind="banking",
        **WIDE,
        depends_on=["expand"],
        checkpoints=[{**viability, "key": "post_thaw_viability", "name": "Post-thaw viability"}],
    )
    return {"code": code, "name": f"BOM {code}", "description": "", "stages": [expand, bank]}


def lot(
    material: Material,
    technician,
    reviewer=None,
    *,
    lot_number: str,
    expires_in_days: int = 180,
    quantity: Any = 500,
    coa: bool = True,
) -> MaterialLot:
    """A lot received by ``technician`` (with a CoA), released by ``reviewer`` when given."""
    today = timezone.now().astimezone(material.lab.tz).date()
    received = materials.lot_receive(
        material=material,
        lot_number=lot_number,
        expiry_date=today + timedelta(days=expires_in_days),
        quantity=quantity,
        coa=COA if coa else None,
        coa_filename="coa.pdf",
        actor=technician,
    )
    if reviewer is None:
        return received
    return materials.lot_release(lot=received, actor=reviewer, password=PASSWORD)


def calibrated(
    lab, manager, technician, *, code: str, kind: str, due_in_days: int = 200
) -> Equipment:
    """Equipment of ``kind`` with a passed calibration due in ``due_in_days`` (negative: lapsed)."""
    piece = equipment_services.equipment_create(
        lab=lab, code=code, name=code, kind=kind, calibration_interval_days=365, actor=manager
    )
    today = timezone.now().astimezone(lab.tz).date()
    performed = timezone.now() - timedelta(days=max(1, 365 - due_in_days))
    equipment_services.calibration_record_add(
        equipment=piece,
        performed_at=performed,
        performed_by="Service engineer",
        passed=True,
        next_due=today + timedelta(days=due_in_days),
        actor=technician,
    )
    piece.refresh_from_db()
    return piece


@dataclass
class Stock:
    lab: Any
    technician: Any
    reviewer: Any
    protocol: ProtocolTemplate
    medium: Material
    matrix: Material
    cryo: Material
    medium_lot: MaterialLot
    matrix_lot: MaterialLot
    cryo_lot: MaterialLot
    cabinet: Equipment
    lapsed_cabinet: Equipment
    freezer: Equipment
    box: Box
    extra: dict = field(default_factory=dict)


def stocked(lab, technician, reviewer, *, protocol_code: str = "bom") -> Stock:
    """The stocked lab of the module docstring."""
    medium = materials.material_create(
        lab=lab,
        code="mtesr",
        name="mTeSR Plus",
        kind="medium",
        unit="mL",
        supplier="STEMCELL",
        catalogue_number="100-0276",
        actor=reviewer,
    )
    matrix = materials.material_create(
        lab=lab, code="matrigel", name="Matrigel", kind="matrix", unit="mL", actor=reviewer
    )
    cryo = materials.material_create(
        lab=lab, code="cryostor", name="CryoStor CS10", kind="medium", unit="mL", actor=reviewer
    )
    cabinet = calibrated(lab, reviewer, technician, code="BSC-1", kind="biosafety_cabinet")
    lapsed = calibrated(
        lab, reviewer, technician, code="BSC-2", kind="biosafety_cabinet", due_in_days=-3
    )
    freezer = calibrated(lab, reviewer, technician, code="CRF-1", kind="controlled_rate_freezer")
    tank = storage.tank_create(lab=lab, code="T1", name="Tank 1", kind="ln2_vapour", actor=reviewer)
    rack = storage.rack_create(tank=tank, code="R1", actor=reviewer)
    box = storage.box_create(rack=rack, code="B1", rows=10, columns=10, actor=reviewer)
    return Stock(
        lab=lab,
        technician=technician,
        reviewer=reviewer,
        protocol=protocol_import(lab=lab, definition=bom_definition(protocol_code)),
        medium=medium,
        matrix=matrix,
        cryo=cryo,
        medium_lot=lot(medium, technician, reviewer, lot_number="MT-001"),
        matrix_lot=lot(matrix, technician, reviewer, lot_number="MG-001"),
        cryo_lot=lot(cryo, technician, reviewer, lot_number="CS-001"),
        cabinet=cabinet,
        lapsed_cabinet=lapsed,
        freezer=freezer,
        box=box,
    )


def today_in(lab) -> date:
    return timezone.now().astimezone(lab.tz).date()


def stock_ids(lab, technician, reviewer) -> dict[str, int]:
    """A stocked lab with a frozen vial and a vessel, as ids by the first segments of the URL
    routes that name them (for the URL walks of the web and API tests)."""
    stock = stocked(lab, technician, reviewer, protocol_code="bom-walk")
    sr = working_stage(stock.protocol, technician)
    freeze = bank.vials_freeze(
        stage_run=sr,
        actor=technician,
        count=1,
        cells_per_vial=1e6,
        contents="iPSC",
        medium=LotUse(stock.cryo_lot, quantity=1),
        box=stock.box,
    )
    vial = freeze.vials.get()
    vessel = bank.vessel_seed(run=sr.run, actor=technician, kind="t25")
    return {
        "materials": stock.medium.pk,
        "materials/lots": stock.medium_lot.pk,
        "material-lots": stock.medium_lot.pk,
        "equipment": stock.cabinet.pk,
        "storage/boxes": stock.box.pk,
        "storage/tanks": stock.box.rack.tank_id,
        "storage/positions": vial.position_id,
        "storage/vials": vial.pk,
        "storage/vessels": vessel.pk,
        "vials": vial.pk,
        "vessels": vessel.pk,
    }
