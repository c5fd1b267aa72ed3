"""Idempotent demo data for the embedded default. Refuses to run under the production profile."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from labs.models import Lab, Role
from labs.services import membership_set
from protocol_tracker.demo.clinical import demo_clinical_seed
from protocol_tracker.demo.custody import demo_custody_seed
from protocol_tracker.demo.release import demo_protocols_approve, demo_release_seed
from protocol_tracker.demo.runs import demo_runs_seed
from protocol_tracker.demo.stock import demo_stock_seed

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
    ("demo-clinician", "demo", Role.CLINICIAN, False),
    ("other-tech", "other", Role.TECHNICIAN, False),
    ("other-reviewer", "other", Role.REVIEWER, False),
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
            "demo-admin (lab admin), demo-clinician (clinician), other-tech and other-reviewer "
            "(Other Lab)"
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
        authors = {"demo": users["demo-admin"], "other": None}
        reviewers = {"demo": users["demo-reviewer"], "other": users["other-reviewer"]}
        for slug, lab in labs.items():
            demo_protocols_approve(
                lab=lab, author=authors[slug], reviewer=reviewers[slug], password=DEMO_PASSWORD
            )
        demo_runs_seed(
            lab=labs["demo"], technician=users["demo-tech"], reviewer=users["demo-reviewer"]
        )
        demo_release_seed(
            lab=labs["demo"],
            technician=users["demo-tech"],
            reviewer=users["demo-reviewer"],
            password=DEMO_PASSWORD,
        )
        demo_custody_seed(lab=labs["demo"], technician=users["demo-tech"])
        demo_clinical_seed(
            lab=labs["demo"],
            technician=users["demo-tech"],
            reviewer=users["demo-reviewer"],
            clinician=users["demo-clinician"],
            password=DEMO_PASSWORD,
        )
        demo_stock_seed(
            lab=labs["demo"],
            technician=users["demo-tech"],
            reviewer=users["demo-reviewer"],
            admin=users["demo-admin"],
            password=DEMO_PASSWORD,
        )
