"""Acknowledging the items of a run's review by exception (a reviewer; four eyes)."""

from __future__ import annotations

from collections.abc import Sequence

from django.db import transaction
from django.utils import translation

from labs.models import CAN_REVIEW
from labs.selectors import require_role
from protocol_tracker.audit.services import audit_record_many
from protocol_tracker.core.actors import Person
from protocol_tracker.core.errors import (
    Conflict,
    InvalidTransition,
    SignatureRefused,
    ValidationFailed,
)
from protocol_tracker.core.text import clean_text
from protocol_tracker.outcomes.models import ExceptionAcknowledgement
from protocol_tracker.outcomes.selectors import run_review
from protocol_tracker.qc.models import QCResult
from protocol_tracker.runs.locks import lock_run
from protocol_tracker.runs.models import Run, RunStatus, StageRun
from protocol_tracker.runs.services import run_audit_change

COMMENT_MAX = 4000
ACKNOWLEDGEABLE = (RunStatus.ACTIVE, RunStatus.ON_HOLD, RunStatus.COMPLETED)


def worked_on_run(run: Run, person: Person) -> bool:
    """Whether ``person`` recorded a result or completed a stage of ``run`` (four eyes)."""
    return (
        QCResult.objects.filter(stage_run__run=run, recorded_by=person).exists()
        or StageRun.objects.filter(run=run, completed_by=person).exists()
    )


@transaction.atomic
def exceptions_acknowledge(
    *, run: Run, keys: Sequence[str], actor: Person, comment: str = ""
) -> list[ExceptionAcknowledgement]:
    """Acknowledge items of ``run``'s review by exception (by key), with an optional comment.

    Each key must name a current item not yet acknowledged as it stands. Refused whole,
    nothing written: not a reviewer of the run's lab, someone who worked on the run (four eyes),
    a released or closed run, an unknown or already acknowledged key.
    """
    run = lock_run(run.pk)
    require_role(actor, run.lab_id, CAN_REVIEW, "acknowledge exceptions")
    comment = clean_text(comment, field="comment", max_length=COMMENT_MAX)
    if run.status not in ACKNOWLEDGEABLE:
        raise InvalidTransition(
            f"run {run.code} is {run.status}; its review by exception is closed"
        )
    if worked_on_run(run, actor):
        raise SignatureRefused(
            "four eyes: you recorded results or completed stages of this run; another "
            "reviewer must review its exceptions"
        )
    wanted = list(dict.fromkeys(k.strip() for k in keys if isinstance(k, str) and k.strip()))
    if not wanted:
        raise ValidationFailed(
            "choose the exceptions to acknowledge", fields={"keys": ["required"]}
        )
    # The snapshot of each item is kept in English: the record's own language.
    with translation.override("en"):
        rows = run_review(run).by_key()
    unknown = [k for k in wanted if k not in rows]
    if unknown:
        raise ValidationFailed(
            "not an exception of this run: " + ", ".join(unknown),
            code="unknown_exception",
            fields={"keys": [f"unknown: {k}" for k in unknown]},
        )
    done = [k for k in wanted if rows[k].acknowledged]
    if done:
        raise Conflict(
            "already acknowledged as it stands: " + ", ".join(done),
            code="already_acknowledged",
            fields={"keys": [f"already acknowledged: {k}" for k in done]},
        )
    acks = ExceptionAcknowledgement.objects.bulk_create(
        [
            ExceptionAcknowledgement(
                lab_id=run.lab_id,
                run=run,
                key=k,
                kind=rows[k].item.kind,
                content_hash=rows[k].item.content_hash,
                title=rows[k].item.title,
                comment=comment,
                acknowledged_by=actor,
            )
            for k in wanted
        ]
    )
    audit_record_many(
        actor=actor,
        changes=[
            run_audit_change(
                "exception.acknowledge",
                ack,
                run,
                None,
                {
                    "key": ack.key,
                    "kind": ack.kind,
                    "content_hash": ack.content_hash,
                    "comment": comment,
                },
                comment,
            )
            for ack in acks
        ],
    )
    return acks
