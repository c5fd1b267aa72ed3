"""Passages: a passage, split, thaw or freeze of a run's culture, and its passage counter."""

from __future__ import annotations

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from labs.models import CAN_WORK
from labs.selectors import require_role
from protocol_tracker.audit.services import audit_record_many
from protocol_tracker.core.actors import Person
from protocol_tracker.core.errors import ValidationFailed
from protocol_tracker.runs.locks import lock_run
from protocol_tracker.runs.models import PassageEvent, PassageKind, Run
from protocol_tracker.runs.services.common import refuse_unless_active, run_audit_change

_PASSAGE_INCREMENT: dict[str, int] = {
    PassageKind.PASSAGE: 1,
    PassageKind.SPLIT: 1,
    PassageKind.THAW: 0,
    PassageKind.FREEZE: 0,
}


@transaction.atomic
def run_passage(*, run: Run, actor: Person, kind: str = PassageKind.PASSAGE, note: str = "") -> Run:
    """Log a passage, split, thaw or freeze; passage and split move the counter by one."""
    if kind not in _PASSAGE_INCREMENT:
        message = f"unknown passage kind {kind!r} (one of {PassageKind.values})"
        raise ValidationFailed(message, fields={"kind": [message]})
    run = lock_run(run.pk)
    require_role(actor, run.lab_id, CAN_WORK, "log passages")
    refuse_unless_active(run, "a passage")
    before = run.passage
    Run.objects.filter(pk=run.pk).update(passage=F("passage") + _PASSAGE_INCREMENT[kind])
    run.refresh_from_db(fields=["passage"])
    event = PassageEvent.objects.create(
        run=run,
        kind=kind,
        passage_before=before,
        passage_after=run.passage,
        at=timezone.now(),
        by=actor,
        note=note.strip(),
    )
    audit_record_many(
        actor=actor,
        changes=[
            run_audit_change(
                "run.passage", run, run, {"passage": before}, {"passage": run.passage, "kind": kind}
            ),
            run_audit_change(
                "passage_event.create",
                event,
                run,
                None,
                {
                    "kind": kind,
                    "passage_before": before,
                    "passage_after": run.passage,
                    "note": event.note,
                },
            ),
        ],
    )
    return run
