"""Protocols imported through the protocol services (actor None is the system), as a lab would."""

from __future__ import annotations

from typing import Any

from labs.models import Membership
from protocol_tracker.protocols import selectors as protocol_selectors
from protocol_tracker.protocols.models import ProtocolTemplate
from protocol_tracker.protocols.services import (
    conventions_confirm,
    protocol_import,
    protocol_import_defaults,
    protocol_publish,
)
from tests.builders.definitions import api_definition, chain_definition, web_definition
from tests.factories import PASSWORD, MembershipFactory, UserFactory


def published_protocol(lab, n: int = 3, **kwargs: Any) -> ProtocolTemplate:
    """A published chain of ``n`` stages (``chain_definition``)."""
    return protocol_import(lab=lab, definition=chain_definition(n, **kwargs))


def draft_protocol(lab, n: int = 3, **kwargs: Any) -> ProtocolTemplate:
    """A draft chain of ``n`` stages (``chain_definition``)."""
    return protocol_import(lab=lab, definition=chain_definition(n, **kwargs), publish=False)


def api_protocol(lab, code: str = "api-test", *, publish: bool = True) -> ProtocolTemplate:
    """``api_definition``: expand (viability, events, density) → bank."""
    return protocol_import(lab=lab, definition=api_definition(code), publish=publish)


def web_protocol(lab, **kwargs: Any) -> ProtocolTemplate:
    """``web_definition``, published: expand (viability) → release (endotoxin)."""
    return protocol_import(lab=lab, definition=web_definition(**kwargs))


def qa_reviewer(lab):
    """The lab's change-control reviewer (``qa-<lab>``, password ``PASSWORD``), made once."""
    user = UserFactory(username=f"qa-{lab.slug}")
    if not Membership.objects.filter(user=user, lab=lab).exists():
        MembershipFactory(user=user, lab=lab, role="reviewer")
    return user


def approve(
    draft: ProtocolTemplate, reviewer=None, *, reason: str = "validated for use", **kwargs: Any
):
    """Confirm every convention of ``draft`` and approve it for use, signed by ``reviewer``
    (the lab's ``qa_reviewer`` by default), as a lab's QA would."""
    reviewer = reviewer or qa_reviewer(draft.lab)
    keys = [
        r.key for r in protocol_selectors.protocol_conventions(protocol=draft) if not r.confirmed
    ]
    if keys:
        conventions_confirm(
            protocol=draft, checkpoint_keys=keys, actor=reviewer, password=PASSWORD,
            comment="accepted as the lab's own criteria",
        )  # fmt: skip
    return protocol_publish(
        protocol=draft,
        actor=reviewer,
        password=PASSWORD,
        reason=reason,
        reviewed_hash=protocol_selectors.protocol_review_hash(protocol=draft),
        **kwargs,
    )


def published_defaults(lab, reviewer=None) -> list[ProtocolTemplate]:
    """Both default protocols, imported as drafts, their conventions confirmed and approved."""
    return [p if p.is_frozen else approve(p, reviewer) for p in protocol_import_defaults(lab=lab)]
