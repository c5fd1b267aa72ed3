"""Recipients and the product as formulated for them."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone

from labs.models import Lab
from labs.selectors import require_role
from protocol_tracker.audit.services import Change, audit_record, audit_record_many
from protocol_tracker.clinical.locks import lock_recipient
from protocol_tracker.clinical.models import CGMTargetSet, Formulation, InfusionRoute, Recipient
from protocol_tracker.clinical.services.common import (
    CAN_FORMULATE,
    CAN_RECORD_CLINICAL,
    number,
    refuse,
)
from protocol_tracker.core.actors import Person
from protocol_tracker.core.errors import Conflict, InvalidTransition, ValidationFailed
from protocol_tracker.core.text import clean_text
from protocol_tracker.runs.locks import lock_run
from protocol_tracker.runs.models import Donor, Run, RunStatus
from protocol_tracker.runs.services import run_product_expiry_set

# Physical bounds of the formulation's inputs.
WEIGHT_KG = (2.0, 350.0)
VOLUME_ML = (0.1, 2_000.0)
MAX_CELLS = 1e13
MAX_IEQ = 1e9


def _target_set(value: str) -> str:
    if value not in CGMTargetSet.values:
        raise refuse("cgm_target_set", f"one of {CGMTargetSet.values}")
    return value


@transaction.atomic
def recipient_create(
    *, lab: Lab, donor: Donor, actor: Person, cgm_target_set: str = CGMTargetSet.STANDARD
) -> Recipient:
    """Open the clinical record of ``donor`` (autologous: the donor is the recipient)."""
    require_role(actor, lab, CAN_RECORD_CLINICAL, "open clinical records")
    if donor.lab_id != lab.pk:
        raise refuse("donor", "not found")
    target = _target_set(cgm_target_set)
    recipient = Recipient(lab=lab, donor=donor, cgm_target_set=target, created_by=actor)
    try:
        with transaction.atomic():
            recipient.save()
    except IntegrityError:
        raise Conflict(
            f"donor {donor.code} already has a clinical record", code="duplicate"
        ) from None
    audit_record(
        actor=actor,
        action="recipient.create",
        obj=recipient,
        lab_id=lab.pk,
        after={"donor": donor.code, "cgm_target_set": target},
    )
    return recipient


@transaction.atomic
def recipient_target_set(
    *, recipient: Recipient, cgm_target_set: str, reason: str, actor: Person
) -> Recipient:
    """Choose the CGM target set (standard, or older/high-risk), with a reason."""
    recipient = lock_recipient(recipient.pk)
    require_role(actor, recipient.lab_id, CAN_RECORD_CLINICAL, "change CGM targets")
    target = _target_set(cgm_target_set)
    why = clean_text(reason, field="reason", required=True, max_length=2000)
    before = {"cgm_target_set": recipient.cgm_target_set}
    recipient.cgm_target_set = target
    recipient.save(update_fields=["cgm_target_set"])
    audit_record(
        actor=actor,
        action="recipient.cgm_targets",
        obj=recipient,
        lab_id=recipient.lab_id,
        before=before,
        after={"cgm_target_set": target},
        reason=why,
    )
    return recipient


def _bounded(value: object, field: str, low: float, high: float, unit: str) -> float:
    amount = number(value, field)
    if not low <= amount <= high:
        raise refuse(field, f"{amount:g} {unit} is outside {low:g}-{high:g} {unit}")
    return amount


def _optional(value: object, field: str, high: float) -> float | None:
    if value in (None, ""):
        return None
    amount = number(value, field)
    if not 0 < amount <= high:
        raise refuse(field, f"must be more than 0 and at most {high:g}")
    return amount


@transaction.atomic
def formulation_record(
    *,
    recipient: Recipient,
    run: Run,
    weight_kg: object,
    volume_ml: object,
    expires_at: datetime,
    actor: Person,
    dose_cells: object = None,
    dose_ieq: object = None,
    route: str = InfusionRoute.NON_INTRATHECAL,
    reason: str = "",
) -> Formulation:
    """Record the lot as formulated for ``recipient``: body weight, volume, dose, expiry.

    The expiry is written to the run (the transplant cannot start after it). A second record for
    the same run corrects the first and needs a ``reason``."""
    run = lock_run(run.pk)
    recipient = lock_recipient(recipient.pk)
    require_role(actor, recipient.lab_id, CAN_FORMULATE, "record the formulated product")
    if run.lab_id != recipient.lab_id or run.donor_id != recipient.donor_id:
        raise refuse("run", "not a run of this recipient (autologous: the donor's own run)")
    if run.status in (RunStatus.REJECTED, RunStatus.TERMINATED):
        raise InvalidTransition(f"run {run.code} is {run.status}; nothing is transplanted")
    errors: dict[str, list[str]] = {}
    values: dict[str, float | None] = {}
    checks = {
        "weight_kg": lambda: _bounded(weight_kg, "weight_kg", *WEIGHT_KG, "kg"),
        "volume_ml": lambda: _bounded(volume_ml, "volume_ml", *VOLUME_ML, "mL"),
        "dose_cells": lambda: _optional(dose_cells, "dose_cells", MAX_CELLS),
        "dose_ieq": lambda: _optional(dose_ieq, "dose_ieq", MAX_IEQ),
    }
    for field, check in checks.items():
        try:
            values[field] = check()
        except ValidationFailed as exc:
            errors.update(exc.fields)
    if route not in InfusionRoute.values:
        errors["route"] = [f"one of {InfusionRoute.values}"]
    if not isinstance(expires_at, datetime) or timezone.is_naive(expires_at):
        errors["expires_at"] = ["a date and time with a time zone offset is required"]
    previous = Formulation.objects.filter(
        recipient=recipient, run=run, superseded_by__isnull=True
    ).first()
    why = clean_text(reason, field="reason", max_length=2000)
    if previous is not None and not why:
        errors["reason"] = ["a correction of the formulation needs a reason"]
    if previous is None and "expires_at" not in errors and expires_at <= timezone.now():
        errors["expires_at"] = ["is already past"]
    if errors:
        first = next(iter(errors.items()))
        raise ValidationFailed(f"{first[0]}: {first[1][0]}", fields=errors)
    formulation = Formulation.objects.create(
        recipient=recipient,
        run=run,
        weight_kg=Decimal(str(values["weight_kg"])).quantize(Decimal("0.01")),
        volume_ml=Decimal(str(values["volume_ml"])).quantize(Decimal("0.01")),
        dose_cells=values["dose_cells"],
        dose_ieq=values["dose_ieq"],
        route=route,
        expires_at=expires_at,
        supersedes=previous,
        reason=why,
        recorded_by=actor,
    )
    after = {
        "run": run.code,
        "weight_kg": str(formulation.weight_kg),
        "volume_ml": str(formulation.volume_ml),
        "dose_cells": formulation.dose_cells,
        "dose_ieq": formulation.dose_ieq,
        "route": route,
        "expires_at": expires_at.isoformat(),
        "supersedes": previous.pk if previous else None,
    }
    changes = [
        Change(
            action="formulation.record",
            obj=formulation,
            after=after,
            reason=why,
            run_id=run.pk,
            lab_id=run.lab_id,
        ),
        *run_product_expiry_set(run, expires_at=expires_at, reason="set at formulation"),
    ]
    audit_record_many(actor=actor, changes=changes)
    return formulation
