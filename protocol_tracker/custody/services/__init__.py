"""Every state change of the chain of custody: items (``items``), identity scans (``scans``),
hand-offs (``handoffs``), shipments and logger files (``shipments``), computed checkpoints
(``computed``), a run's labels (``labels``). Import from here."""

from protocol_tracker.custody.services.computed import (
    COMPUTATIONS,
    computed_result_record,
    is_computed,
)
from protocol_tracker.custody.services.handoffs import handoff_receive, handoff_send
from protocol_tracker.custody.services.items import items_register
from protocol_tracker.custody.services.labels import RUN_SUBJECT, item_label, run_labels_print
from protocol_tracker.custody.services.scans import identity_scan_record, judge_scan
from protocol_tracker.custody.services.shipments import (
    LOGGER_MAX_BYTES,
    RANGES,
    shipment_create,
    shipment_logger_attach,
    shipment_receive,
)

__all__ = [
    "COMPUTATIONS",
    "LOGGER_MAX_BYTES",
    "RANGES",
    "RUN_SUBJECT",
    "computed_result_record",
    "handoff_receive",
    "handoff_send",
    "identity_scan_record",
    "is_computed",
    "item_label",
    "items_register",
    "judge_scan",
    "run_labels_print",
    "shipment_create",
    "shipment_logger_attach",
    "shipment_receive",
]
