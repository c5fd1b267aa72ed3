"""Reads of run outcomes: the review by exception before a release (its sources, the items and
their acknowledgements) and the release record. Import from here."""

from protocol_tracker.outcomes.selectors.exceptions import (
    EXCEPTION_SOURCES,
    ExceptionSource,
    ReviewRow,
    RunReview,
    run_exceptions,
    run_review,
)
from protocol_tracker.outcomes.selectors.exports import EXPORT_MAX_ROWS, qc_results_for_export
from protocol_tracker.outcomes.selectors.records import release_document, release_documents_of_run
from protocol_tracker.outcomes.selectors.sources import spec_text

__all__ = [
    "EXCEPTION_SOURCES",
    "EXPORT_MAX_ROWS",
    "ExceptionSource",
    "ReviewRow",
    "RunReview",
    "qc_results_for_export",
    "release_document",
    "release_documents_of_run",
    "run_exceptions",
    "run_review",
    "spec_text",
]
