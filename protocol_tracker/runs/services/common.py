"""What the run services share: status sets, input checks, the audited state of a row."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from protocol_tracker.audit.services import Change
from protocol_tracker.core.errors import InvalidTransition, ValidationFailed
from protocol_tracker.runs.models import Run, RunStatus, StageRun, StageStatus
from protocol_tracker.runs.selectors import post_release_stage_ids

DONE_STAGE_STATUSES = frozenset({StageStatus.COMPLETED, StageStatus.SKIPPED})
WORKING_STAGE_STATUSES = frozenset({StageStatus.IN_PROGRESS, StageStatus.AWAITING_QC})


def require_aware(moment: datetime | None, field: str) -> None:
    if moment is not None and timezone.is_naive(moment):
        raise ValidationFailed(
            f"{field} must carry a time zone", fields={field: ["give a time zone offset"]}
        )


def require_reason(reason: str, field: str = "reason") -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed(f"a {field} is required", fields={field: ["this field is required"]})
    return reason


def refuse_unless_active(run: Run, doing: str) -> None:
    if run.status != RunStatus.ACTIVE:
        raise InvalidTransition(f"run {run.code} is {run.status}; {doing} needs an active run")


def post_release_ids(run: Run) -> frozenset[int]:
    """Stage template ids of ``run``'s post-release stages (cached on its protocol instance)."""
    return post_release_stage_ids(run.protocol)


def refuse_unless_workable(run: Run, sr: StageRun, *, doing: str, refused: str) -> None:
    """Manufacturing stages are worked while the run is active, post-release stages (transplant,
    follow-up) once it is released; ``refused`` completes "stage 'X' ..." before the release."""
    if sr.stage_id in post_release_ids(run):
        if run.status == RunStatus.RELEASED:
            return
        if not run.is_closed:
            raise InvalidTransition(
                f"stage '{sr.stage.name}' {refused} before run {run.code} is released"
            )
    refuse_unless_active(run, doing)


def run_state(run: Run) -> dict:
    return {
        "status": run.status,
        "passage": run.passage,
        "assignee": run.assignee_id,
        "planned_start": run.planned_start,
        "started_at": run.started_at,
        "completed_at": run.completed_at,
        "closed_at": run.closed_at,
        "post_release_completed_at": run.post_release_completed_at,
        "conditional_release": run.conditional_release,
        "pending_tests": list(run.pending_tests or []),
        "flagged": run.flagged,
        "flag_reason": run.flag_reason,
    }


def stage_run_state(stage_run: StageRun) -> dict:
    return {
        "status": stage_run.status,
        "planned_start": stage_run.planned_start,
        "due_at": stage_run.due_at,
        "started_at": stage_run.started_at,
        "started_by": stage_run.started_by_id,
        "completed_at": stage_run.completed_at,
        "completed_by": stage_run.completed_by_id,
        "assignee": stage_run.assignee_id,
    }


def run_audit_change(
    action: str, obj, run: Run, before=None, after=None, reason: str = ""
) -> Change:
    """The audit entry for a change to ``obj`` within ``run`` (filed under the run and its lab)."""
    return Change(
        action=action,
        obj=obj,
        before=before,
        after=after,
        reason=reason,
        run_id=run.pk,
        lab_id=run.lab_id,
    )
