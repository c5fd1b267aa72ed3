"""A stocked demo lab (``manage.py seed_demo``), made by the real services; never in production.

The catalogue names the materials of the default protocols' bills (so the lot picker asks for
them at the bench), each with a released lot; one lot of iPSC medium expires in five days, one
has expired, and the Ficoll lot the PBMC isolation in progress used was recalled (its run is
flagged, with its deviation). Equipment: cabinets (one with its calibration overdue), an
incubator, a centrifuge, a controlled-rate freezer, an LN2 tank, and one instrument per kind
the default protocols' assays use. Storage: the LN2 tank with a 9×9 box partly filled with the
iPSC master bank of DEMO-002's clone (imported, as from a previous inventory). Idempotent: a lab
that already has the catalogue is left alone.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from unittest import mock

from django.db import transaction
from django.utils import timezone

from labs.models import Lab
from protocol_tracker.cellbank.selectors import EXPORT_COLUMNS
from protocol_tracker.cellbank.services import inventory_import
from protocol_tracker.equipment import services as equipment_services
from protocol_tracker.inventory import services as storage
from protocol_tracker.materials import services as materials
from protocol_tracker.materials.models import Material
from protocol_tracker.recalls.services import lot_recall
from protocol_tracker.runs.models import Run, StageRun
from protocol_tracker.usage.services import LotUse, stage_usage_record

DEMO_PASSWORD = "demo"  # noqa: S105 - demo accounts exist only outside production
DAY = timedelta(days=1)
COA = b"%PDF-1.4\n% demo certificate of analysis\n"

# code, name, kind, unit, supplier, catalogue number, storage
CATALOGUE = [
    ("ipsc-medium", "mTeSR Plus", "medium", "mL", "STEMCELL Technologies", "100-0276", "2-8 °C"),
    (
        "culture-matrix",
        "Vitronectin XF",
        "matrix",
        "mL",
        "STEMCELL Technologies",
        "07180",
        "-20 °C",
    ),
    (
        "cryopreservation-medium",
        "CryoStor CS10",
        "medium",
        "mL",
        "BioLife Solutions",
        "210102",
        "2-8 °C",
    ),
    ("ficoll", "Ficoll-Paque PLUS", "reagent_kit", "mL", "Cytiva", "17144002", "room temperature"),
    (
        "blood-collection-tube",
        "K2EDTA blood collection tube",
        "consumable",
        "each",
        "BD",
        "367525",
        "room temperature",
    ),
    (
        "reprogramming-vector",
        "CytoTune-iPS 2.1 Sendai kit",
        "reagent_kit",
        "kit",
        "Thermo Fisher",
        "A16517",
        "-80 °C",
    ),
    (
        "differentiation-medium",
        "MCDB 131 basal medium",
        "medium",
        "mL",
        "Thermo Fisher",
        "10372019",
        "2-8 °C",
    ),
    (
        "activin-a",
        "Activin A, recombinant human",
        "growth_factor",
        "ug",
        "R&D Systems",
        "338-AC",
        "-20 °C",
    ),
    ("chir99021", "CHIR99021", "small_molecule", "mg", "Tocris", "4423", "-20 °C"),
]

# code, lot number, quantity, expiry in days (from now)
LOTS = [
    ("ipsc-medium", "MT-2405A", 500, 150),
    ("ipsc-medium", "MT-2404C", 500, 5),  # expires soon: the picker warns
    ("culture-matrix", "VN-24031", 10, 300),
    ("cryopreservation-medium", "CS-2402", 100, 400),
    ("ficoll", "FP-2311", 500, 200),  # used by DEMO-003's PBMC isolation, then recalled
    ("ficoll", "FP-2403", 500, 260),
    ("blood-collection-tube", "EDTA-23K", 100, 500),
    ("reprogramming-vector", "CT-2402", 2, 250),
    ("differentiation-medium", "MC-2401", 1000, 220),
    ("activin-a", "AA-0424", 100, 360),
    ("chir99021", "CH-2402", 10, 700),
]

# code, name, kind, interval (days), due in days (negative: overdue)
EQUIPMENT = [
    ("BSC-01", "Biosafety cabinet 1 (class II A2)", "biosafety_cabinet", 365, 120),
    ("BSC-02", "Biosafety cabinet 2 (class II A2)", "biosafety_cabinet", 365, -12),
    ("INC-01", "CO2 incubator 1", "incubator", 365, 200),
    ("CEN-01", "Centrifuge 1", "centrifuge", 365, 90),
    ("CRF-01", "Controlled-rate freezer", "controlled_rate_freezer", 365, 240),
    ("LN2-01", "LN2 storage tank 1", "ln2_tank", None, None),
]

# name, kind, make, model, assays (one instrument per kind the default protocols' assays use)
INSTRUMENTS = [
    ("FACS-01", "flow_cytometer", "BD", "FACSCanto II", ["flow_cytometry"]),
    (
        "COUNT-01",
        "cell_counter",
        "ChemoMetec",
        "NucleoCounter NC-200",
        ["cell_count", "viability_count"],
    ),
    ("PLATE-01", "plate_reader", "BioTek", "Synergy H1", ["gsis_elisa", "insulin_content_elisa"]),
    (
        "QPCR-01",
        "qpcr",
        "Applied Biosystems",
        "QuantStudio 5",
        ["mycoplasma_pcr", "qpcr", "vector_clearance_pcr", "viral_pcr"],
    ),
    ("PTS-01", "other", "Charles River", "Endosafe nexgen-PTS", ["endotoxin_lal"]),
]


@contextmanager
def _clock(at: datetime) -> Iterator[None]:
    """Run the services as if it were ``at`` (only ever used to seed demo history)."""
    with mock.patch.object(timezone, "now", return_value=at):
        yield


def _lot(material, technician, reviewer, number, quantity, days, *, now, password):
    today = now.astimezone(material.lab.tz).date()
    lot = materials.lot_receive(
        material=material,
        lot_number=number,
        expiry_date=today + days * DAY,
        quantity=quantity,
        coa=COA,
        coa_filename=f"CoA-{number}.pdf",
        actor=technician,
    )
    return materials.lot_release(lot=lot, actor=reviewer, password=password)


def _bank_csv(run: Run, count: int) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=EXPORT_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for i in range(count):
        writer.writerow(
            {
                "type": "vial",
                "vial_code": f"{run.donor.code}-MCB-{i + 1:03d}",
                "donor_code": run.donor.code,
                "run_code": run.code,
                "passage": 8,
                "cells_per_vial": "1e6",
                "contents": "iPSC clone 1 master bank",
                "bank": "master",
                "tank": "LN2-01",
                "rack": "R1",
                "box": "B1",
                "box_rows": 9,
                "box_columns": 9,
                "position": f"{'ABCDEFGHI'[i // 9]}{i % 9 + 1}",
            }
        )
    return out.getvalue().encode()


@transaction.atomic
def demo_stock_seed(
    *, lab: Lab, technician, reviewer, admin, password: str = DEMO_PASSWORD
) -> None:
    """The stocked lab of the module docstring (``password``: the reviewer's, who signs)."""
    if Material.objects.filter(lab=lab, code="ipsc-medium").exists():
        return
    now = timezone.now()
    catalogue = {
        code: materials.material_create(
            lab=lab,
            code=code,
            name=name,
            kind=kind,
            unit=unit,
            supplier=supplier,
            catalogue_number=number,
            storage=where,
            actor=admin,
        )
        for code, name, kind, unit, supplier, number, where in CATALOGUE
    }
    with _clock(now - 30 * DAY):
        lots = {
            number: _lot(
                catalogue[code],
                technician,
                reviewer,
                number,
                quantity,
                days + 30,
                now=now - 30 * DAY,
                password=password,
            )
            for code, number, quantity, days in LOTS
        }
    # A lot received months ago that has expired since: the sweep marks it, the picker refuses it.
    with _clock(now - 200 * DAY):
        _lot(
            catalogue["ipsc-medium"],
            technician,
            reviewer,
            "MT-2311B",
            500,
            190,
            now=now - 200 * DAY,
            password=password,
        )
    materials.lots_expire_due(now=now)

    pieces = {}
    for code, name, kind, interval, due in EQUIPMENT:
        piece = equipment_services.equipment_create(
            lab=lab,
            code=code,
            name=name,
            kind=kind,
            calibration_interval_days=interval,
            maintenance_interval_days=180 if kind in ("biosafety_cabinet", "incubator") else None,
            location="Cleanroom B",
            actor=admin,
        )
        if interval is not None:
            performed = now - (interval - due) * DAY
            with _clock(performed):
                equipment_services.calibration_record_add(
                    equipment=piece,
                    performed_at=performed,
                    performed_by="Certified service engineer",
                    passed=True,
                    next_due=(now + due * DAY).astimezone(lab.tz).date(),
                    certificate=COA,
                    certificate_filename=f"cal-{code}.pdf",
                    actor=technician,
                )
        piece.refresh_from_db()
        pieces[code] = piece
    for name, kind, make, model, assays in INSTRUMENTS:
        instrument = equipment_services.instrument_register(
            lab=lab,
            name=name,
            kind=kind,
            make=make,
            model=model,
            serial=f"{name}-SN",
            allowed_assays=assays,
            calibration_interval_days=365,
            actor=admin,
        )
        with _clock(now - 40 * DAY):
            equipment_services.calibration_record_add(
                equipment=instrument.equipment,
                performed_at=now - 40 * DAY,
                performed_by=f"{make} field service",
                passed=True,
                actor=technician,
            )

    tank = storage.tank_create(
        lab=lab,
        code="LN2-01",
        name="LN2 tank 1 (vapour phase)",
        kind="ln2_vapour",
        location="Cryo room",
        equipment=pieces["LN2-01"],
        actor=admin,
    )
    rack = storage.rack_create(tank=tank, code="R1", actor=admin)
    storage.box_create(
        rack=rack, code="B1", rows=9, columns=9, label="iPSC master bank", actor=admin
    )
    storage.box_create(rack=rack, code="B2", rows=10, columns=10, label="Working bank", actor=admin)

    reprogramming = Run.objects.filter(lab=lab, donor__code="DEMO-002", parent__isnull=True).first()
    isolation = (
        StageRun.objects.filter(
            run__lab=lab,
            run__donor__code="DEMO-003",
            stage__key="pbmc_isolation",
            status="in_progress",
        )
        .select_related("run", "stage")
        .first()
    )
    if reprogramming is not None:
        inventory_import(lab=lab, data=_bank_csv(reprogramming, 24), actor=admin)
    if isolation is not None:
        with _clock(now - 2 * 60 * 60 * timedelta(seconds=1)):
            stage_usage_record(
                stage_run=isolation,
                actor=technician,
                lots=[LotUse(lots["FP-2311"], quantity=15, unit="mL")],
                equipment=[pieces["BSC-01"], pieces["CEN-01"]],
            )
        lot_recall(
            lot=lots["FP-2311"],
            actor=reviewer,
            password=password,
            reason="Supplier recall notice: endotoxin above the CoA limit",
        )
