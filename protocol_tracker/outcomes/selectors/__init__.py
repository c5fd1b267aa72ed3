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
from protocol_tracker.outcomes.selectors.records import release_document, release_documents_of_run
from protocol_tracker.outcomes.selectors.sources import spec_text

__all__ = [
    "EXCEPTION_SOURCES",
    "ExceptionSource",
    "ReviewRow",
    "RunReview",
    "release_document",
    "release_documents_of_run",
    "run_exceptions",
    "run_review",
    "spec_text",
]
