"""The lab's clinical settings."""

from __future__ import annotations

from django.db import transaction

from labs.models import CAN_ADMINISTER, Lab
from labs.selectors import require_role
from protocol_tracker.audit.services import audit_record
from protocol_tracker.clinical.models import ClinicalSettings
from protocol_tracker.clinical.services.common import number, refuse
from protocol_tracker.core.actors import Person


@transaction.atomic
def clinical_settings_update(
    *, lab: Lab, egfr_threshold: object, actor: Person
) -> ClinicalSettings:
    """Set the eGFR below which C-peptide carries the renal warning (lab admin)."""
    require_role(actor, lab, CAN_ADMINISTER, "change clinical settings")
    threshold = number(egfr_threshold, "egfr_threshold")
    if not 0 < threshold <= 150:
        raise refuse("egfr_threshold", "must be more than 0 and at most 150 mL/min/1.73 m2")
    found = ClinicalSettings.objects.select_for_update().filter(lab=lab).first()
    before = None if found is None else {"egfr_threshold": found.egfr_threshold}
    if found is None:
        found = ClinicalSettings(lab=lab, egfr_threshold=threshold, updated_by=actor)
    found.egfr_threshold = threshold
    found.updated_by = actor
    found.save()
    audit_record(
        actor=actor,
        action="clinical_settings.update",
        obj=found,
        lab_id=lab.pk,
        before=before,
        after={"egfr_threshold": threshold},
    )
    return found
