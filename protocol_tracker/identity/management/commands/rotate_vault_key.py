"""``manage.py rotate_vault_key``: re-encrypt every patient identifier with the newest key."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from protocol_tracker.identity.services import vault_rotate


class Command(BaseCommand):
    help = (
        "Re-encrypt every vault token with the first key of PATIENT_VAULT_KEYS (keep the old "
        "keys after it until this has run)."
    )

    def handle(self, *args, **options) -> None:
        count = vault_rotate()
        self.stdout.write(f"re-encrypted {count} identifier(s) with the newest key")
