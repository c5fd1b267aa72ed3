"""Donors, runs (batches), stage runs and bench task occurrences."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from protocol_tracker.core.scoping import LabScopedQuerySet

DONOR_CODE_VALIDATOR = RegexValidator(
    r"^[A-Z0-9][A-Z0-9-]{2,31}$",
    _("A donor code is 3-32 capital letters, digits and dashes: a pseudonym, never a name."),
)


class ConsentScope(models.TextChoices):
    REPROGRAMMING = "reprogramming", _("Reprogramming")
    BANKING = "banking", _("Banking")
    GENETIC_TESTING = "genetic_testing", _("Genetic testing")
    FUTURE_USE = "future_use", _("Future research use")


class Donor(models.Model):
    """A pseudonymous donor: a code and consent, nothing that identifies the person."""

    lab = models.ForeignKey("labs.Lab", on_delete=models.PROTECT, related_name="donors")
    code = models.CharField(max_length=32, validators=[DONOR_CODE_VALIDATOR])
    coi = models.OneToOneField(
        "identity.Coi",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="donor",
        help_text=_(
            "The chain-of-identity identifier issued at enrolment; every run, item and label "
            "of this donor carries it."
        ),
    )
    consent_given = models.BooleanField(default=False)
    consent_scope = models.JSONField(default=list, blank=True)
    consent_version = models.CharField(max_length=64, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = LabScopedQuerySet.as_manager()
    lab_field = "lab"

    class Meta:
        ordering = ["lab", "code"]
        constraints = [
            models.UniqueConstraint(fields=["lab", "code"], name="donor_code_unique_in_lab"),
        ]

    def __str__(self) -> str:
        return self.code


class RunStatus(models.TextChoices):
    PLANNED = "planned", _("Planned")
    ACTIVE = "active", _("Active")
    ON_HOLD = "on_hold", _("On hold")
    COMPLETED = "completed", _("Completed")
    RELEASED = "released", _("Released")
    REJECTED = "rejected", _("Rejected")
    TERMINATED = "terminated", _("Terminated")


# Runs whose open stages are worked (and reminded): active runs, and released runs, whose
# post-release stages (transplant, follow-up) open at release.
WORKING_RUN_STATUSES = (RunStatus.ACTIVE, RunStatus.RELEASED)


class Run(models.Model):
    """A batch. ``completed`` means manufacturing is done and the lot awaits its signed release;
    the stages after the release stage (transplant, follow-up) are worked while the run is
    ``released`` (it stays released when they finish: ``post_release_completed_at``)."""

    ALLOWED_TRANSITIONS = {
        RunStatus.PLANNED: {RunStatus.ACTIVE, RunStatus.TERMINATED},
        RunStatus.ACTIVE: {
            RunStatus.ON_HOLD,
            RunStatus.COMPLETED,
            RunStatus.REJECTED,
            RunStatus.TERMINATED,
        },
        RunStatus.ON_HOLD: {RunStatus.ACTIVE, RunStatus.TERMINATED, RunStatus.REJECTED},
        RunStatus.COMPLETED: {RunStatus.RELEASED, RunStatus.REJECTED},
        RunStatus.RELEASED: set(),
        RunStatus.REJECTED: set(),
        RunStatus.TERMINATED: set(),
    }
    CLOSED = frozenset({RunStatus.RELEASED, RunStatus.REJECTED, RunStatus.TERMINATED})

    lab = models.ForeignKey("labs.Lab", on_delete=models.PROTECT, related_name="runs")
    protocol = models.ForeignKey(
        "protocols.ProtocolTemplate", on_delete=models.PROTECT, related_name="runs"
    )
    donor = models.ForeignKey(Donor, on_delete=models.PROTECT, related_name="runs")
    code = models.CharField(max_length=64)
    status = models.CharField(max_length=16, choices=RunStatus.choices, default=RunStatus.PLANNED)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    root = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="descendants",
        help_text=_(
            "The first run of this lineage (empty on the first run itself): the whole "
            "tree is one query."
        ),
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    passage = models.PositiveIntegerField(
        default=0, help_text=_("Passage number of the cells; follows them across splits and thaws.")
    )
    planned_start = models.DateTimeField()
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text=_(
            "When manufacturing finished (every stage up to and including the release stage "
            "done): the run then awaits its release review."
        ),
    )
    closed_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text=_("When the run was released, rejected or terminated."),
    )
    post_release_completed_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text=_(
            "When the last stage after the release (transplant, follow-up) was done; the run "
            "stays released. Empty while that work goes on, and for protocols without it."
        ),
    )
    product_expires_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text=_(
            "Expiry of the formulated product (set at formulation): a transplant stage cannot "
            "start after it."
        ),
    )
    conditional_release = models.BooleanField(default=False)
    pending_tests = models.JSONField(
        default=list, blank=True, help_text=_("Checkpoint keys still pending at release.")
    )
    flagged = models.BooleanField(default=False)
    flag_reason = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = LabScopedQuerySet.as_manager()
    lab_field = "lab"

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["lab", "code"], name="run_code_unique_in_lab"),
        ]
        indexes = [models.Index(fields=["lab", "status"], name="run_lab_status_idx")]

    def __str__(self) -> str:
        return self.code

    def can_transition_to(self, status: str) -> bool:
        return status in self.ALLOWED_TRANSITIONS.get(self.status, set())

    @property
    def is_closed(self) -> bool:
        return self.status in self.CLOSED


class StageStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    READY = "ready", _("Ready")
    IN_PROGRESS = "in_progress", _("In progress")
    AWAITING_QC = "awaiting_qc", _("Awaiting QC")
    COMPLETED = "completed", _("Completed")
    FAILED = "failed", _("Failed")
    SKIPPED = "skipped", _("Skipped")


OPEN_STAGE_STATUSES = (StageStatus.READY, StageStatus.IN_PROGRESS, StageStatus.AWAITING_QC)


class StageRun(models.Model):
    ALLOWED_TRANSITIONS = {
        StageStatus.PENDING: {StageStatus.READY, StageStatus.SKIPPED},
        StageStatus.READY: {StageStatus.IN_PROGRESS, StageStatus.SKIPPED},
        StageStatus.IN_PROGRESS: {
            StageStatus.AWAITING_QC,
            StageStatus.COMPLETED,
            StageStatus.FAILED,
        },
        StageStatus.AWAITING_QC: {
            StageStatus.IN_PROGRESS,
            StageStatus.COMPLETED,
            StageStatus.FAILED,
        },
        StageStatus.COMPLETED: set(),
        StageStatus.FAILED: set(),
        StageStatus.SKIPPED: set(),
    }

    run = models.ForeignKey(Run, on_delete=models.PROTECT, related_name="stage_runs")
    stage = models.ForeignKey(
        "protocols.StageTemplate", on_delete=models.PROTECT, related_name="stage_runs"
    )
    order = models.PositiveIntegerField()
    status = models.CharField(
        max_length=16, choices=StageStatus.choices, default=StageStatus.PENDING
    )
    planned_start = models.DateTimeField()
    due_at = models.DateTimeField()
    started_at = models.DateTimeField(null=True, blank=True)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    completed_at = models.DateTimeField(null=True, blank=True)
    completed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    notes = models.TextField(blank=True)

    objects = LabScopedQuerySet.as_manager()
    lab_field = "run__lab"

    class Meta:
        ordering = ["run", "order"]
        constraints = [
            models.UniqueConstraint(fields=["run", "stage"], name="stage_run_unique"),
        ]
        indexes = [
            # The reminder sweep reads only open stage runs by due time: its cost follows the
            # open work, not the table.
            models.Index(
                fields=["due_at"],
                name="stage_run_open_due_idx",
                condition=models.Q(status__in=["ready", "in_progress", "awaiting_qc"]),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.run.code} / {self.stage.name}"

    def can_transition_to(self, status: str) -> bool:
        return status in self.ALLOWED_TRANSITIONS.get(self.status, set())

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STAGE_STATUSES


class TaskResolution(models.TextChoices):
    """How an occurrence left open when its stage completed was closed (with a reason)."""

    DONE_LATE = "done_late", _("Done, logged late")
    SKIPPED = "skipped", _("Skipped")
    NOT_APPLICABLE = "not_applicable", _("Not applicable")


class TaskOccurrence(models.Model):
    """A dated instance of a bench task within a stage run.

    Logged as done (``done_at``) at the bench, or resolved when its stage completes
    (``resolution`` with a reason: done late, skipped, not applicable). ``skipped`` is set for
    every occurrence closed without being done, so "open" stays one indexed test.
    """

    stage_run = models.ForeignKey(StageRun, on_delete=models.PROTECT, related_name="tasks")
    task = models.ForeignKey(
        "protocols.TaskTemplate", on_delete=models.PROTECT, related_name="occurrences"
    )
    due_at = models.DateTimeField()
    done_at = models.DateTimeField(null=True, blank=True)
    done_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    skipped = models.BooleanField(default=False)
    note = models.TextField(blank=True)
    resolution = models.CharField(max_length=16, choices=TaskResolution.choices, blank=True)
    resolution_reason = models.TextField(blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)

    objects = LabScopedQuerySet.as_manager()
    lab_field = "stage_run__run__lab"

    class Meta:
        ordering = ["due_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["stage_run", "task", "due_at"], name="task_occurrence_unique"
            ),
            models.CheckConstraint(
                condition=models.Q(resolution="") | ~models.Q(resolution_reason=""),
                name="task_resolution_has_reason",
            ),
        ]
        indexes = [
            models.Index(
                fields=["due_at"],
                name="task_occ_open_due_idx",
                condition=models.Q(done_at__isnull=True, skipped=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.task.name} @ {self.due_at:%Y-%m-%d %H:%M}"

    @property
    def is_open(self) -> bool:
        return self.done_at is None and not self.skipped


class PassageKind(models.TextChoices):
    PASSAGE = "passage", _("Passage")
    SPLIT = "split", _("Split")
    THAW = "thaw", _("Thaw")
    FREEZE = "freeze", _("Freeze")


class PassageEvent(models.Model):
    """One handling of the cells that may move the passage counter (kept with before and after)."""

    run = models.ForeignKey(Run, on_delete=models.PROTECT, related_name="passage_events")
    kind = models.CharField(max_length=8, choices=PassageKind.choices)
    passage_before = models.PositiveIntegerField()
    passage_after = models.PositiveIntegerField()
    at = models.DateTimeField()
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    note = models.TextField(blank=True)

    objects = LabScopedQuerySet.as_manager()
    lab_field = "run__lab"

    class Meta:
        ordering = ["run", "at", "id"]

    def __str__(self) -> str:
        return f"{self.run.code} {self.kind} P{self.passage_before}->P{self.passage_after}"
