"""CGM exports → readings → the consensus metrics, as plain Python (no Django).

:func:`~.formats.parse_export` reads a Dexcom Clarity or LibreView CSV export (sniffed from its
header), in mg/dL or mmol/L, with the device's local times read in the device's time zone;
:func:`~.metrics.cgm_metrics` computes time in and out of range, mean glucose, GMI, CV and wear
time (Battelino et al., Diabetes Care 2019). Problems are :class:`~.readings.CGMError` with the
line they are on; nothing is half-read.
"""

from protocol_tracker.clinical.cgm.formats import parse_export
from protocol_tracker.clinical.cgm.metrics import cgm_metrics
from protocol_tracker.clinical.cgm.readings import CGMError, ParsedExport, Reading

__all__ = ["CGMError", "ParsedExport", "Reading", "cgm_metrics", "parse_export"]
