"""Idempotent demo data for the embedded default. Refuses to run under the production profile."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from labs.models import Lab, Role
from labs.services import membership_set
from protocol_tracker.demo.runs import demo_runs_seed
from protocol_tracker.demo.stock import demo_stock_seed
from protocol_tracker.protocols.services import protocol_import_defaults

DEMO_PASSWORD = "demo"  # noqa: S105 - demo accounts exist only outside production
DEMO_LABS = [
    {"slug": "demo", "name": "Demo Lab", "timezone": "Asia/Shanghai"},
    {"slug": "other", "name": "Other Lab", "timezone": "Europe/London"},
]
DEMO_USERS = [
    # username, lab slug, role, staff
    ("demo-tech", "demo", Role.TECHNICIAN, False),
    ("demo-reviewer", "demo", Role.REVIEWER, False),
    ("demo-admin", "demo", Role.LAB_ADMIN, True),
    ("other-tech", "other", Role.TECHNICIAN, False),
]


class Command(BaseCommand):
    help = "Create (or bring up to date) the demo labs, users, protocols and runs."

    def handle(self, *args, **options):
        if settings.DJANGO_ENV == "production":
            raise CommandError("seed_demo refuses to run with DJANGO_ENV=production")
        with transaction.atomic():
            labs = {spec["slug"]: self._lab(spec) for spec in DEMO_LABS}
            users = {}
            for username, slug, role, staff in DEMO_USERS:
                users[username] = self._user(username, staff)
                membership_set(lab=labs[slug], user=users[username], role=role, actor=None)
            self._workflow(labs, users)
        port = settings.CONFIG.port
        self.stdout.write(self.style.SUCCESS("Demo data ready."))
        self.stdout.write(f"  Open http://127.0.0.1:{port}/  (admin: /admin/, API: /api/v1/docs/)")
        self.stdout.write(
            "  Logins (password 'demo'): demo-tech (technician), demo-reviewer (reviewer), "
            "demo-admin (lab admin), other-tech (Other Lab)"
        )

    def _lab(self, spec: dict) -> Lab:
        lab, _ = Lab.objects.get_or_create(
            slug=spec["slug"], defaults={"name": spec["name"], "timezone": spec["timezone"]}
        )
        return lab

    def _user(self, username: str, staff: bool):
        user_model = get_user_model()
        user, created = user_model.objects.get_or_create(
            username=username, defaults={"email": f"{username}@demo.invalid", "is_staff": staff}
        )
        if created or not user.check_password(DEMO_PASSWORD):
            user.set_password(DEMO_PASSWORD)
            user.save(update_fields=["password"])
        return user

    def _workflow(self, labs: dict, users: dict) -> None:
        for lab in labs.values():
            protocol_import_defaults(lab=lab, actor=None)
        demo_runs_seed(
            lab=labs["demo"], technician=users["demo-tech"], reviewer=users["demo-reviewer"]
        )
        demo_stock_seed(
            lab=labs["demo"],
            technician=users["demo-tech"],
            reviewer=users["demo-reviewer"],
            admin=users["demo-admin"],
        )
