"""The lab's catalogue of materials: what it stocks, and the code protocols name it by."""

from __future__ import annotations

import re
from typing import Any

from django.db import IntegrityError, transaction

from labs.models import CAN_MANAGE, Lab
from labs.selectors import require_role
from protocol_tracker.audit.services import audit_record
from protocol_tracker.core.actors import Person
from protocol_tracker.core.errors import Conflict, ValidationFailed
from protocol_tracker.core.text import clean_text
from protocol_tracker.materials.models import Material, MaterialKind
from protocol_tracker.specs.quantities import QuantityError, normalize_stock_unit

_MAX_LENGTHS = {"supplier": 200, "catalogue_number": 100, "storage": 100}
_CODE_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}\Z")


def _clean(values: dict[str, Any]) -> dict[str, Any]:
    """The catalogue fields of ``values`` checked and normalised; ValidationFailed per field."""
    errors: dict[str, list[str]] = {}
    cleaned: dict[str, Any] = {}
    for field, value in values.items():
        try:
            if field == "code":
                code = clean_text(value, field="code", max_length=64, required=True).lower()
                if not _CODE_RE.match(code):
                    raise ValidationFailed(
                        "code", fields={"code": ["letters a-z, digits, '-' or '_' only"]}
                    )
                cleaned[field] = code
            elif field == "name":
                cleaned[field] = clean_text(
                    value, field="name", max_length=200, required=True, multiline=False
                )
            elif field == "kind":
                if value not in MaterialKind.values:
                    raise ValidationFailed(
                        "kind", fields={"kind": [f"one of {', '.join(MaterialKind.values)}"]}
                    )
                cleaned[field] = value
            elif field in ("supplier", "catalogue_number", "storage"):
                cleaned[field] = clean_text(
                    value,
                    field=field,
                    max_length=_MAX_LENGTHS[field],
                    multiline=False,
                )
            elif field == "unit":
                try:
                    cleaned[field] = normalize_stock_unit(value)
                except QuantityError as exc:
                    raise ValidationFailed("unit", fields={"unit": [str(exc)]}) from None
            elif field == "expiry_warning_days":
                if value is not None and (
                    isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 365
                ):
                    raise ValidationFailed(
                        "expiry_warning_days",
                        fields={"expiry_warning_days": ["a whole number of days from 0 to 365"]},
                    )
                cleaned[field] = value
            elif field == "is_active":
                cleaned[field] = bool(value)
            else:
                errors.setdefault(field, []).append("cannot be changed")
        except ValidationFailed as exc:
            for name, messages in exc.fields.items():
                errors.setdefault(name, []).extend(messages)
    if errors:
        first, messages = next(iter(errors.items()))
        raise ValidationFailed(f"{first}: {messages[0]}", fields=errors)
    return cleaned


@transaction.atomic
def material_create(
    *,
    lab: Lab,
    code: str,
    name: str,
    kind: str,
    unit: str,
    supplier: str = "",
    catalogue_number: str = "",
    storage: str = "",
    expiry_warning_days: int | None = None,
    actor: Person,
) -> Material:
    """Add a material to the lab's catalogue (a reviewer or lab admin). ``code`` is unique in the
    lab, lower case, and what the protocols' bills of materials name."""
    require_role(actor, lab, CAN_MANAGE, "keep the materials catalogue")
    values = _clean(
        {
            "code": code,
            "name": name,
            "kind": kind,
            "unit": unit,
            "supplier": supplier,
            "catalogue_number": catalogue_number,
            "storage": storage,
            "expiry_warning_days": expiry_warning_days,
        }
    )
    material = Material(lab=lab, created_by=actor, **values)
    try:
        with transaction.atomic():
            material.save()
    except IntegrityError:
        raise Conflict(
            f"material code '{values['code']}' is already in this lab's catalogue",
            code="duplicate",
            fields={"code": ["already in the catalogue"]},
        ) from None
    audit_record(actor=actor, action="material.create", obj=material, lab_id=lab.pk, after=values)
    return material


@transaction.atomic
def material_update(*, material: Material, actor: Person, **changes: Any) -> Material:
    """Change a material's catalogue fields (not its code: protocols name it by that)."""
    material = Material.objects.select_for_update().get(pk=material.pk)
    require_role(actor, material.lab_id, CAN_MANAGE, "keep the materials catalogue")
    if "code" in changes:
        raise ValidationFailed(
            "a material's code cannot change; protocols name it by its code",
            fields={"code": ["cannot be changed"]},
        )
    values = _clean(changes)
    before = {f: getattr(material, f) for f in values if getattr(material, f) != values[f]}
    if not before:
        return material
    for field in before:
        setattr(material, field, values[field])
    material.save(update_fields=list(before))
    audit_record(
        actor=actor,
        action="material.update",
        obj=material,
        lab_id=material.lab_id,
        before=before,
        after={f: values[f] for f in before},
    )
    return material


__all__ = ["material_create", "material_update"]
