"""QC results, raw instrument files, deviations and e-signatures.

Nothing here is updated in place or deleted once written, except the open/closed state of a
deviation and the parse state of a raw file (both audited). A correction is a new QCResult that
``supersedes`` the old one and carries a reason.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from protocol_tracker.core.scoping import LabScopedQuerySet


class Verdict(models.TextChoices):
    PASS = "pass", _("Pass")
    FAIL = "fail", _("Out of spec")
    NO_SPEC = "no_spec", _("No spec")
    PENDING = "pending", _("Pending")
    INVALID = "invalid", _("Invalid assay")


class RawFileStatus(models.TextChoices):
    RECEIVED = "received", _("Received")
    PARSING = "parsing", _("Parsing")
    PARSED = "parsed", _("Parsed")
    FAILED = "failed", _("Failed")


class RawFileKind(models.TextChoices):
    FCS = "fcs", _("FCS flow cytometry")
    CSV = "csv", _("CSV export")
    OTHER = "other", _("Other")


def raw_file_path(instance: RawFile, filename: str) -> str:
    return f"raw/{instance.lab_id}/{instance.sha256[:2]}/{instance.sha256}"


class RawFile(models.Model):
    """An instrument file kept as it came, with its SHA-256 (FCS has no mandatory checksum)."""

    lab = models.ForeignKey("labs.Lab", on_delete=models.PROTECT, related_name="raw_files")
    kind = models.CharField(max_length=8, choices=RawFileKind.choices)
    filename = models.CharField(max_length=255)
    content_type = models.CharField(max_length=100, blank=True)
    size_bytes = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    file = models.FileField(upload_to=raw_file_path)
    metadata = models.JSONField(default=dict, blank=True)
    status = models.CharField(
        max_length=10, choices=RawFileStatus.choices, default=RawFileStatus.RECEIVED
    )
    error = models.TextField(blank=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    uploaded_by_instrument = models.ForeignKey(
        "labs.Instrument", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    uploaded_at = models.DateTimeField(auto_now_add=True)

    objects = LabScopedQuerySet.as_manager()
    lab_field = "lab"

    class Meta:
        ordering = ["-uploaded_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["lab", "sha256"], name="raw_file_unique_in_lab"),
        ]

    def __str__(self) -> str:
        return f"{self.filename} ({self.sha256[:12]})"


class QCResult(models.Model):
    stage_run = models.ForeignKey(
        "runs.StageRun", on_delete=models.PROTECT, related_name="qc_results"
    )
    checkpoint = models.ForeignKey(
        "protocols.CheckpointTemplate", on_delete=models.PROTECT, related_name="results"
    )
    value_number = models.FloatField(null=True, blank=True)
    value_bool = models.BooleanField(null=True, blank=True)
    value_text = models.TextField(blank=True)
    unit = models.CharField(max_length=32, blank=True)
    value_in_spec_unit = models.FloatField(null=True, blank=True)
    spec_snapshot = models.JSONField(
        default=dict, help_text=_("The spec, unit and protocol version the value was judged by.")
    )
    verdict = models.CharField(max_length=10, choices=Verdict.choices)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    recorded_by_instrument = models.ForeignKey(
        "labs.Instrument", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    measured_at = models.DateTimeField()
    recorded_at = models.DateTimeField(auto_now_add=True)
    raw_file = models.ForeignKey(
        RawFile, null=True, blank=True, on_delete=models.PROTECT, related_name="results"
    )
    idempotency_key = models.CharField(max_length=128, blank=True)
    supersedes = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="superseded_by"
    )
    reason = models.TextField(blank=True, help_text=_("Why this result corrects the one before."))
    comment = models.TextField(blank=True)
    passage = models.PositiveIntegerField(
        null=True, blank=True, help_text=_("The run's passage number when this was recorded.")
    )

    objects = LabScopedQuerySet.as_manager()
    lab_field = "stage_run__run__lab"

    class Meta:
        ordering = ["stage_run", "checkpoint", "recorded_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=~(
                    models.Q(recorded_by__isnull=False)
                    & models.Q(recorded_by_instrument__isnull=False)
                ),
                name="qc_result_one_recorder",
            ),
            models.CheckConstraint(
                condition=models.Q(supersedes__isnull=True) | ~models.Q(reason=""),
                name="qc_result_correction_has_reason",
            ),
            models.UniqueConstraint(
                fields=["recorded_by", "idempotency_key"],
                condition=~models.Q(idempotency_key=""),
                name="qc_result_user_idempotency",
            ),
            models.UniqueConstraint(
                fields=["recorded_by_instrument", "idempotency_key"],
                condition=~models.Q(idempotency_key=""),
                name="qc_result_instrument_idempotency",
            ),
        ]
        indexes = [
            models.Index(fields=["checkpoint", "recorded_at"], name="qc_result_trend_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.checkpoint.name}: {self.display_value} ({self.verdict})"

    @property
    def display_value(self) -> str:
        if self.value_number is not None:
            return f"{self.value_number:g} {self.unit}".strip()
        if self.value_bool is not None:
            return "yes" if self.value_bool else "no"
        return self.value_text


class DeviationKind(models.TextChoices):
    OUT_OF_SPEC = "oos", _("Out of specification")
    WINDOW = "window", _("Outside the allowed time window")
    LATE_RESULT = "late_result", _("Failed result after conditional release")
    MANUAL = "manual", _("Reported by hand")
    IDENTITY = "identity", _("Chain of identity: wrong or unreadable label")
    CUSTODY = "custody", _("Chain of custody: temperature excursion or record gap")
    MATERIAL_RECALL = "recall", _("A material lot it used was recalled")


class DeviationSeverity(models.TextChoices):
    MINOR = "minor", _("Minor")
    MAJOR = "major", _("Major")
    CRITICAL = "critical", _("Critical")


class DeviationStatus(models.TextChoices):
    OPEN = "open", _("Open")
    PHASE1 = "phase1", _("Phase I: laboratory investigation")
    PHASE2 = "phase2", _("Phase II: full-scale investigation")
    AWAITING_DISPOSITION = "awaiting_disposition", _("Awaiting disposition")
    CLOSED = "closed", _("Closed")


class Disposition(models.TextChoices):
    ACCEPT = "accept", _("Accept with justification")
    RETEST = "retest", _("Order a retest")
    REJECT = "reject", _("Reject (fail the stage and the run)")


class DispositionGroup(models.Model):
    """One signed disposition that covers several minor deviations of one run and one kind.

    Each deviation it closed points at it (``Deviation.disposition_group``); the signature (the
    ``signatures.Signature`` of this row's type and id) binds the row and the list. Critical (and
    major) deviations are never grouped: they are signed one by one.
    """

    lab = models.ForeignKey("labs.Lab", on_delete=models.PROTECT, related_name="+")
    run = models.ForeignKey("runs.Run", on_delete=models.PROTECT, related_name="disposition_groups")
    kind = models.CharField(max_length=16, choices=DeviationKind.choices)
    decision = models.CharField(max_length=10, choices=Disposition.choices)
    justification = models.TextField()
    signed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    signed_at = models.DateTimeField(auto_now_add=True)

    objects = LabScopedQuerySet.as_manager()
    lab_field = "lab"

    class Meta:
        ordering = ["signed_at", "id"]

    def __str__(self) -> str:
        return f"GRP-{self.pk}: {self.decision} {self.kind}"


class Deviation(models.Model):
    ALLOWED_TRANSITIONS = {
        DeviationStatus.OPEN: {DeviationStatus.PHASE1, DeviationStatus.AWAITING_DISPOSITION},
        DeviationStatus.PHASE1: {DeviationStatus.PHASE2, DeviationStatus.AWAITING_DISPOSITION},
        DeviationStatus.PHASE2: {DeviationStatus.AWAITING_DISPOSITION},
        DeviationStatus.AWAITING_DISPOSITION: {DeviationStatus.CLOSED},
        DeviationStatus.CLOSED: set(),
    }

    lab = models.ForeignKey("labs.Lab", on_delete=models.PROTECT, related_name="deviations")
    run = models.ForeignKey("runs.Run", on_delete=models.PROTECT, related_name="deviations")
    stage_run = models.ForeignKey(
        "runs.StageRun", null=True, blank=True, on_delete=models.PROTECT, related_name="deviations"
    )
    qc_result = models.ForeignKey(
        QCResult, null=True, blank=True, on_delete=models.PROTECT, related_name="deviations"
    )
    kind = models.CharField(max_length=16, choices=DeviationKind.choices)
    severity = models.CharField(
        max_length=10, choices=DeviationSeverity.choices, default=DeviationSeverity.MAJOR
    )
    status = models.CharField(
        max_length=24, choices=DeviationStatus.choices, default=DeviationStatus.OPEN
    )
    title = models.CharField(max_length=300)
    description = models.TextField(blank=True)
    phase1_findings = models.TextField(blank=True)
    phase2_findings = models.TextField(blank=True)
    root_cause = models.TextField(blank=True)
    disposition = models.CharField(max_length=10, choices=Disposition.choices, blank=True)
    justification = models.TextField(blank=True)
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    opened_at = models.DateTimeField(auto_now_add=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    closed_at = models.DateTimeField(null=True, blank=True)
    disposition_group = models.ForeignKey(
        DispositionGroup,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="deviations",
        help_text=_("The grouped disposition that closed this deviation, if one did."),
    )

    objects = LabScopedQuerySet.as_manager()
    lab_field = "lab"

    class Meta:
        ordering = ["-opened_at", "-id"]
        indexes = [models.Index(fields=["lab", "status"], name="deviation_lab_status_idx")]

    def __str__(self) -> str:
        return f"DEV-{self.pk}: {self.title}"

    def can_transition_to(self, status: str) -> bool:
        return status in self.ALLOWED_TRANSITIONS.get(self.status, set())

    @property
    def is_open(self) -> bool:
        return self.status != DeviationStatus.CLOSED


class UploadStatus(models.TextChoices):
    RECEIVED = "received", _("Received")
    PARSING = "parsing", _("Parsing")
    PARSED = "parsed", _("Parsed")
    FAILED = "failed", _("Failed")


class InstrumentUpload(models.Model):
    """One uploaded instrument file and what became of it: the job a client polls.

    The file itself is a :class:`RawFile` (kept as it came, with its SHA-256); ``params`` holds
    the request's metadata (stage run, checkpoint, value...) until the file is parsed. Changed
    only by :mod:`protocol_tracker.qc.services.uploads`.
    """

    lab = models.ForeignKey("labs.Lab", on_delete=models.PROTECT, related_name="+")
    raw_file = models.ForeignKey(
        RawFile, null=True, blank=True, on_delete=models.PROTECT, related_name="uploads"
    )
    filename = models.CharField(max_length=255)
    kind = models.CharField(max_length=8)
    size_bytes = models.PositiveBigIntegerField()
    params = models.JSONField(default=dict, blank=True)
    status = models.CharField(
        max_length=10, choices=UploadStatus.choices, default=UploadStatus.RECEIVED
    )
    error = models.JSONField(null=True, blank=True)
    result_ids = models.JSONField(default=list, blank=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    uploaded_by_instrument = models.ForeignKey(
        "labs.Instrument", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = LabScopedQuerySet.as_manager()
    lab_field = "lab"

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # qc.requeue_uploads reads only the uploads still waiting for a worker.
            models.Index(
                fields=["created_at"],
                name="upload_received_idx",
                condition=models.Q(status="received"),
            ),
        ]

    def __str__(self) -> str:
        return f"upload #{self.pk} {self.filename} ({self.status})"
