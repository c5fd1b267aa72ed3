"""Reads about QC: the gates the services check, the QC records, and the reads of runs that
need them (run list counts, run detail, reviewer queue). Import from here."""

from protocol_tracker.qc.selectors.gates import (
    SATISFIED_VERDICTS,
    QCGaps,
    ReleaseCheck,
    accepted_result_ids,
    run_release_check,
    stage_qc_gaps,
)
from protocol_tracker.qc.selectors.records import (
    TREND_POINTS,
    checkpoint_trend,
    deviation_for_user,
    deviation_of_result,
    deviations_for_user,
    deviations_of_run,
    qc_result_correction,
    qc_result_for_user,
    qc_result_history,
    qc_results_of_run,
    qc_results_visible_to,
    signatures_of_run,
)
from protocol_tracker.qc.selectors.retests import RetestDue, retests_due
from protocol_tracker.qc.selectors.runs import (
    QUEUE_LIMIT,
    ReviewQueue,
    review_queue,
    run_detail,
    runs_with_deviation_counts,
)

__all__ = [
    "QUEUE_LIMIT",
    "SATISFIED_VERDICTS",
    "TREND_POINTS",
    "QCGaps",
    "ReleaseCheck",
    "RetestDue",
    "ReviewQueue",
    "accepted_result_ids",
    "checkpoint_trend",
    "deviation_for_user",
    "deviation_of_result",
    "deviations_for_user",
    "deviations_of_run",
    "qc_result_correction",
    "qc_result_for_user",
    "qc_result_history",
    "qc_results_of_run",
    "qc_results_visible_to",
    "retests_due",
    "review_queue",
    "run_detail",
    "run_release_check",
    "runs_with_deviation_counts",
    "signatures_of_run",
    "stage_qc_gaps",
]
