"""COI identifiers, the patient-identifier vault, and the records of printed labels.

Nothing here is updated in place once written, except a counter's last number: a corrected
patient identifier is a new row that ``supersedes`` the old one (with a reason); a COI is never
deleted or reused (``PROTECT`` everywhere, one global unique value).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from protocol_tracker.core.scoping import LabScopedQuerySet


class Counter(models.Model):
    """A named sequence (a COI prefix and year, a lab's item ids): numbers are drawn under a row
    lock and never given out twice."""

    name = models.CharField(max_length=64, unique=True)
    last = models.PositiveBigIntegerField(default=0)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name}: {self.last}"


class CoiSettings(models.Model):
    """How a lab writes its COIs: the layout (``identity.layouts``) and the lab's prefix."""

    lab = models.OneToOneField("labs.Lab", on_delete=models.PROTECT, related_name="coi_settings")
    layout = models.CharField(max_length=32)
    prefix = models.CharField(max_length=6, unique=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    objects = LabScopedQuerySet.as_manager()
    lab_field = "lab"

    class Meta:
        verbose_name = _("COI settings")
        verbose_name_plural = _("COI settings")

    def __str__(self) -> str:
        return f"{self.lab}: {self.layout} {self.prefix}"


class Coi(models.Model):
    """A chain-of-identity identifier: issued once per donor at enrolment, unique in the
    installation, never reused. The donor that holds it points here (``runs.Donor.coi``)."""

    lab = models.ForeignKey("labs.Lab", on_delete=models.PROTECT, related_name="cois")
    value = models.CharField(max_length=64, unique=True)
    layout = models.CharField(max_length=32)
    prefix = models.CharField(max_length=6)
    year = models.PositiveSmallIntegerField()
    sequence = models.PositiveBigIntegerField()
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    issued_at = models.DateTimeField(auto_now_add=True)

    objects = LabScopedQuerySet.as_manager()
    lab_field = "lab"

    class Meta:
        verbose_name = _("COI")
        ordering = ["-issued_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["layout", "prefix", "year", "sequence"], name="coi_number_once"
            ),
        ]

    def __str__(self) -> str:
        return self.value


class IdentifierKind(models.TextChoices):
    HOSPITAL_RECORD = "hospital_record", _("Hospital record number")
    DATE_OF_BIRTH = "date_of_birth", _("Date of birth")
    TRIAL_SUBJECT = "trial_subject", _("Clinical-trial subject ID")
    NAME = "name", _("Name")


class PatientIdentifier(models.Model):
    """One identifier of the patient behind a COI, encrypted at rest (``identity.vault``).

    Read only by the roles that may see the patient (``labs.models.CAN_SEE_PATIENT``), every
    read audited (``services.patient_identifiers_read``). A correction is a new row that
    supersedes this one."""

    lab = models.ForeignKey("labs.Lab", on_delete=models.PROTECT, related_name="+")
    coi = models.ForeignKey(Coi, on_delete=models.PROTECT, related_name="patient_identifiers")
    kind = models.CharField(max_length=20, choices=IdentifierKind.choices)
    token = models.TextField(help_text=_("The value, Fernet-encrypted."))
    supersedes = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="superseded_by"
    )
    reason = models.TextField(blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    recorded_at = models.DateTimeField(auto_now_add=True)

    objects = LabScopedQuerySet.as_manager()
    lab_field = "lab"

    class Meta:
        ordering = ["coi", "kind", "recorded_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(supersedes__isnull=True) | ~models.Q(reason=""),
                name="patient_identifier_correction_has_reason",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.coi} {self.kind} (encrypted)"


class LabelFormat(models.TextChoices):
    PDF = "pdf", _("PDF")
    ZPL = "zpl", _("ZPL (Zebra)")


class LabelPrint(models.Model):
    """One printing of labels: who, when, which template, how many, of what; a reprint says so.

    ``labels`` lists what each label carried (payload, title, lines) without the patient
    identifiers (``with_patient_identifiers`` says whether they were printed). The subject is
    named by type and id (``runs.run``, ``inventory.vial``...), as the audit trail names objects,
    so that any app may print through this one."""

    lab = models.ForeignKey("labs.Lab", on_delete=models.PROTECT, related_name="+")
    coi = models.ForeignKey(
        Coi, null=True, blank=True, on_delete=models.PROTECT, related_name="label_prints"
    )
    subject_type = models.CharField(max_length=64)
    subject_id = models.CharField(max_length=64)
    template = models.CharField(max_length=32)
    output = models.CharField(max_length=4, choices=LabelFormat.choices)
    sheet = models.CharField(max_length=8, default="roll")
    labels = models.JSONField(default=list)
    copies = models.PositiveIntegerField()
    label_count = models.PositiveIntegerField(help_text=_("Labels printed: labels × copies."))
    with_patient_identifiers = models.BooleanField(default=False)
    reprint_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="reprints"
    )
    reason = models.TextField(blank=True)
    document_sha256 = models.CharField(max_length=64)
    idempotency_key = models.CharField(max_length=128, blank=True)
    printed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    printed_at = models.DateTimeField(auto_now_add=True)

    objects = LabScopedQuerySet.as_manager()
    lab_field = "lab"

    class Meta:
        ordering = ["-printed_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(reprint_of__isnull=True) | ~models.Q(reason=""),
                name="label_reprint_has_reason",
            ),
            models.UniqueConstraint(
                fields=["printed_by", "idempotency_key"],
                condition=~models.Q(idempotency_key=""),
                name="label_print_idempotency",
            ),
        ]
        indexes = [models.Index(fields=["subject_type", "subject_id"], name="label_subject_idx")]

    def __str__(self) -> str:
        return f"LP-{self.pk} {self.template} ×{self.label_count}"

    @property
    def is_reprint(self) -> bool:
        return self.reprint_of_id is not None


class LabelReconciliation(models.Model):
    """Labels of a print accounted for: used (on an item) or destroyed (spoilt, surplus)."""

    label_print = models.ForeignKey(
        LabelPrint, on_delete=models.PROTECT, related_name="reconciliations"
    )
    used = models.PositiveIntegerField(default=0)
    destroyed = models.PositiveIntegerField(default=0)
    reason = models.TextField(blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    recorded_at = models.DateTimeField(auto_now_add=True)

    objects = LabScopedQuerySet.as_manager()
    lab_field = "label_print__lab"

    class Meta:
        ordering = ["recorded_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(used__gt=0) | models.Q(destroyed__gt=0),
                name="label_reconciliation_counts_something",
            ),
        ]

    def __str__(self) -> str:
        return f"LP-{self.label_print_id}: used {self.used}, destroyed {self.destroyed}"
