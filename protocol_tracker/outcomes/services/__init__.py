"""Writes of run outcomes: acknowledging the review by exception, the signed release (with
its stored batch record and certificate of analysis) and the signed rejection. Import the
services from here."""

from protocol_tracker.outcomes.services.acknowledgements import (
    exceptions_acknowledge,
    worked_on_run,
)
from protocol_tracker.outcomes.services.release import (
    AUDIT_TRAIL_ATTESTATION,
    RUN_RELEASED_TASK,
    run_reject,
    run_release,
)

__all__ = [
    "AUDIT_TRAIL_ATTESTATION",
    "RUN_RELEASED_TASK",
    "exceptions_acknowledge",
    "run_reject",
    "run_release",
    "worked_on_run",
]
