"""QC results, raw files, deviations, e-signatures, and the QC gate of a stage's completion.

One module per seam: ``preparing`` (parse, judge, place a result; writes nothing), ``results``
(one result, a correction), ``bulk`` (many results, all or nothing), ``consequences`` (what a new
result causes), ``raw_files``, ``formats`` (the instrument file formats: sniff, size limit,
ingest), ``ingest`` (a kept file into results), ``uploads`` (the upload job, inline or in the
``qc.ingest_upload`` task), ``deviations``, ``grouped`` (one signature over several minor
deviations), ``signatures``, ``stages`` (``stage_complete``).
Import the services from this package. The signed release and rejection of a run are run
outcomes, one layer up (:mod:`protocol_tracker.outcomes.services`).

Rules the services keep (the messages say which one refused):

- A result is judged at recording time against the checkpoint's spec, converted to the spec's
  unit; the spec, unit and protocol version are snapshotted on the result. Nothing is updated in
  place: a correction, a retest (after a failure or an invalid assay) and the value of a pending
  test are new rows that ``supersede`` the current one, with a reason.
- A failing blocking result opens an out-of-specification deviation and notifies the reviewers at
  once (after commit). After a conditional release a failing pending test flags the run, opens a
  ``late_result`` deviation and notifies the reviewers the same way.
- An out-of-specification deviation needs at least a phase I (laboratory) investigation before a
  reviewer may dispose of it (FDA OOS guidance); other deviations may be disposed of directly.
- After the release only the post-release stages (transplant, follow-up) take results and
  corrections; the manufacturing stages are frozen except for the named pending tests of a
  conditional release. A failing blocking result on a post-release stage opens a (critical)
  out-of-specification deviation as usual and flags the run; it never un-releases it.
- Signatures re-authenticate with the signer's password and bind to a SHA-256 of the signed
  record's state. Four eyes: nobody signs a disposition about a result they recorded or a stage
  they completed, and nobody releases a run in which they recorded a result or completed a stage.
"""

from protocol_tracker.qc.services.bulk import BULK_MAX_ROWS, qc_results_record_bulk
from protocol_tracker.qc.services.decided import qc_result_record_decided
from protocol_tracker.qc.services.deviations import (
    deviation_create_system,
    deviation_disposition,
    deviation_investigate,
    deviation_open,
    deviation_state,
)
from protocol_tracker.qc.services.grouped import deviation_disposition_group
from protocol_tracker.qc.services.preparing import (
    MEASURED_AT_SKEW,
    RESULT_STATES,
    result_prepare,
    result_state,
)
from protocol_tracker.qc.services.raw_files import raw_file_store
from protocol_tracker.qc.services.results import qc_result_correct, qc_result_record
from protocol_tracker.qc.services.signatures import record_hash, record_state, signature_sign
from protocol_tracker.qc.services.stages import stage_complete

__all__ = [
    "BULK_MAX_ROWS",
    "MEASURED_AT_SKEW",
    "RESULT_STATES",
    "deviation_create_system",
    "deviation_disposition",
    "deviation_disposition_group",
    "deviation_investigate",
    "deviation_open",
    "deviation_state",
    "qc_result_correct",
    "qc_result_record",
    "qc_result_record_decided",
    "qc_results_record_bulk",
    "raw_file_store",
    "record_hash",
    "record_state",
    "result_prepare",
    "result_state",
    "signature_sign",
    "stage_complete",
]
