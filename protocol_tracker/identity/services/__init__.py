"""Every state change of the identity registry: COIs (``coi``), the vault (``vault``), label
prints and their reconciliation (``labels``), named counters (``counters``). Import from here."""

from protocol_tracker.identity.services.coi import coi_issue, coi_settings_of, coi_settings_set
from protocol_tracker.identity.services.counters import counter_next
from protocol_tracker.identity.services.labels import (
    CAN_PRINT,
    MAX_LABELS,
    PrintedLabels,
    label_print,
    label_reconcile,
)
from protocol_tracker.identity.services.vault import (
    patient_identifiers_read,
    patient_identifiers_record,
    vault_rotate,
)

__all__ = [
    "CAN_PRINT",
    "MAX_LABELS",
    "PrintedLabels",
    "coi_issue",
    "coi_settings_of",
    "coi_settings_set",
    "counter_next",
    "label_print",
    "label_reconcile",
    "patient_identifiers_read",
    "patient_identifiers_record",
    "vault_rotate",
]
