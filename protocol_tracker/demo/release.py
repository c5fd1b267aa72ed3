"""Demo change control and release for the embedded default (``manage.py seed_demo``).

The default protocols come in as drafts; the demo reviewer confirms their convention-marked
specs with one signature and approves each version for use, through the real services, as a
lab's QA would. Idempotent: versions already published are left alone.
"""

from __future__ import annotations

from django.db import transaction

from labs.models import Lab
from protocol_tracker.protocols import selectors as protocol_selectors
from protocol_tracker.protocols.models import ProtocolTemplate
from protocol_tracker.protocols.services import (
    conventions_confirm,
    protocol_import_defaults,
    protocol_publish,
)

APPROVAL_REASON = "Demo: the default protocols reviewed against their sources and approved for use"


@transaction.atomic
def demo_protocols_approve(*, lab: Lab, author, reviewer, password: str) -> list[ProtocolTemplate]:
    """Import the defaults (by ``author``, or the system), confirm their conventions and approve
    them for use (``reviewer``)."""
    protocols = []
    for draft in protocol_import_defaults(lab=lab, actor=author):
        if draft.is_frozen:
            protocols.append(draft)
            continue
        unconfirmed = [
            row.key
            for row in protocol_selectors.protocol_conventions(protocol=draft)
            if not row.confirmed
        ]
        if unconfirmed:
            conventions_confirm(
                protocol=draft,
                checkpoint_keys=unconfirmed,
                actor=reviewer,
                password=password,
                comment="Demo: accepted as this lab's own acceptance criteria",
            )
        protocols.append(
            protocol_publish(
                protocol=draft,
                actor=reviewer,
                password=password,
                reason=APPROVAL_REASON,
                reviewed_hash=protocol_selectors.protocol_review_hash(protocol=draft),
            )
        )
    return protocols
