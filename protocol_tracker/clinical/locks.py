"""Row locks for clinical records: the recipient row serialises all writes about one person.
A write that also touches a run locks the run first (runs.locks), then the recipient."""

from __future__ import annotations

from protocol_tracker.clinical.models import Recipient


def lock_recipient(pk: int) -> Recipient:
    return (
        Recipient.objects.select_for_update(of=("self",)).select_related("lab", "donor").get(pk=pk)
    )
