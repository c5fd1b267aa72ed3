"""Labs, memberships and roles, instruments and their credentials."""

from __future__ import annotations

import zoneinfo
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from protocol_tracker.core.scoping import LabScopedQuerySet


def validate_timezone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(
            _("%(value)s is not a known IANA time zone."), params={"value": value}
        )


class Role(models.TextChoices):
    TECHNICIAN = "technician", _("Technician")
    REVIEWER = "reviewer", _("Reviewer (PI / QA)")
    LAB_ADMIN = "lab_admin", _("Lab admin")
    VIEWER = "viewer", _("Viewer")
    # A clinician (transplant team, study nurse) works with the patient: sees the patient
    # identifiers behind the pseudonym and records clinical data; reads the rest like a viewer.
    CLINICIAN = "clinician", _("Clinician")


# Who may do what, by role. Services check these; the UI and API only hide what they cannot do.
CAN_WORK = frozenset({Role.TECHNICIAN, Role.REVIEWER, Role.LAB_ADMIN})
CAN_REVIEW = frozenset({Role.REVIEWER})
CAN_ADMINISTER = frozenset({Role.LAB_ADMIN})
# Who keeps the lab's registers (the materials catalogue, the equipment and storage): QA and the
# lab's administrators.
CAN_MANAGE = frozenset({Role.REVIEWER, Role.LAB_ADMIN})
# The roles that may see who a pseudonymous donor is (the identifier vault; every read audited).
CAN_SEE_PATIENT = frozenset({Role.CLINICIAN})


class LabLanguage(models.TextChoices):
    ENGLISH = "en", _("English")
    CHINESE = "zh-hans", _("Simplified Chinese")


class Lab(models.Model):
    name = models.CharField(max_length=200, unique=True)
    slug = models.SlugField(max_length=50, unique=True)
    timezone = models.CharField(max_length=64, default="UTC", validators=[validate_timezone])
    reminder_lead = models.DurationField(
        default=timedelta(hours=24),
        help_text=_("Default 'due soon' lead time where a stage sets none."),
    )
    escalation_delay = models.DurationField(
        default=timedelta(hours=4),
        help_text=_("How long work may be overdue before the reviewers are told."),
    )
    digest_hour = models.PositiveSmallIntegerField(
        default=7,
        validators=[MinValueValidator(0), MaxValueValidator(23)],
        help_text=_("Local hour at which reviewers get their daily digest."),
    )
    late_entry_threshold = models.DurationField(
        default=timedelta(hours=24),
        help_text=_(
            "A result recorded longer than this after it was measured is listed for the "
            "release review (ALCOA+: contemporaneous records; the lab sets the limit)."
        ),
    )
    language = models.CharField(
        max_length=10,
        choices=LabLanguage.choices,
        default=LabLanguage.ENGLISH,
        help_text=_("The language of the lab's documents (certificates of analysis)."),
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = LabScopedQuerySet.as_manager()
    lab_field = "pk"

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(digest_hour__gte=0, digest_hour__lte=23),
                name="lab_digest_hour_0_23",
            ),
            models.CheckConstraint(
                condition=models.Q(late_entry_threshold__gt=timedelta(0)),
                name="lab_late_entry_threshold_positive",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)


class Membership(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    lab = models.ForeignKey(Lab, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=20, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = LabScopedQuerySet.as_manager()
    lab_field = "lab"

    class Meta:
        ordering = ["lab__name", "user__username"]
        constraints = [
            models.UniqueConstraint(fields=["user", "lab"], name="membership_one_role_per_lab"),
        ]

    def __str__(self) -> str:
        return f"{self.user} @ {self.lab} ({self.get_role_display()})"


class InstrumentKind(models.TextChoices):
    FLOW_CYTOMETER = "flow_cytometer", _("Flow cytometer")
    CELL_COUNTER = "cell_counter", _("Cell counter")
    PLATE_READER = "plate_reader", _("Plate reader")
    QPCR = "qpcr", _("qPCR")
    OTHER = "other", _("Other")


class Instrument(models.Model):
    lab = models.ForeignKey(Lab, on_delete=models.PROTECT, related_name="instruments")
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=20, choices=InstrumentKind.choices)
    make = models.CharField(max_length=100, blank=True)
    model = models.CharField(max_length=100, blank=True)
    serial = models.CharField(max_length=100, blank=True)
    allowed_assays = models.JSONField(
        default=list,
        blank=True,
        help_text=_("Assay codes this instrument may post results for."),
    )
    csv_mapping = models.JSONField(
        default=dict, blank=True, help_text=_("Column mapping for this instrument's CSV exports.")
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = LabScopedQuerySet.as_manager()
    lab_field = "lab"

    class Meta:
        ordering = ["lab__name", "name"]
        constraints = [
            models.UniqueConstraint(fields=["lab", "name"], name="instrument_name_unique_in_lab"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.lab.slug})"

    def may_post(self, assay: str) -> bool:
        return self.is_active and assay in (self.allowed_assays or [])


class InstrumentCredential(models.Model):
    """An instrument API token. Only a SHA-256 of the secret is kept; the token is shown once.

    Tokens are 256-bit random secrets, so a fast hash is as safe as a slow one here and lets every
    request be authenticated with one indexed lookup.
    """

    instrument = models.ForeignKey(Instrument, on_delete=models.PROTECT, related_name="credentials")
    prefix = models.CharField(max_length=16, unique=True)
    secret_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    objects = LabScopedQuerySet.as_manager()
    lab_field = "instrument__lab"

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.instrument.name} token {self.prefix}…"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None and self.instrument.is_active
