"""``manage.py create_instrument_token --lab SLUG --name NAME [--kind KIND --assays A,B ...]``.

Issues an instrument API token (printed once on stdout, stored only as a SHA-256 hash). When the
instrument does not exist yet and ``--kind`` is given, it is created first, in the same
transaction and through the same service as the equipment screens: kind, make/model/serial and
the assays it may post, checked against the lab's published protocols; it is registered as
equipment too, so that its calibration gates its results. ``--rotate`` revokes the instrument's
other tokens. What the instrument needs to post (its assays and their checkpoint keys, which stay
the same across protocol versions) is printed on stderr.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from labs.models import Instrument, InstrumentCredential, InstrumentKind, Lab
from labs.services import instrument_credential_issue, instrument_credential_revoke
from protocol_tracker.core.errors import DomainError
from protocol_tracker.equipment.selectors import (
    instrument_assays_of_lab,
    instrument_checkpoints_of_lab,
)
from protocol_tracker.equipment.services import instrument_register


class Command(BaseCommand):
    help = (
        "Issue an API token for an instrument (created first when --kind is given); the token "
        "is shown once and stored hashed."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--lab", required=True, help="The lab's slug.")
        parser.add_argument("--name", required=True, help="The instrument's name in that lab.")
        parser.add_argument(
            "--rotate", action="store_true", help="Revoke the instrument's existing tokens."
        )
        new = parser.add_argument_group("creating the instrument (when it does not exist)")
        new.add_argument("--kind", choices=InstrumentKind.values, help="Create it of this kind.")
        new.add_argument(
            "--assays",
            default="",
            help="Comma-separated assay codes it may post (from the lab's published protocols).",
        )
        new.add_argument("--make", default="")
        new.add_argument("--model", default="")
        new.add_argument("--serial", default="")
        new.add_argument(
            "--calibration-interval-days",
            type=int,
            default=None,
            help="Calibration interval; it is out of calibration until its first calibration.",
        )

    def handle(self, *args, lab: str, name: str, rotate: bool, kind: str | None, **options):
        lab_obj = Lab.objects.filter(slug=lab).first()
        if lab_obj is None:
            raise CommandError(f"no lab with slug {lab!r}")
        created = False
        with transaction.atomic():
            instrument = Instrument.objects.filter(lab=lab_obj, name=name).first()
            if instrument is None:
                if kind is None:
                    known = ", ".join(
                        Instrument.objects.filter(lab=lab_obj).values_list("name", flat=True)
                    )
                    assays = ", ".join(instrument_assays_of_lab(lab=lab_obj)) or "none"
                    raise CommandError(
                        f"no instrument named {name!r} in lab {lab!r} (known: {known or 'none'}); "
                        f"give --kind ({'/'.join(InstrumentKind.values)}) and --assays (of: "
                        f"{assays}) to create it"
                    )
                try:
                    instrument = instrument_register(
                        lab=lab_obj,
                        name=name,
                        kind=kind,
                        allowed_assays=[
                            a.strip() for a in options["assays"].split(",") if a.strip()
                        ],
                        make=options["make"],
                        model=options["model"],
                        serial=options["serial"],
                        calibration_interval_days=options["calibration_interval_days"],
                        actor=None,
                    )
                except DomainError as exc:
                    raise CommandError(exc.message) from None
                created = True
            elif kind is not None and kind != instrument.kind:
                raise CommandError(
                    f"instrument {name!r} exists and is a {instrument.kind}; --kind applies only "
                    "when creating it"
                )
            if not instrument.is_active:
                raise CommandError(f"instrument {name!r} is disabled; enable it first")
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
            ("Created instrument " if created else "Instrument ")
            + f"{instrument.name} ({instrument.kind}) in {lab_obj.slug}. "
            + f"Token {credential.prefix} issued"
            + (f"; {revoked} older token(s) revoked" if revoked else "")
            + ". It is shown only now; send it as 'Authorization: Token <token>'."
        )
        allowed = set(instrument.allowed_assays or [])
        for row in instrument_checkpoints_of_lab(lab=lab_obj):
            if row["assay"] in allowed:
                self.stderr.write(
                    f"  may post {row['assay']}: checkpoint key {row['key']!r} "
                    f"(protocol {row['protocol__code']}, stage {row['stage__key']}, "
                    f"unit {row['unit'] or '-'})"
                )
        self.stdout.write(token)
