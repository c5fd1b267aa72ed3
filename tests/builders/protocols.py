"""Protocols imported through the protocol services (actor None is the system), as a lab would."""

from __future__ import annotations

from typing import Any

from protocol_tracker.protocols.models import ProtocolTemplate
from protocol_tracker.protocols.services import protocol_import
from tests.builders.definitions import api_definition, chain_definition, web_definition


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
