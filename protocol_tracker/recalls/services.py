"""Recalling a material lot: the lot is withdrawn, and every run that used it (released ones
too) is flagged, gets a deviation, and the lab's reviewers are told at once.

A run outcome: it reaches up from a lot (materials) through the runs that used it (usage) to
their deviations (qc), so it lives above qc. The recall is signed by a reviewer (meaning
``rejected``: QA withdraws the lot), over the lot and the list of runs it reaches. Runs are
locked first, in ``pk`` order, then the lot (the order of every service that draws from a lot);
a run that drew from the lot between the first read and the lot's lock is found again under the
lock and locked then, so no using run is left out. Only the lot's own lab is reached: a lot
belongs to one lab and only its runs can draw from it.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from labs.models import CAN_REVIEW
from labs.selectors import require_role
from protocol_tracker.audit.services import audit_record_many
from protocol_tracker.core.actors import Person
from protocol_tracker.core.errors import Conflict
from protocol_tracker.core.tasks import enqueue_on_commit
from protocol_tracker.core.text import clean_text
from protocol_tracker.materials.locks import lock_lot
from protocol_tracker.materials.models import LotStatus, MaterialLot
from protocol_tracker.materials.services import lot_mark_recalled
from protocol_tracker.qc.models import Deviation, DeviationKind, DeviationSeverity
from protocol_tracker.qc.services import deviation_create_system
from protocol_tracker.runs.locks import lock_runs
from protocol_tracker.runs.models import RunStatus
from protocol_tracker.runs.services import run_flag
from protocol_tracker.signatures.models import SignatureMeaning
from protocol_tracker.signatures.services import signature_sign
from protocol_tracker.usage.selectors import lot_using_run_ids

LOT_RECALLED_TASK = "reminders.lot_recalled"


@transaction.atomic
def lot_recall(*, lot: MaterialLot, actor: Person, password: str, reason: str) -> list[Deviation]:
    """Recall ``lot`` (a reviewer, signing with their password): the lot is marked recalled and
    cannot be used again; each run that used it is flagged and gets a deviation (critical when
    the run was released: the product is out; major otherwise); the reviewers are notified
    after commit. Returns the deviations opened, by run id."""
    reason = clean_text(reason, field="reason", max_length=1000, required=True)
    require_role(actor, lot.lab_id, CAN_REVIEW, "recall material lots")
    runs = lock_runs(lot_using_run_ids(lot=lot))
    lot = lock_lot(lot.pk)
    if lot.status == LotStatus.RECALLED:
        raise Conflict(
            f"{lot.material.name} lot {lot.lot_number} was already recalled",
            code="already_recalled",
        )
    late = [pk for pk in lot_using_run_ids(lot=lot) if pk not in runs]
    if late:
        runs.update(lock_runs(late))
    now = timezone.now()
    label = f"{lot.material.name} lot {lot.lot_number}"
    signature_sign(
        signer=actor,
        password=password,
        meaning=SignatureMeaning.REJECTED,
        obj=lot,
        statement=f"I recall {label}: {reason}",
        content={"runs": sorted(runs), "reason": reason},
    )
    changes = [lot_mark_recalled(lot, reason=reason, now=now)]
    deviations = []
    for run in (runs[pk] for pk in sorted(runs)):
        flag = f"material lot recalled: {label} ({reason})"
        changes += run_flag(run, flag=flag, reason=reason)
        released = run.status == RunStatus.RELEASED
        deviations.append(
            deviation_create_system(
                run=run,
                kind=DeviationKind.MATERIAL_RECALL,
                severity=DeviationSeverity.CRITICAL if released else DeviationSeverity.MAJOR,
                actor=actor,
                title=f"Recalled material used: {label}",
                description=(
                    f"{label} (expiry {lot.expiry_date:%Y-%m-%d}) was recalled on "
                    f"{now.astimezone(run.lab.tz):%Y-%m-%d %H:%M %Z} by "
                    f"{actor.get_username()}: {reason}. The run was "
                    f"{run.get_status_display().lower()} when the recall reached it."
                ),
            )
        )
    audit_record_many(actor=actor, changes=changes)
    enqueue_on_commit(LOT_RECALLED_TASK, lot.pk)
    return deviations
