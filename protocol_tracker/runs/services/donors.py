"""Donors: pseudonymous codes with their consent (the chain of identity starts here)."""

from __future__ import annotations

from collections.abc import Sequence

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from labs.models import CAN_WORK, Lab
from labs.selectors import require_role
from protocol_tracker.audit.services import audit_record
from protocol_tracker.core.actors import Person
from protocol_tracker.core.errors import Conflict, ValidationFailed
from protocol_tracker.identity.services import coi_issue
from protocol_tracker.runs.models import DONOR_CODE_VALIDATOR, ConsentScope, Donor


@transaction.atomic
def donor_create(
    *,
    lab: Lab,
    code: str,
    consent_given: bool,
    consent_scope: Sequence[str] = (),
    consent_version: str = "",
    actor: Person,
) -> Donor:
    """Register a pseudonymous donor (a code, never a name) with their consent, and issue their
    COI (chain of identity): unique in the installation, never reused."""
    require_role(actor, lab, CAN_WORK, "register donors")
    code = (code or "").strip()
    try:
        DONOR_CODE_VALIDATOR(code)
    except ValidationError as exc:
        raise ValidationFailed(str(exc.message), fields={"code": [str(exc.message)]}) from None
    scope = list(dict.fromkeys(consent_scope))
    unknown = [s for s in scope if s not in ConsentScope.values]
    if unknown:
        message = f"unknown consent scope {unknown} (one of {ConsentScope.values})"
        raise ValidationFailed(message, fields={"consent_scope": [message]})
    if Donor.objects.filter(lab=lab, code=code).exists():
        raise Conflict(f"donor {code} already exists in this lab", code="duplicate")
    coi = coi_issue(lab=lab, actor=actor)
    donor = Donor(
        lab=lab,
        code=code,
        consent_given=bool(consent_given),
        consent_scope=scope,
        consent_version=consent_version.strip(),
        created_by=actor,
        coi=coi,
    )
    try:
        with transaction.atomic():
            donor.save()
    except IntegrityError:
        raise Conflict(f"donor {code} already exists in this lab", code="duplicate") from None
    audit_record(
        actor=actor,
        action="donor.create",
        obj=donor,
        lab_id=lab.pk,
        after={
            "code": code,
            "coi": coi.value,
            "consent_given": donor.consent_given,
            "consent_scope": scope,
            "consent_version": donor.consent_version,
        },
    )
    return donor
