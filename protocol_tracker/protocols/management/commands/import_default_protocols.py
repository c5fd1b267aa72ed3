"""``manage.py import_default_protocols --lab <slug>``: load the default protocols as drafts."""

from django.core.management.base import BaseCommand, CommandError

from labs.models import Lab
from protocol_tracker.core.errors import DomainError
from protocol_tracker.protocols.services import protocol_import_defaults


class Command(BaseCommand):
    help = (
        "Import the default protocols into a lab as drafts (idempotent): the lab confirms "
        "their conventions and a reviewer approves each for use."
    )

    def add_arguments(self, parser):
        parser.add_argument("--lab", required=True, help="slug of the lab")

    def handle(self, *args, lab: str, **options):
        try:
            target = Lab.objects.get(slug=lab)
        except Lab.DoesNotExist:
            raise CommandError(f"no lab with slug '{lab}'") from None
        try:
            protocols = protocol_import_defaults(lab=target, actor=None)
        except DomainError as exc:
            raise CommandError(exc.message) from None
        for protocol in protocols:
            self.stdout.write(f"{protocol.code} v{protocol.version}: {protocol.status}")
