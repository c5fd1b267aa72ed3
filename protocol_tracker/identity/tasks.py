"""Identity tasks: thin, by stable name, id-only arguments."""

from __future__ import annotations

from celery import shared_task

from protocol_tracker.identity.services import vault_rotate


@shared_task(name="identity.vault_rotate", time_limit=3600, soft_time_limit=3500)
def vault_rotate_task() -> int:
    """Re-encrypt every vault token with the newest key (idempotent: a second run rewrites
    nothing)."""
    return vault_rotate()
