"""Bench tasks: the recurring work inside a stage, logged as done once."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from labs.models import CAN_WORK
from labs.selectors import require_role
from protocol_tracker.audit.services import audit_record_many
from protocol_tracker.core.actors import Person
from protocol_tracker.core.errors import Conflict, InvalidTransition
from protocol_tracker.runs.locks import lock_stage_run
from protocol_tracker.runs.models import TaskOccurrence
from protocol_tracker.runs.services.common import (
    WORKING_STAGE_STATUSES,
    refuse_unless_workable,
    run_audit_change,
)


@transaction.atomic
def task_done(*, occurrence: TaskOccurrence, actor: Person, note: str = "") -> TaskOccurrence:
    """Log a bench task as done (once: a second time is a Conflict)."""
    sr = lock_stage_run(occurrence.stage_run_id)
    run = sr.run
    require_role(actor, run.lab_id, CAN_WORK, "log bench tasks")
    occ = TaskOccurrence.objects.select_related("task").get(pk=occurrence.pk)
    if occ.done_at is not None:
        raise Conflict(
            f"'{occ.task.name}' due {occ.due_at:%Y-%m-%d %H:%M} UTC is already done",
            code="already_done",
        )
    if occ.skipped:
        raise Conflict(f"'{occ.task.name}' was skipped", code="skipped")
    refuse_unless_workable(
        run, sr, doing="logging bench tasks", refused="cannot have bench tasks logged"
    )
    if sr.status not in WORKING_STAGE_STATUSES:
        raise InvalidTransition(
            f"stage '{sr.stage.name}' is {sr.status}; bench tasks are logged while it is in "
            f"progress"
        )
    occ.done_at = timezone.now()
    occ.done_by = actor
    occ.note = note.strip()
    occ.save(update_fields=["done_at", "done_by", "note"])
    audit_record_many(
        actor=actor,
        changes=[
            run_audit_change(
                "task.done",
                occ,
                run,
                {"done_at": None},
                {"done_at": occ.done_at, "done_by": actor.pk, "note": occ.note},
            )
        ],
    )
    return occ
