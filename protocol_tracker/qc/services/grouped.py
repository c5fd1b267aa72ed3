"""A grouped disposition: one reviewer's signature closes several minor deviations of one run.

Only minor deviations of the same run and the same kind are grouped (window deviations of a run
that finished each stage a little late are the usual case); major and critical ones are signed
one by one, a rejection too (it fails the run). The whole group is refused when any deviation
in it cannot be disposed of now: closed meanwhile, awaiting its phase I investigation, or about
the reviewer's own work (four eyes). Each deviation records the group, the group the signature.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import transaction
from django.utils import timezone

from labs.models import CAN_REVIEW
from labs.selectors import require_role
from protocol_tracker.audit.services import audit_record_many
from protocol_tracker.core.actors import Person
from protocol_tracker.core.errors import InvalidTransition, SignatureRefused, ValidationFailed
from protocol_tracker.core.text import clean_text
from protocol_tracker.qc.models import (
    Deviation,
    DeviationKind,
    DeviationSeverity,
    DeviationStatus,
    Disposition,
    DispositionGroup,
)
from protocol_tracker.qc.services.deviations import DISPOSITION_MEANING, deviation_state
from protocol_tracker.runs.locks import lock_run
from protocol_tracker.runs.services import run_audit_change
from protocol_tracker.signatures import services as signatures

GROUP_DECISIONS = (Disposition.ACCEPT, Disposition.RETEST)
GROUP_MAX = 200
JUSTIFICATION_MAX = 4000


def _refuse_any(dev: Deviation, actor: Person) -> str | None:
    """Why ``dev`` cannot be part of a group signed by ``actor`` now (None: it can)."""
    label = f"DEV-{dev.pk}"
    if dev.severity == DeviationSeverity.CRITICAL:
        return f"{label} is critical: critical deviations are signed one by one"
    if dev.severity != DeviationSeverity.MINOR:
        return f"{label} is {dev.severity}: only minor deviations can be grouped"
    if not dev.is_open:
        return f"{label} was closed meanwhile"
    if (
        dev.kind in (DeviationKind.OUT_OF_SPEC, DeviationKind.LATE_RESULT)
        and dev.status == DeviationStatus.OPEN
    ):
        return f"{label} needs its phase I laboratory investigation first (FDA OOS guidance)"
    if dev.qc_result is not None and dev.qc_result.recorded_by_id == actor.pk:
        return f"{label}: four eyes, you recorded the result it is about"
    if dev.stage_run is not None and dev.stage_run.completed_by_id == actor.pk:
        return f"{label}: four eyes, you completed the stage it is about"
    return None


@transaction.atomic
def deviation_disposition_group(
    *,
    deviations: Sequence[Deviation],
    decision: str,
    justification: str,
    password: str,
    actor: Person,
) -> DispositionGroup:
    """Close ``deviations`` (two or more minor ones of one run and one kind) with one signed
    decision (accept or retest). Refused whole, nothing written, when any one of them may not
    be disposed of now (the message names each and why)."""
    if decision not in GROUP_DECISIONS:
        raise ValidationFailed(
            "a grouped disposition accepts or orders retests; a rejection fails the run and is "
            "signed on its own deviation",
            fields={"decision": [f"one of {list(GROUP_DECISIONS)}"]},
        )
    justification = clean_text(
        justification, field="justification", max_length=JUSTIFICATION_MAX, required=True
    )
    ids = sorted({d.pk for d in deviations})
    if len(ids) < 2:
        raise ValidationFailed(
            "a grouped disposition covers two or more deviations; sign a single one on its page",
            fields={"deviations": ["choose two or more"]},
        )
    if len(ids) > GROUP_MAX:
        raise ValidationFailed(
            f"at most {GROUP_MAX} deviations in one group",
            fields={"deviations": [f"at most {GROUP_MAX}"]},
        )
    run_ids = set(Deviation.objects.filter(pk__in=ids).values_list("run_id", flat=True))
    if len(run_ids) != 1:
        raise ValidationFailed(
            "a grouped disposition covers deviations of one run",
            fields={"deviations": ["all of one run"]},
        )
    run = lock_run(run_ids.pop())
    require_role(actor, run.lab_id, CAN_REVIEW, "dispose of deviations")
    locked = list(
        Deviation.objects.select_for_update(of=("self",))
        .select_related("qc_result", "stage_run")
        .filter(pk__in=ids)
        .order_by("pk")
    )
    kinds = {d.kind for d in locked}
    if len(kinds) != 1:
        raise ValidationFailed(
            "a grouped disposition covers deviations of one kind; found "
            + ", ".join(sorted(kinds)),
            fields={"deviations": ["all of one kind"]},
        )
    refusals = [reason for d in locked if (reason := _refuse_any(d, actor)) is not None]
    if refusals:
        error = SignatureRefused if all("four eyes" in r for r in refusals) else InvalidTransition
        raise error(
            "the grouped disposition was refused, nothing was signed: " + "; ".join(refusals),
            fields={"deviations": refusals},
        )
    now = timezone.now()
    group = DispositionGroup.objects.create(
        lab_id=run.lab_id,
        run=run,
        kind=kinds.pop(),
        decision=decision,
        justification=justification,
        signed_by=actor,
    )
    changes = []
    for dev in locked:
        before = deviation_state(dev)
        dev.status = DeviationStatus.CLOSED
        dev.disposition = decision
        dev.justification = justification
        dev.closed_by = actor
        dev.closed_at = now
        dev.disposition_group = group
        changes.append(
            run_audit_change(
                "deviation.disposition",
                dev,
                run,
                before,
                {**deviation_state(dev), "disposition_group": group.pk},
                justification,
            )
        )
    Deviation.objects.bulk_update(
        locked,
        ["status", "disposition", "justification", "closed_by", "closed_at", "disposition_group"],
    )
    labels = ", ".join(f"DEV-{d.pk}" for d in locked)
    changes.append(
        run_audit_change(
            "deviation.disposition_group",
            group,
            run,
            None,
            {"decision": decision, "kind": group.kind, "deviations": ids},
            justification,
        )
    )
    audit_record_many(actor=actor, changes=changes)
    signatures.signature_sign(
        signer=actor,
        password=password,
        meaning=DISPOSITION_MEANING[decision],
        obj=group,
        run_id=run.pk,
        statement=(
            f"{decision} {len(locked)} minor {group.kind} deviations as one disposition "
            f"({labels}): {justification}"
        ),
        content={
            "deviations": [
                {"id": d.pk, "title": d.title, "kind": d.kind, "severity": d.severity}
                for d in locked
            ]
        },
    )
    return group
