"""Change control of protocol versions: signed approval for use (four eyes), signed retirement,
and the lab's signed confirmation of the specs a protocol marks as conventions (``CONV``).

- A draft is published only by a reviewer (QA) who is neither its creator nor one of its
  editors, with a reason and their e-signature meaning "approved for use"; the signed record
  (:class:`~protocol_tracker.protocols.models.ProtocolApproval`) carries the diff from the
  previous version. The approver names the definition they reviewed (its hash): a draft edited
  since is refused (the edit and the approval serialise on the protocol row's lock).
- A published version is retired by a reviewer's signature, with a reason.
- A convention-marked spec gates nothing until a reviewer of the lab has confirmed it (one
  signature may confirm a set); publishing refuses while any is unconfirmed.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import transaction

from labs.models import CAN_REVIEW
from labs.selectors import require_role
from protocol_tracker.audit.services import Change, audit_record, audit_record_many
from protocol_tracker.core.actors import Person
from protocol_tracker.core.errors import (
    Conflict,
    InvalidTransition,
    SignatureRefused,
    ValidationFailed,
)
from protocol_tracker.core.text import clean_text
from protocol_tracker.protocols.models import (
    ApprovalAction,
    ConventionConfirmation,
    ProtocolApproval,
    ProtocolStatus,
    ProtocolTemplate,
)
from protocol_tracker.protocols.selectors import (
    protocol_authors,
    protocol_change_diff,
    protocol_conventions,
)
from protocol_tracker.protocols.services.content import canonical_of
from protocol_tracker.protocols.services.guards import lock_protocol
from protocol_tracker.protocols.services.lifecycle import publish_locked
from protocol_tracker.signatures.models import SignatureMeaning
from protocol_tracker.signatures.services import signature_sign

REASON_MAX = 4000


def _reason(reason: str) -> str:
    return clean_text(reason, field="reason", max_length=REASON_MAX, required=True)


@transaction.atomic
def protocol_publish(
    *,
    protocol: ProtocolTemplate,
    actor: Person,
    password: str,
    reason: str,
    reviewed_hash: str,
    retire_previous: bool = False,
) -> ProtocolTemplate:
    """Approve a draft for use: validate, freeze and sign (meaning "approved for use").

    ``reviewed_hash`` is the definition hash the approver reviewed
    (:func:`~protocol_tracker.protocols.selectors.protocol_review_hash`); a draft changed since
    is refused (``Conflict``). Refused too: not a reviewer, the draft's own creator or editor
    (four eyes), no reason, any publishing rule broken, any convention unconfirmed, a wrong
    password. Nothing is written when refused. ``retire_previous`` retires the earlier
    published versions in the same signed act.
    """
    require_role(actor, protocol.lab_id, CAN_REVIEW, "approve protocol versions for use")
    reason = _reason(reason)
    protocol = lock_protocol(protocol)
    if protocol.is_frozen:
        raise InvalidTransition(
            f"protocol '{protocol}' is {protocol.status}; only a draft can be published"
        )
    if actor.pk in protocol_authors(protocol=protocol):
        raise SignatureRefused(
            f"four eyes: you wrote or edited the draft '{protocol}'; another reviewer must "
            "approve it"
        )
    canonical = canonical_of(protocol)
    changes = publish_locked(protocol, actor, canonical=canonical, retire_previous=retire_previous)
    if protocol.definition_hash != (reviewed_hash or "").strip():
        raise Conflict(
            f"protocol '{protocol}' changed since you reviewed it; review it again before "
            "approving",
            code="protocol_changed",
            fields={"reviewed_hash": ["the draft changed since it was reviewed"]},
        )
    audit_record_many(actor=actor, changes=changes)
    diff = protocol_change_diff(protocol=protocol)
    approval = ProtocolApproval.objects.create(
        lab_id=protocol.lab_id,
        protocol=protocol,
        action=ApprovalAction.APPROVED_FOR_USE,
        reason=reason,
        compared_with=protocol.previous_version,
        diff=diff,
        definition_hash=protocol.definition_hash,
        signed_by=actor,
    )
    retired = [c.obj for c in changes if c.action == "protocol.retired"]
    statement = f"approved {protocol} for use: {reason}"
    if retired:
        statement += "; retired " + ", ".join(str(p) for p in retired)
    signature = signature_sign(
        signer=actor,
        password=password,
        meaning=SignatureMeaning.APPROVED_FOR_USE,
        obj=approval,
        statement=statement,
        content={"definition_hash": protocol.definition_hash, "diff": diff},
    )
    audit_record(
        actor=actor,
        action="protocol.approved",
        obj=approval,
        lab_id=protocol.lab_id,
        after={
            "protocol": protocol.pk,
            "definition_hash": protocol.definition_hash,
            "signature": signature.pk,
        },
        reason=reason,
    )
    return protocol


@transaction.atomic
def protocol_retire(
    *, protocol: ProtocolTemplate, actor: Person, password: str, reason: str
) -> ProtocolTemplate:
    """Stop offering a published version for new runs, with a reviewer's signature and a
    reason; runs already pinned to it go on."""
    require_role(actor, protocol.lab_id, CAN_REVIEW, "retire protocol versions")
    reason = _reason(reason)
    protocol = lock_protocol(protocol)
    if protocol.status != ProtocolStatus.PUBLISHED:
        raise InvalidTransition(
            f"protocol '{protocol}' is {protocol.status}; only a published version can be retired"
        )
    protocol.status = ProtocolStatus.RETIRED
    protocol.save(update_fields=["status"])
    audit_record(
        actor=actor,
        action="protocol.retired",
        obj=protocol,
        lab_id=protocol.lab_id,
        before={"status": ProtocolStatus.PUBLISHED},
        after={"status": ProtocolStatus.RETIRED},
        reason=reason,
    )
    approval = ProtocolApproval.objects.create(
        lab_id=protocol.lab_id,
        protocol=protocol,
        action=ApprovalAction.RETIRED,
        reason=reason,
        definition_hash=protocol.definition_hash,
        signed_by=actor,
    )
    signature_sign(
        signer=actor,
        password=password,
        meaning=SignatureMeaning.RETIRED,
        obj=approval,
        statement=f"retired {protocol} from use: {reason}",
    )
    return protocol


@transaction.atomic
def conventions_confirm(
    *,
    protocol: ProtocolTemplate,
    checkpoint_keys: Sequence[str],
    actor: Person,
    password: str,
    comment: str = "",
) -> list[ConventionConfirmation]:
    """Confirm convention-marked specs of a draft for the lab, with one signature (meaning
    "convention confirmed"); a reviewer of the protocol's lab.

    ``checkpoint_keys`` names them (each a convention of this draft not yet confirmed as it
    stands). Refused whole, nothing written, when one is not.
    """
    require_role(actor, protocol.lab_id, CAN_REVIEW, "confirm conventions")
    comment = clean_text(comment, field="comment", max_length=REASON_MAX)
    protocol = lock_protocol(protocol)
    if protocol.is_frozen:
        raise InvalidTransition(
            f"protocol '{protocol}' is {protocol.status}; conventions are confirmed in a draft"
        )
    keys = list(dict.fromkeys(k.strip() for k in checkpoint_keys if k and k.strip()))
    if not keys:
        raise ValidationFailed(
            "choose the conventions to confirm", fields={"checkpoint_keys": ["required"]}
        )
    rows = {row.key: row for row in protocol_conventions(protocol=protocol)}
    problems = []
    for key in keys:
        row = rows.get(key)
        if row is None:
            problems.append(f"'{key}' is not a convention-marked spec of this draft")
        elif row.confirmed:
            problems.append(f"'{row.name}' is already confirmed")
    if problems:
        raise ValidationFailed(
            "; ".join(problems), code="convention_invalid", fields={"checkpoint_keys": problems}
        )
    chosen = [rows[k] for k in keys]
    signature = signature_sign(
        signer=actor,
        password=password,
        meaning=SignatureMeaning.CONFIRMED,
        obj=protocol,
        statement=(
            f"confirmed for use in this lab the convention-marked specs of {protocol}: "
            + ", ".join(f"{r.name} ({r.key})" for r in chosen)
            + (f"; {comment}" if comment else "")
        ),
        content={"conventions": [{**r.content, "hash": r.convention_hash} for r in chosen]},
    )
    confirmations = ConventionConfirmation.objects.bulk_create(
        [
            ConventionConfirmation(
                lab_id=protocol.lab_id,
                protocol_code=protocol.code,
                confirmed_in=protocol,
                checkpoint_key=r.key,
                convention_hash=r.convention_hash,
                convention=r.content,
                comment=comment,
                confirmed_by=actor,
                signature=signature,
            )
            for r in chosen
        ]
    )
    audit_record_many(
        actor=actor,
        changes=[
            Change(
                action="protocol.convention_confirmed",
                obj=c,
                lab_id=protocol.lab_id,
                after={
                    "protocol": protocol.pk,
                    "checkpoint": c.checkpoint_key,
                    "convention_hash": c.convention_hash,
                    "signature": signature.pk,
                },
                reason=comment,
            )
            for c in confirmations
        ],
    )
    return confirmations
