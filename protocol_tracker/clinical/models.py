"""Recipients, the product as formulated, visits and their values, CGM imports, therapy events
and the lab's clinical settings. Every row is kept: a correction is a new row that supersedes
the old one, with a reason."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from protocol_tracker.clinical.measures import Measure
from protocol_tracker.core.scoping import LabScopedQuerySet


class CGMTargetSet(models.TextChoices):
    STANDARD = "standard", _("Standard (type 1 and type 2 diabetes)")
    OLDER_HIGH_RISK = "older_high_risk", _("Older or high-risk")


class Recipient(models.Model):
    """The person the lot is for: in an autologous run, the donor (a pseudonymous code)."""

    lab = models.ForeignKey("labs.Lab", on_delete=models.PROTECT, related_name="recipients")
    donor = models.OneToOneField("runs.Donor", on_delete=models.PROTECT, related_name="recipient")
    cgm_target_set = models.CharField(
        max_length=20, choices=CGMTargetSet.choices, default=CGMTargetSet.STANDARD
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = LabScopedQuerySet.as_manager()
    lab_field = "lab"

    class Meta:
        ordering = ["lab", "donor__code"]

    def __str__(self) -> str:
        return self.donor.code


class InfusionRoute(models.TextChoices):
    # USP <85> (bacterial endotoxins), K/M: K = 5.0 EU/kg for any route except intrathecal,
    # 0.2 EU/kg intrathecal.
    NON_INTRATHECAL = "non_intrathecal", _("Intravascular or other non-intrathecal route")
    INTRATHECAL = "intrathecal", _("Intrathecal")


class Formulation(models.Model):
    """The lot as formulated for its recipient: body weight, volume, dose and expiry."""

    recipient = models.ForeignKey(Recipient, on_delete=models.PROTECT, related_name="formulations")
    run = models.ForeignKey("runs.Run", on_delete=models.PROTECT, related_name="formulations")
    weight_kg = models.DecimalField(max_digits=6, decimal_places=2)
    volume_ml = models.DecimalField(max_digits=8, decimal_places=2)
    dose_cells = models.FloatField(null=True, blank=True, help_text=_("Cells in the lot."))
    dose_ieq = models.FloatField(null=True, blank=True, help_text=_("Islet equivalents."))
    route = models.CharField(
        max_length=20, choices=InfusionRoute.choices, default=InfusionRoute.NON_INTRATHECAL
    )
    expires_at = models.DateTimeField()
    supersedes = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="superseded_by"
    )
    reason = models.TextField(blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    recorded_at = models.DateTimeField(auto_now_add=True)

    objects = LabScopedQuerySet.as_manager()
    lab_field = "recipient__lab"

    class Meta:
        ordering = ["recipient", "-recorded_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(weight_kg__gt=0) & models.Q(volume_ml__gt=0),
                name="formulation_weight_volume_positive",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.run_id} / {self.recipient_id}"


class VisitKind(models.TextChoices):
    BASELINE = "baseline", _("Baseline")
    FOLLOW_UP = "follow_up", _("Follow-up")


class Visit(models.Model):
    recipient = models.ForeignKey(Recipient, on_delete=models.PROTECT, related_name="visits")
    run = models.ForeignKey("runs.Run", on_delete=models.PROTECT, related_name="visits")
    kind = models.CharField(max_length=12, choices=VisitKind.choices)
    visit_date = models.DateField()
    label = models.CharField(max_length=64, blank=True)
    note = models.TextField(blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    recorded_at = models.DateTimeField(auto_now_add=True)

    objects = LabScopedQuerySet.as_manager()
    lab_field = "recipient__lab"

    class Meta:
        ordering = ["recipient", "visit_date", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["recipient", "run"],
                condition=models.Q(kind="baseline"),
                name="visit_one_baseline_per_transplant",
            ),
            models.UniqueConstraint(
                fields=["recipient", "run", "visit_date"], name="visit_one_per_day"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.visit_date}"


class ValueSource(models.TextChoices):
    ENTERED = "entered", _("Entered")
    CGM = "cgm", _("CGM import")


class VisitValue(models.Model):
    """One value of a visit, as entered (value, unit) and in the measure's canonical unit."""

    visit = models.ForeignKey(Visit, on_delete=models.PROTECT, related_name="values")
    measure = models.CharField(max_length=24, choices=Measure.choices)
    value = models.FloatField()
    unit = models.CharField(max_length=32)
    value_canonical = models.FloatField()
    source = models.CharField(max_length=8, choices=ValueSource.choices)
    cgm_import = models.ForeignKey(
        "CGMImport", null=True, blank=True, on_delete=models.PROTECT, related_name="values"
    )
    supersedes = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="superseded_by"
    )
    reason = models.TextField(blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    recorded_at = models.DateTimeField(auto_now_add=True)

    objects = LabScopedQuerySet.as_manager()
    lab_field = "visit__recipient__lab"

    class Meta:
        ordering = ["visit", "measure", "id"]
        indexes = [models.Index(fields=["visit", "measure"], name="visit_value_measure_idx")]

    def __str__(self) -> str:
        return f"{self.measure} {self.value:g} {self.unit}"


def cgm_file_path(instance: CGMImport, filename: str) -> str:
    return f"cgm/{instance.visit.recipient.lab_id}/{instance.sha256_stored}.csv"


class CGMImport(models.Model):
    """A CGM export imported for a visit: the file (identifying fields blanked), both hashes,
    what was read and the metrics computed from it."""

    visit = models.ForeignKey(Visit, on_delete=models.PROTECT, related_name="cgm_imports")
    format = models.CharField(max_length=20)
    filename = models.CharField(max_length=255)
    sha256_original = models.CharField(
        max_length=64, help_text=_("SHA-256 of the file as uploaded.")
    )
    sha256_stored = models.CharField(
        max_length=64, help_text=_("SHA-256 of the kept copy (identifying fields blanked).")
    )
    file = models.FileField(upload_to=cgm_file_path)
    size_bytes = models.PositiveBigIntegerField()
    device = models.CharField(max_length=100, blank=True)
    device_timezone = models.CharField(max_length=64)
    unit = models.CharField(max_length=8)
    summary = models.JSONField(default=dict)
    metrics = models.JSONField(default=dict)
    imported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    imported_at = models.DateTimeField(auto_now_add=True)

    objects = LabScopedQuerySet.as_manager()
    lab_field = "visit__recipient__lab"

    class Meta:
        ordering = ["visit", "-imported_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["visit", "sha256_original"], name="cgm_import_once_per_visit"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.filename} ({self.sha256_original[:12]})"


class TherapyEventKind(models.TextChoices):
    INSULIN_STOPPED = "insulin_stopped", _("Insulin stopped")
    INSULIN_RESTARTED = "insulin_restarted", _("Insulin restarted")
    ORAL_AGENT_WITHDRAWN = "oral_agent_withdrawn", _("Oral agent withdrawn")
    ORAL_AGENT_STARTED = "oral_agent_started", _("Oral agent started")


class TherapyEvent(models.Model):
    recipient = models.ForeignKey(
        Recipient, on_delete=models.PROTECT, related_name="therapy_events"
    )
    kind = models.CharField(max_length=24, choices=TherapyEventKind.choices)
    drug = models.CharField(max_length=100, blank=True)
    on_date = models.DateField()
    note = models.TextField(blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    recorded_at = models.DateTimeField(auto_now_add=True)

    objects = LabScopedQuerySet.as_manager()
    lab_field = "recipient__lab"

    class Meta:
        ordering = ["recipient", "on_date", "id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.on_date}"


class ClinicalSettings(models.Model):
    """The lab's clinical settings (one row per lab; the defaults apply until a row exists)."""

    DEFAULT_EGFR_THRESHOLD = 60.0

    lab = models.OneToOneField("labs.Lab", on_delete=models.PROTECT, related_name="+")
    egfr_threshold = models.FloatField(
        default=DEFAULT_EGFR_THRESHOLD,
        help_text=_(
            "Below this eGFR (mL/min/1.73 m2) C-peptide results carry a warning: C-peptide is "
            "cleared by the kidney (KDIGO 2012: < 60 is CKD stage G3a or worse)."
        ),
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    objects = LabScopedQuerySet.as_manager()
    lab_field = "lab"

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(egfr_threshold__gt=0) & models.Q(egfr_threshold__lte=150),
                name="clinical_egfr_threshold_range",
            ),
        ]

    def __str__(self) -> str:
        return f"clinical settings of lab {self.lab_id}"
