"""``manage.py create_instrument_token --lab SLUG --name NAME``: issue an instrument API token.

The token is printed once and stored only as a SHA-256 hash (``labs.services``). The instrument
must exist (create it, with its allowed assays and CSV mapping, in the admin). ``--rotate``
revokes the instrument's other tokens in the same transaction.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from labs.models import Instrument, InstrumentCredential, Lab
from labs.services import instrument_credential_issue, instrument_credential_revoke


class Command(BaseCommand):
    help = "Issue an API token for an instrument; the token is shown once and stored hashed."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--lab", required=True, help="The lab's slug.")
        parser.add_argument("--name", required=True, help="The instrument's name in that lab.")
        parser.add_argument(
            "--rotate", action="store_true", help="Revoke the instrument's existing tokens."
        )

    def handle(self, *args, lab: str, name: str, rotate: bool, **options) -> None:
        lab_obj = Lab.objects.filter(slug=lab).first()
        if lab_obj is None:
            raise CommandError(f"no lab with slug {lab!r}")
        instrument = Instrument.objects.filter(lab=lab_obj, name=name).first()
        if instrument is None:
            known = ", ".join(Instrument.objects.filter(lab=lab_obj).values_list("name", flat=True))
            raise CommandError(
                f"no instrument named {name!r} in lab {lab!r} (known: {known or 'none'}); "
                "create it in the admin first"
            )
        if not instrument.is_active:
            raise CommandError(f"instrument {name!r} is disabled; enable it first")
        with transaction.atomic():
            revoked = 0
            if rotate:
                for credential in InstrumentCredential.objects.filter(
                    instrument=instrument, revoked_at__isnull=True
                ).order_by("pk"):
                    instrument_credential_revoke(
                        credential=credential,
                        actor=None,
                        reason="rotated by create_instrument_token",
                    )
                    revoked += 1
            credential, token = instrument_credential_issue(instrument=instrument, actor=None)
        self.stderr.write(
            f"Token {credential.prefix} issued for {instrument.name} ({lab_obj.slug})"
            + (f"; {revoked} older token(s) revoked" if revoked else "")
            + ". It is shown only now; send it as 'Authorization: Token <token>'."
        )
        self.stdout.write(token)
