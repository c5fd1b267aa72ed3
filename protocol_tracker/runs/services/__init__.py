"""The workflow engine: every state change of donors, runs, stage runs and bench tasks.

One module per seam (``donors``, ``runs``, ``stages``, ``bench``, ``passages``; shared checks in
``common``); import the services from this package. Completing a stage is gated by QC and lives
in :mod:`protocol_tracker.qc.services` (``stage_complete``); the signed release and rejection of a
run are run outcomes (:mod:`protocol_tracker.outcomes.services`). Both build on the building
blocks here (``stage_run_complete``, ``run_close_released``, ``run_close_rejected``, ``run_flag``),
which take rows the caller has locked and return the audit changes for the caller to write.

Each service is keyword-only, runs in one transaction, checks the actor's role in the run's lab,
locks what it changes through :mod:`protocol_tracker.runs.locks` (run first, then stage runs),
writes its audit events and raises :mod:`protocol_tracker.core.errors` exceptions whose message
names the broken rule. A refused call writes nothing.

Decisions worth knowing:

- ``stage_complete`` (qc) refuses (``InvalidTransition``, nothing changed) while a blocking
  checkpoint has no current result, a pending one, an invalid assay, or an out-of-spec result that
  no accepted deviation disposition covers. A pending result on a ``pending_allowed`` checkpoint
  does not block the stage: the release decides about it (conditional release). ``no_spec``
  satisfies a blocking checkpoint (the result exists; there is nothing to judge it by).
- Plans use wall-clock durations in the lab's time zone (see :mod:`runs.planning`). A stage is
  re-planned only when an upstream stage completes: its dependants (and theirs, transitively) that
  have not started move to follow the actual completion, and their open bench tasks move with them.
- Creating a run writes one audit event for the run and one per stage run; the bench task
  occurrences are part of that plan (their number is in the run's event), and each one gets an
  event of its own when it is done.
- Stopping a run (terminate, reject) closes its open work: stages not started are skipped, stages
  in progress fail, open bench tasks are skipped; so reminders never chase a closed run.
- Release gates manufacturing, not the clinic. The stages downstream of a stage of kind
  ``release`` (transplant, follow-up: :func:`runs.selectors.post_release_stage_ids`) are
  *post-release*. The run becomes ``completed`` (ready for its release review) when every other
  stage is done; the post-release stages stay pending until the signed release, which makes them
  ready and re-plans them from the release time (:func:`open_post_release_work`, the same
  re-planning as a stage completion). They are then started, completed and given results while
  the run is ``released``; the manufacturing stages stay frozen. When the last of them is done
  the run stays released and gets ``post_release_completed_at``. A protocol without a release
  stage has no post-release stages: every stage must be done before the release.
"""

from protocol_tracker.runs.services.bench import (
    NOT_DUE_REASON,
    TaskResolutionInput,
    open_tasks_of_stage,
    resolve_open_tasks,
    task_done,
)
from protocol_tracker.runs.services.common import (
    DONE_STAGE_STATUSES,
    WORKING_STAGE_STATUSES,
    refuse_unless_workable,
    require_aware,
    run_audit_change,
    run_state,
    stage_run_state,
)
from protocol_tracker.runs.services.donors import donor_create
from protocol_tracker.runs.services.expiry import refuse_if_product_expired, run_product_expiry_set
from protocol_tracker.runs.services.passages import run_passage
from protocol_tracker.runs.services.runs import (
    close_open_work,
    run_close_rejected,
    run_close_released,
    run_create,
    run_flag,
    run_hold,
    run_pending_test_resolve,
    run_resume,
    run_spawn_child,
    run_start,
    run_terminate,
)
from protocol_tracker.runs.services.stages import (
    open_post_release_work,
    require_stage_transition,
    stage_assign,
    stage_fail,
    stage_run_complete,
    stage_run_fail,
    stage_start,
)

__all__ = [
    "DONE_STAGE_STATUSES",
    "NOT_DUE_REASON",
    "WORKING_STAGE_STATUSES",
    "TaskResolutionInput",
    "close_open_work",
    "donor_create",
    "open_post_release_work",
    "open_tasks_of_stage",
    "refuse_if_product_expired",
    "refuse_unless_workable",
    "require_aware",
    "require_stage_transition",
    "resolve_open_tasks",
    "run_audit_change",
    "run_close_rejected",
    "run_close_released",
    "run_create",
    "run_flag",
    "run_hold",
    "run_passage",
    "run_pending_test_resolve",
    "run_product_expiry_set",
    "run_resume",
    "run_spawn_child",
    "run_start",
    "run_state",
    "run_terminate",
    "stage_assign",
    "stage_fail",
    "stage_run_complete",
    "stage_run_fail",
    "stage_run_state",
    "stage_start",
    "task_done",
]
