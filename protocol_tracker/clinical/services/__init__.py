"""Every write of clinical records. One module per seam: recipients and the formulated product
(``recipients``), visits, their values and therapy events (``visits``), CGM imports (``cgm``),
the lab's clinical settings (``settings``).

Roles: clinicians and reviewers (PI) record clinical data; the formulated product is recorded by
those who work runs or a clinician; the lab admin sets the clinical settings. Each service is
keyword-only, atomic, locks the recipient (a run first where it touches one), audits, and
refuses bad input with ValidationFailed naming the field, writing nothing.
"""

from protocol_tracker.clinical.services.cgm import cgm_import
from protocol_tracker.clinical.services.recipients import (
    formulation_record,
    recipient_create,
    recipient_target_set,
)
from protocol_tracker.clinical.services.settings import clinical_settings_update
from protocol_tracker.clinical.services.visits import (
    therapy_event_record,
    visit_create,
    visit_value_correct,
    visit_values_record,
)

__all__ = [
    "cgm_import",
    "clinical_settings_update",
    "formulation_record",
    "recipient_create",
    "recipient_target_set",
    "therapy_event_record",
    "visit_create",
    "visit_value_correct",
    "visit_values_record",
]
