"""Importing an existing inventory spreadsheet (CSV): materials, lots, and vials with their
positions; all or nothing.

The columns are the export's (``selectors.EXPORT_COLUMNS``); a row's ``type`` says which columns
it uses. Every row is checked first, against the lab and against the other rows of the file;
any bad row refuses the whole file with every row's problems (``RowErrors``: row number as in
the spreadsheet, header = 1) and nothing is written. Then everything is written in bulk, with an
audit event per record.

Rules that differ from the screens, on purpose: an imported lot arrives in quarantine whatever the
sheet's ``status`` says (a reviewer releases it with a signature, against its certificate); an
expired lot is refused as on receipt; tanks, racks and boxes are created when the sheet names
new ones (a new box needs ``box_rows`` and ``box_columns``); a vial needs its donor registered in
the lab (the chain of identity), and its run, when given, must be that donor's.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import cast

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from labs.models import CAN_MANAGE, Lab
from labs.selectors import require_role
from protocol_tracker.audit.services import Change, audit_record_many, instance_builder
from protocol_tracker.cellbank.exports import unsafe_cell
from protocol_tracker.cellbank.models import BankTier, MovementKind, Vial, VialMovement, VialStatus
from protocol_tracker.cellbank.selectors import EXPORT_COLUMNS
from protocol_tracker.core.actors import Person
from protocol_tracker.core.errors import RowErrors, ValidationFailed
from protocol_tracker.core.text import clean_identifier, clean_text
from protocol_tracker.inventory.models import MAX_BOX_SIDE, Box, Position, Rack, StorageKind, Tank
from protocol_tracker.inventory.selectors import parse_position_name
from protocol_tracker.inventory.services import clean_storage_code
from protocol_tracker.materials.models import (
    LotStatus,
    Material,
    MaterialKind,
    MaterialLot,
)
from protocol_tracker.materials.services import lab_today
from protocol_tracker.runs.models import Donor, Run
from protocol_tracker.specs.quantities import (
    STOCK_UNITS,
    QuantityError,
    normalize_stock_unit,
    parse_quantity,
)

IMPORT_MAX_BYTES = 20 * 1024 * 1024
TYPES = ("material", "lot", "vial")


@dataclass
class ImportResult:
    materials: int = 0
    lots: int = 0
    vials: int = 0
    tanks: int = 0
    racks: int = 0
    boxes: int = 0


class _Bad(Exception):
    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message


@dataclass
class _Plan:
    materials: list[Material] = field(default_factory=list)
    lots: list[tuple[MaterialLot, str]] = field(default_factory=list)  # lot, material code
    vials: list[tuple[dict, tuple[str, str, str], tuple[int, int]]] = field(default_factory=list)
    new_boxes: dict[tuple[str, str, str], tuple[int, int]] = field(default_factory=dict)


def _read(data: bytes) -> list[dict[str, str]]:
    if not isinstance(data, bytes | bytearray) or not data:
        raise ValidationFailed("the file is empty", fields={"file": ["the file is empty"]})
    if len(data) > IMPORT_MAX_BYTES:
        raise ValidationFailed(
            "the file is larger than 20 MiB", fields={"file": ["larger than 20 MiB"]}
        )
    try:
        text = bytes(data).decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValidationFailed(
            "the file is not UTF-8 text (save the sheet as CSV UTF-8)",
            fields={"file": ["not UTF-8 text"]},
        ) from None
    if "\x00" in text:
        raise ValidationFailed("the file is not a CSV text", fields={"file": ["binary data"]})
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [h.strip() for h in (reader.fieldnames or [])]
    if "type" not in header:
        raise ValidationFailed(
            "the first row must be the header, with a 'type' column",
            fields={"file": [f"columns: {', '.join(EXPORT_COLUMNS)}"]},
        )
    unknown = [h for h in header if h not in EXPORT_COLUMNS]
    if unknown:
        raise ValidationFailed(
            f"unknown column(s): {', '.join(unknown)}",
            fields={"file": [f"columns: {', '.join(EXPORT_COLUMNS)}"]},
        )
    reader.fieldnames = header
    rows: list[dict[str, str]] = []
    limit = settings.INVENTORY_IMPORT_MAX_ROWS
    for row in reader:
        if len(rows) >= limit:
            raise ValidationFailed(
                f"the file has more than {limit} rows; split it",
                fields={"file": [f"at most {limit} rows"]},
            )
        if None in row:
            raise ValidationFailed(
                f"row {reader.line_num}: more cells than columns", fields={"file": ["bad row"]}
            )
        rows.append({k: unsafe_cell((v or "").strip()) for k, v in row.items()})
    if not rows:
        raise ValidationFailed("the file has no rows", fields={"file": ["no rows"]})
    return rows


def _cell(row: dict[str, str], name: str, *, required: bool = True) -> str:
    value = row.get(name, "")
    if required and not value:
        raise _Bad(name, "is required")
    return value


def _guard(name: str, call):
    try:
        return call()
    except ValidationFailed as exc:
        raise _Bad(name, next(iter(exc.fields.values()), [exc.message])[0]) from None
    except QuantityError as exc:
        raise _Bad(name, str(exc)) from None


def _date(row: dict[str, str], name: str) -> date:
    try:
        return date.fromisoformat(_cell(row, name))
    except ValueError:
        raise _Bad(name, "a date as YYYY-MM-DD") from None


class _Importer:
    def __init__(self, lab: Lab, rows: list[dict[str, str]], actor: Person) -> None:
        self.lab = lab
        self.rows = rows
        self.actor = actor
        self.now = timezone.now()
        self.today = lab_today(lab, self.now)
        codes = {r.get("material_code", "").lower() for r in rows if r.get("material_code")}
        self.materials = {m.code: m for m in Material.objects.for_lab(lab).filter(code__in=codes)}
        self.lot_keys = set(
            MaterialLot.objects.for_lab(lab)
            .filter(material__code__in=codes)
            .values_list("material__code", "lot_number")
        )
        vial_codes = [r["vial_code"] for r in rows if r.get("vial_code")]
        self.vial_codes = {
            c.casefold()
            for c in Vial.objects.for_lab(lab)
            .filter(code__in=vial_codes)
            .values_list("code", flat=True)
        }
        donors = {r["donor_code"] for r in rows if r.get("donor_code")}
        self.donors = dict(
            Donor.objects.for_lab(lab).filter(code__in=donors).values_list("code", "pk")
        )
        run_codes = {r["run_code"] for r in rows if r.get("run_code")}
        self.runs = {
            code: (pk, donor)
            for code, pk, donor in Run.objects.for_lab(lab)
            .filter(code__in=run_codes)
            .values_list("code", "pk", "donor_id")
        }
        self.tanks = {t.code: t for t in Tank.objects.for_lab(lab)}
        self.racks = {
            (r.tank.code, r.code): r for r in Rack.objects.for_lab(lab).select_related("tank")
        }
        self.boxes = {
            (b.rack.tank.code, b.rack.code, b.code): b
            for b in Box.objects.for_lab(lab).select_related("rack__tank")
        }
        box_ids = [b.pk for b in self.boxes.values()]
        self.positions = {
            (box_id, row, column): pk
            for pk, box_id, row, column in Position.objects.filter(box_id__in=box_ids).values_list(
                "pk", "box_id", "row", "column"
            )
        }
        self.occupied = set(
            Vial.objects.filter(
                position__box_id__in=box_ids, status__in=[VialStatus.STORED, VialStatus.RESERVED]
            ).values_list("position_id", flat=True)
        )
        self.plan = _Plan()
        self.seen_materials: set[str] = set()
        self.seen_lots: set[tuple[str, str]] = set()
        self.seen_vials: set[str] = set()
        self.seen_places: set[tuple] = set()

    # -- rows ----------------------------------------------------------------------------

    def material(self, row: dict[str, str]) -> None:
        code = _cell(row, "material_code").lower()
        if code in self.materials or code in self.seen_materials:
            raise _Bad("material_code", f"'{code}' is already in the catalogue")
        kind = _cell(row, "kind")
        if kind not in MaterialKind.values:
            raise _Bad("kind", f"one of {', '.join(MaterialKind.values)}")
        unit = _guard("unit", lambda: normalize_stock_unit(_cell(row, "unit")))
        material = Material(
            lab=self.lab,
            code=_guard("material_code", lambda: _material_code(code)),
            name=_guard(
                "material_name",
                lambda: clean_text(
                    _cell(row, "material_name"),
                    field="material_name",
                    max_length=200,
                    multiline=False,
                ),
            ),
            kind=kind,
            unit=unit,
            supplier=_guard(
                "supplier",
                lambda: clean_text(
                    row.get("supplier", ""), field="supplier", max_length=200, multiline=False
                ),
            ),
            catalogue_number=_guard(
                "catalogue_number",
                lambda: clean_text(
                    row.get("catalogue_number", ""),
                    field="catalogue_number",
                    max_length=100,
                    multiline=False,
                ),
            ),
            created_by=self.actor,
        )
        self.seen_materials.add(code)
        self.plan.materials.append(material)

    def lot(self, row: dict[str, str]) -> None:
        code = _cell(row, "material_code").lower()
        material = self.materials.get(code) or next(
            (m for m in self.plan.materials if m.code == code), None
        )
        if material is None:
            raise _Bad("material_code", f"no material '{code}' in the catalogue or in this file")
        lot_number = _guard(
            "lot_number", lambda: clean_identifier(_cell(row, "lot_number"), field="lot_number")
        )
        if (code, lot_number) in self.lot_keys or (code, lot_number) in self.seen_lots:
            raise _Bad("lot_number", f"lot {lot_number} of {code} is already there")
        expiry = _date(row, "expiry_date")
        if expiry <= self.today:
            raise _Bad("expiry_date", f"expired on {expiry:%Y-%m-%d}: not imported")
        amount = _guard("quantity", lambda: parse_quantity(_cell(row, "quantity")))
        unit = _guard("unit", lambda: normalize_stock_unit(row.get("unit") or material.unit))
        if STOCK_UNITS[unit].dimension != STOCK_UNITS[material.unit].dimension:
            raise _Bad("unit", f"{material.name} is counted in {material.unit}, not {unit}")
        self.seen_lots.add((code, lot_number))
        lot = MaterialLot(
            lab=self.lab,
            lot_number=lot_number,
            code=f"{code}-{lot_number}",
            expiry_date=expiry,
            status=LotStatus.QUARANTINE,
            unit=unit,
            quantity_received=amount,
            quantity_remaining=amount,
            received_at=self.now,
            received_by=self.actor,
            notes="imported",
        )
        self.plan.lots.append((lot, code))

    def vial(self, row: dict[str, str]) -> None:
        code = _guard(
            "vial_code",
            lambda: clean_identifier(_cell(row, "vial_code"), field="vial_code", max_length=80),
        )
        if code.casefold() in self.vial_codes or code.casefold() in self.seen_vials:
            raise _Bad("vial_code", f"vial {code} is already there")
        donor_code = _cell(row, "donor_code")
        donor_id = self.donors.get(donor_code)
        if donor_id is None:
            raise _Bad("donor_code", f"no donor {donor_code} in this lab: register the donor first")
        run_id = None
        if row.get("run_code"):
            found = self.runs.get(row["run_code"])
            if found is None:
                raise _Bad("run_code", f"no run {row['run_code']} in this lab")
            run_id, run_donor = found
            if run_donor != donor_id:
                raise _Bad("run_code", f"run {row['run_code']} is not of donor {donor_code}")
        passage = _whole(row, "passage", 0, 500)
        try:
            cells = float(_cell(row, "cells_per_vial"))
        except ValueError:
            raise _Bad("cells_per_vial", "must be a number") from None
        if not 0 < cells <= 1e10:
            raise _Bad("cells_per_vial", "must be within (0, 1e10]")
        bank = row.get("bank") or BankTier.NONE
        if bank not in BankTier.values:
            raise _Bad("bank", f"one of {', '.join(BankTier.values)}")
        contents = _guard(
            "contents",
            lambda: clean_text(
                _cell(row, "contents"), field="contents", max_length=200, multiline=False
            ),
        )
        place = (
            _guard("tank", lambda: clean_storage_code(_cell(row, "tank"), field="tank")),
            _guard("rack", lambda: clean_storage_code(_cell(row, "rack"), field="rack")),
            _guard("box", lambda: clean_storage_code(_cell(row, "box"), field="box")),
        )
        where = parse_position_name(_cell(row, "position"))
        if where is None:
            raise _Bad("position", "a position such as A1")
        box = self.boxes.get(place)
        if box is not None:
            rows_, columns = box.rows, box.columns
        elif place in self.plan.new_boxes:
            rows_, columns = self.plan.new_boxes[place]
        else:
            rows_ = _whole(row, "box_rows", 1, MAX_BOX_SIDE)
            columns = _whole(row, "box_columns", 1, MAX_BOX_SIDE)
            self.plan.new_boxes[place] = (rows_, columns)
        if (row.get("box_rows") or row.get("box_columns")) and (
            _whole(row, "box_rows", 1, MAX_BOX_SIDE),
            _whole(row, "box_columns", 1, MAX_BOX_SIDE),
        ) != (rows_, columns):
            raise _Bad("box_rows", f"box {'/'.join(place)} is {rows_}×{columns}")
        if not (where[0] <= rows_ and where[1] <= columns):
            raise _Bad("position", f"outside box {'/'.join(place)} ({rows_}×{columns})")
        key = (*place, *where)
        if key in self.seen_places:
            raise _Bad("position", "another vial of this file is in this position")
        if box is not None and self.positions.get((box.pk, *where)) in self.occupied:
            raise _Bad("position", "a vial is already stored in this position")
        frozen_at = self.now
        if row.get("frozen_at"):
            try:
                frozen_at = datetime.fromisoformat(row["frozen_at"])
            except ValueError:
                raise _Bad("frozen_at", "a date and time as YYYY-MM-DDTHH:MM") from None
            if timezone.is_naive(frozen_at):
                frozen_at = frozen_at.replace(tzinfo=self.lab.tz)
            if frozen_at > self.now:
                raise _Bad("frozen_at", "is in the future")
        self.seen_vials.add(code.casefold())
        self.seen_places.add(key)
        values = {
            "code": code,
            "donor_id": donor_id,
            "coi": donor_code,
            "run_id": run_id,
            "passage": passage,
            "cells_per_vial": cells,
            "contents": contents,
            "bank": bank,
            "frozen_at": frozen_at,
        }
        self.plan.vials.append((values, place, where))

    # -- the whole file -------------------------------------------------------------------

    def check(self) -> None:
        errors: list[dict] = []
        readers = {"material": self.material, "lot": self.lot, "vial": self.vial}
        for index, row in enumerate(self.rows):
            kind = row.get("type", "").lower()
            try:
                if kind not in readers:
                    raise _Bad("type", f"one of {', '.join(TYPES)}")
                readers[kind](row)
            except _Bad as bad:
                errors.append({"index": index + 2, "field": bad.field, "message": bad.message})
        if errors:
            raise RowErrors(
                f"{len({e['index'] for e in errors})} of {len(self.rows)} rows are invalid; "
                "nothing was imported",
                rows=errors,
            )

    def write(self) -> ImportResult:
        result = ImportResult()
        changes: list[Change] = []
        actor = self.actor
        Material.objects.bulk_create(self.plan.materials)
        by_code = {**self.materials, **{m.code: m for m in self.plan.materials}}
        changes += [
            Change(
                "material.create",
                m,
                after={
                    "code": m.code,
                    "name": m.name,
                    "kind": m.kind,
                    "unit": m.unit,
                    "imported": True,
                },
                lab_id=self.lab.pk,
            )
            for m in self.plan.materials
        ]
        lots = []
        for lot, code in self.plan.lots:
            lot.material = by_code[code]
            lots.append(lot)
        MaterialLot.objects.bulk_create(lots)
        changes += [
            Change(
                "material_lot.receive",
                lot,
                after={
                    "material": lot.material.code,
                    "lot_number": lot.lot_number,
                    "expiry_date": lot.expiry_date,
                    "quantity_received": str(lot.quantity_received),
                    "unit": lot.unit,
                    "status": lot.status,
                    "imported": True,
                },
                lab_id=self.lab.pk,
            )
            for lot in lots
        ]
        new_places = self.plan.new_boxes
        for tank_code in sorted({p[0] for p in new_places} - set(self.tanks)):
            tank = Tank.objects.create(
                lab=self.lab,
                code=tank_code,
                name=tank_code,
                kind=StorageKind.LN2_VAPOUR,
                created_by=actor,
            )
            self.tanks[tank_code] = tank
            changes.append(
                Change(
                    "tank.create",
                    tank,
                    after={"code": tank_code, "imported": True},
                    lab_id=self.lab.pk,
                )
            )
            result.tanks += 1
        for tank_code, rack_code in sorted({(p[0], p[1]) for p in new_places} - set(self.racks)):
            rack = Rack.objects.create(lab=self.lab, tank=self.tanks[tank_code], code=rack_code)
            self.racks[(tank_code, rack_code)] = rack
            changes.append(
                Change(
                    "rack.create",
                    rack,
                    after={"code": rack_code, "imported": True},
                    lab_id=self.lab.pk,
                )
            )
            result.racks += 1
        for place, (rows_, columns) in sorted(new_places.items()):
            box = Box.objects.create(
                lab=self.lab, rack=self.racks[place[:2]], code=place[2], rows=rows_, columns=columns
            )
            self.boxes[place] = box
            made = Position.objects.bulk_create(
                [
                    Position(lab=self.lab, box=box, row=r, column=c)
                    for r in range(1, rows_ + 1)
                    for c in range(1, columns + 1)
                ]
            )
            self.positions.update({(box.pk, p.row, p.column): p.pk for p in made})
            changes.append(
                Change(
                    "box.create",
                    box,
                    after={"code": place[2], "rows": rows_, "columns": columns, "imported": True},
                    lab_id=self.lab.pk,
                )
            )
            result.boxes += 1
        build = cast(Callable[[dict], Vial], instance_builder(Vial))
        vials: list[Vial] = []
        for values, place, where in self.plan.vials:
            box = self.boxes[place]
            vials.append(
                build(
                    {
                        "id": None,
                        "lab_id": self.lab.pk,
                        "freeze_id": None,
                        "position_id": self.positions[(box.pk, *where)],
                        "status": VialStatus.STORED,
                        "reserved_for": "",
                        "checked_out_at": None,
                        "checked_out_by_id": None,
                        **values,
                    }
                )
            )
        Vial.objects.bulk_create(vials, batch_size=2000)
        VialMovement.objects.bulk_create(
            [
                VialMovement(
                    lab_id=self.lab.pk,
                    vial=v,
                    kind=MovementKind.IMPORT,
                    at=self.now,
                    by=actor,
                    to_position_id=v.position_id,
                    reason="imported",
                )
                for v in vials
            ],
            batch_size=2000,
        )
        changes += [
            Change(
                "vial.import",
                v,
                after={
                    "code": v.code,
                    "coi": v.coi,
                    "position": v.position_id,
                    "passage": v.passage,
                    "bank": v.bank,
                },
                run_id=v.run_id,
                lab_id=self.lab.pk,
            )
            for v in vials
        ]
        audit_record_many(actor=actor, changes=changes)
        result.materials = len(self.plan.materials)
        result.lots = len(lots)
        result.vials = len(vials)
        return result


def _material_code(code: str) -> str:
    text = clean_identifier(code, field="material_code")
    if not all(c.isalnum() or c in "-_" for c in text) or not text.isascii():
        raise ValidationFailed("material_code", fields={"material_code": ["a-z, 0-9, '-' or '_'"]})
    return text


def _whole(row: dict[str, str], name: str, lo: int, hi: int) -> int:
    raw = _cell(row, name)
    if not raw.isdigit() or not lo <= int(raw) <= hi:
        raise _Bad(name, f"a whole number from {lo} to {hi}")
    return int(raw)


@transaction.atomic
def inventory_import(*, lab: Lab, data: bytes, actor: Person) -> ImportResult:
    """Import an inventory CSV into ``lab`` (a reviewer or lab admin): every row checked, then
    all written, or nothing with every row's problem."""
    require_role(actor, lab, CAN_MANAGE, "import inventories")
    importer = _Importer(lab, _read(data), actor)
    importer.check()
    return importer.write()
