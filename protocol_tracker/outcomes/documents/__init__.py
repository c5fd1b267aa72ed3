"""Generated documents of a run: the batch record and the certificate of analysis (PDF).

:mod:`.layout` lays out :mod:`protocol_tracker.documents.blocks`; :mod:`.record` reads what a
record shows; :mod:`.sections` are the record's own sections; :mod:`.batch_record` assembles
them with what other apps contribute; :mod:`.certificate` is the certificate of analysis.
"""

from protocol_tracker.outcomes.documents.batch_record import (
    RECORD_SECTIONS,
    STAGE_BLOCKS,
    SUMMARY_FIELDS,
    GeneratedDocument,
    batch_record_pdf,
)
from protocol_tracker.outcomes.documents.certificate import certificate_pdf
from protocol_tracker.outcomes.documents.record import ReleaseInfo

__all__ = [
    "RECORD_SECTIONS",
    "STAGE_BLOCKS",
    "SUMMARY_FIELDS",
    "GeneratedDocument",
    "ReleaseInfo",
    "batch_record_pdf",
    "certificate_pdf",
]
