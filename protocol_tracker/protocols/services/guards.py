"""What every protocol write starts with: the designer's role, the row lock, the frozen check.

Also the small shared pieces of the writes: field snapshots for the audit entry, the person (not
the system) to stamp on a row, and version allocation ("highest + 1", serialised per lab).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.db.models import Max, Model

from labs.models import CAN_ADMINISTER, Lab
from labs.selectors import has_role
from protocol_tracker.core.actors import Actor, Person
from protocol_tracker.core.errors import InvalidTransition, NotPermitted, ValidationFailed
from protocol_tracker.protocols.models import DraftAuthor, ProtocolStatus, ProtocolTemplate


def require_designer(actor: Actor | None, lab_id: int) -> None:
    """Protocol design needs lab_admin in the protocol's lab; None is the system."""
    if actor is None:
        return
    if not has_role(actor, lab_id, CAN_ADMINISTER):
        raise NotPermitted("only a lab admin of this lab may design, publish or retire protocols")


def frozen_error(protocol: ProtocolTemplate) -> InvalidTransition:
    return InvalidTransition(
        f"protocol '{protocol.name} v{protocol.version}' is {protocol.status} and frozen; "
        "create a new version to change it",
        code="protocol_frozen",
    )


def lock_protocol(protocol: ProtocolTemplate) -> ProtocolTemplate:
    """The protocol row, locked for the rest of the transaction (its lab joined)."""
    return (
        ProtocolTemplate.objects.select_for_update(of=("self",))
        .select_related("lab")
        .get(pk=protocol.pk)
    )


def lock_draft(protocol: ProtocolTemplate, actor: Actor | None) -> ProtocolTemplate:
    """Check the role, lock the protocol row and insist it is still a draft; the actor becomes
    one of the draft's authors (who may not approve it)."""
    require_designer(actor, protocol.lab_id)
    locked = lock_protocol(protocol)
    if locked.is_frozen:
        raise frozen_error(locked)
    note_author(locked, actor)
    return locked


def note_author(protocol: ProtocolTemplate, actor: Actor | None) -> None:
    """Remember that ``actor`` (a person) wrote part of the draft ``protocol`` (four eyes)."""
    person = person_or_none(actor)
    if person is not None and person.pk != protocol.created_by_id:
        DraftAuthor.objects.get_or_create(protocol=protocol, user=person)


def raise_if(problems: dict[str, list[str]], message: str) -> None:
    if problems:
        raise ValidationFailed(message, fields=problems)


def person_or_none(actor: Actor | None) -> Person | None:
    """The user to stamp on a row (``created_by``, ``published_by``); None for the system."""
    return actor if isinstance(actor, AbstractBaseUser) else None


def snapshot(obj: Model, fields: Sequence[str]) -> dict[str, Any]:
    return {field: getattr(obj, field) for field in fields}


def lock_lab(lab: Lab) -> None:
    # Version numbers are "highest + 1": serialise their allocation per lab.
    Lab.objects.select_for_update().filter(pk=lab.pk).values_list("pk", flat=True).get()


def latest_frozen(lab: Lab, code: str) -> ProtocolTemplate | None:
    # previous_version links frozen versions only, so a draft can always be discarded.
    return (
        ProtocolTemplate.objects.filter(lab=lab, code=code)
        .exclude(status=ProtocolStatus.DRAFT)
        .order_by("-version")
        .first()
    )


def next_version(lab: Lab, code: str) -> int:
    highest = ProtocolTemplate.objects.filter(lab=lab, code=code).aggregate(v=Max("version"))["v"]
    return (highest or 0) + 1
