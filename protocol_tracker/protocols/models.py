"""Versioned protocol templates: stages (a DAG), recurring bench tasks, QC checkpoints and specs.

A published version is frozen: services refuse to change it and the admin shows it read-only.
Changing a protocol means a new version (a draft cloned from it); runs pin the version they use.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from protocol_tracker.core.scoping import LabScopedQuerySet


class ProtocolStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    PUBLISHED = "published", _("Published")
    RETIRED = "retired", _("Retired")


class StageKind(models.TextChoices):
    COLLECTION = "collection", _("Collection")
    REPROGRAMMING = "reprogramming", _("Reprogramming")
    EXPANSION = "expansion", _("Expansion")
    BANKING = "banking", _("Banking")
    DIFFERENTIATION = "differentiation", _("Differentiation")
    RELEASE = "release", _("Release")
    TRANSPLANT = "transplant", _("Transplant")
    FOLLOW_UP = "follow_up", _("Follow-up")


class ValueType(models.TextChoices):
    NUMBER = "number", _("Number")
    PERCENT = "percent", _("Percent")
    BOOLEAN = "boolean", _("Yes / no")
    CHOICE = "choice", _("Choice")
    TEXT = "text", _("Text")
    FILE = "file", _("File")
    IDENTITY = "identity", _("Identity scan")


class RecordedBy(models.TextChoices):
    PERSON = "person", _("People")
    INSTRUMENT = "instrument", _("Instruments")
    ANY = "any", _("People or instruments")
    # Computed from the run's own records (a draw-to-processing time from the shipment, the
    # identifiers on record in the vault); never typed.
    SYSTEM = "system", _("Computed from records")


class EquipmentKind(models.TextChoices):
    """What a stage may declare it needs (the protocol's language); the lab's equipment
    (``protocol_tracker.equipment``) is of one of these kinds."""

    BIOSAFETY_CABINET = "biosafety_cabinet", _("Biosafety cabinet")
    INCUBATOR = "incubator", _("CO2 incubator")
    CENTRIFUGE = "centrifuge", _("Centrifuge")
    LN2_TANK = "ln2_tank", _("LN2 storage tank")
    CONTROLLED_RATE_FREEZER = "controlled_rate_freezer", _("Controlled-rate freezer")
    MICROSCOPE = "microscope", _("Microscope")
    FLOW_CYTOMETER = "flow_cytometer", _("Flow cytometer")
    CELL_COUNTER = "cell_counter", _("Cell counter")
    PLATE_READER = "plate_reader", _("Plate reader")
    QPCR = "qpcr", _("qPCR")
    OTHER = "other", _("Other")


class ProtocolTemplate(models.Model):
    lab = models.ForeignKey("labs.Lab", on_delete=models.PROTECT, related_name="protocols")
    code = models.SlugField(max_length=64)
    name = models.CharField(max_length=200)
    version = models.PositiveIntegerField(default=1)
    status = models.CharField(
        max_length=16, choices=ProtocolStatus.choices, default=ProtocolStatus.DRAFT
    )
    description = models.TextField(blank=True)
    previous_version = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="next_versions"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    published_at = models.DateTimeField(null=True, blank=True)
    definition_hash = models.CharField(
        max_length=64,
        blank=True,
        help_text=_("SHA-256 of the canonical definition, set when the version is frozen."),
    )

    objects = LabScopedQuerySet.as_manager()
    lab_field = "lab"

    class Meta:
        ordering = ["lab", "code", "-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["lab", "code", "version"], name="protocol_version_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"

    @property
    def is_frozen(self) -> bool:
        return self.status != ProtocolStatus.DRAFT


class StageTemplate(models.Model):
    protocol = models.ForeignKey(ProtocolTemplate, on_delete=models.PROTECT, related_name="stages")
    key = models.SlugField(max_length=64)
    order = models.PositiveIntegerField()
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=20, choices=StageKind.choices)
    expected_duration = models.DurationField()
    window_early = models.DurationField(
        help_text=_("May finish this long before its due time without a deviation.")
    )
    window_late = models.DurationField(
        help_text=_("May finish this long after its due time without a deviation.")
    )
    reminder_lead = models.DurationField(
        null=True, blank=True, help_text=_("'Due soon' lead time; the lab's default when empty.")
    )
    depends_on = models.ManyToManyField(
        "self", symmetrical=False, blank=True, related_name="dependants"
    )
    description = models.TextField(blank=True)
    source = models.TextField(blank=True)
    i18n = models.JSONField(
        default=dict,
        blank=True,
        help_text=_(
            "Translations of the name and description, per language (part of the version)."
        ),
    )
    materials = models.JSONField(
        default=list,
        blank=True,
        help_text=_(
            "Bill of materials: the materials (by the lab's material code) whose lot is "
            "recorded when the stage is worked (part of the version)."
        ),
    )
    equipment = models.JSONField(
        default=list,
        blank=True,
        help_text=_("Kinds of equipment the stage is worked with (part of the version)."),
    )

    objects = LabScopedQuerySet.as_manager()
    lab_field = "protocol__lab"

    class Meta:
        ordering = ["protocol", "order"]
        constraints = [
            models.UniqueConstraint(fields=["protocol", "key"], name="stage_key_unique"),
            models.UniqueConstraint(fields=["protocol", "order"], name="stage_order_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.order}. {self.name}"


class TaskTemplate(models.Model):
    """Recurring bench work inside a stage: every N hours, or on given days from the stage start."""

    stage = models.ForeignKey(StageTemplate, on_delete=models.PROTECT, related_name="tasks")
    key = models.SlugField(max_length=64)
    name = models.CharField(max_length=200)
    every = models.DurationField(null=True, blank=True)
    on_days = models.JSONField(null=True, blank=True)
    description = models.TextField(blank=True)
    i18n = models.JSONField(
        default=dict,
        blank=True,
        help_text=_(
            "Translations of the name and description, per language (part of the version)."
        ),
    )
    materials = models.JSONField(
        default=list,
        blank=True,
        help_text=_(
            "Bill of materials: the materials whose lot is recorded each time the task is done "
            "(part of the version)."
        ),
    )

    objects = LabScopedQuerySet.as_manager()
    lab_field = "stage__protocol__lab"

    class Meta:
        ordering = ["stage", "key"]
        constraints = [
            models.UniqueConstraint(fields=["stage", "key"], name="task_key_unique"),
            models.CheckConstraint(
                condition=(
                    models.Q(every__isnull=False, on_days__isnull=True)
                    | models.Q(every__isnull=True, on_days__isnull=False)
                ),
                name="task_every_xor_on_days",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class CheckpointTemplate(models.Model):
    stage = models.ForeignKey(StageTemplate, on_delete=models.PROTECT, related_name="checkpoints")
    protocol = models.ForeignKey(
        ProtocolTemplate, on_delete=models.PROTECT, related_name="checkpoints"
    )
    key = models.SlugField(max_length=64)
    order = models.PositiveIntegerField(default=0)
    assay = models.SlugField(max_length=64)
    name = models.CharField(max_length=200)
    metric = models.CharField(max_length=100)
    unit = models.CharField(max_length=32, blank=True)
    value_type = models.CharField(max_length=16, choices=ValueType.choices)
    spec = models.JSONField(default=dict, blank=True)
    blocking = models.BooleanField(default=True)
    recorded_by = models.CharField(
        max_length=16, choices=RecordedBy.choices, default=RecordedBy.ANY
    )
    analyte = models.CharField(max_length=32, blank=True)
    pending_allowed = models.BooleanField(
        default=False, help_text=_("May still be pending at a conditional release.")
    )
    retest_every_passages = models.PositiveIntegerField(null=True, blank=True)
    retest_every_days = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text=_("Re-test after this many days in culture too: passage or time, first wins."),
    )
    requires_consent = models.JSONField(
        default=list,
        blank=True,
        help_text=_(
            "Consent scopes the donor must have given before a result may be recorded "
            "(genetic testing, future use...)."
        ),
    )
    source = models.TextField(blank=True)
    notes = models.TextField(blank=True)
    i18n = models.JSONField(
        default=dict,
        blank=True,
        help_text=_(
            "Translations of the name and description, per language (part of the version)."
        ),
    )

    objects = LabScopedQuerySet.as_manager()
    lab_field = "protocol__lab"

    class Meta:
        ordering = ["stage", "order", "key"]
        constraints = [
            models.UniqueConstraint(fields=["protocol", "key"], name="checkpoint_key_unique"),
        ]

    def __str__(self) -> str:
        return self.name


def localized(item: StageTemplate | TaskTemplate | CheckpointTemplate, field: str) -> str:
    """``item``'s ``field`` (name or description) in the active language, when the protocol
    version carries a translation for it; the version's own text otherwise."""
    language = (get_language() or "").lower()
    text = (item.i18n or {}).get(language, {}).get(field)
    return text or getattr(item, field)


class ApprovalAction(models.TextChoices):
    APPROVED_FOR_USE = "approved_for_use", _("Approved for use")
    RETIRED = "retired", _("Retired")


class ProtocolApproval(models.Model):
    """Change control of a protocol version: its signed approval for use (with the reason and
    the diff from the version before) or its signed retirement. Written once, never changed:
    the signature (``signatures.Signature`` of this row's type and id) binds it as it is."""

    lab = models.ForeignKey("labs.Lab", on_delete=models.PROTECT, related_name="+")
    protocol = models.ForeignKey(
        ProtocolTemplate, on_delete=models.PROTECT, related_name="approvals"
    )
    action = models.CharField(max_length=20, choices=ApprovalAction.choices)
    reason = models.TextField()
    compared_with = models.ForeignKey(
        ProtocolTemplate, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    diff = models.JSONField(
        default=dict, blank=True, help_text=_("What changed from the version compared with.")
    )
    definition_hash = models.CharField(max_length=64)
    signed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    signed_at = models.DateTimeField(auto_now_add=True)

    objects = LabScopedQuerySet.as_manager()
    lab_field = "lab"

    class Meta:
        ordering = ["signed_at", "id"]

    def __str__(self) -> str:
        return f"{self.protocol} {self.action}"


class DraftAuthor(models.Model):
    """Who edited a draft (its creator included): none of them may approve it (four eyes)."""

    protocol = models.ForeignKey(
        ProtocolTemplate, on_delete=models.CASCADE, related_name="draft_authors"
    )
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    objects = LabScopedQuerySet.as_manager()
    lab_field = "protocol__lab"

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["protocol", "user"], name="draft_author_once"),
        ]

    def __str__(self) -> str:
        return f"{self.user} on {self.protocol}"


class ConventionConfirmation(models.Model):
    """A lab's signed confirmation of a convention-marked spec (``CONV``) of one protocol code.

    It binds the convention's content (``convention_hash``: stage, key, name, unit, spec,
    blocking, source), so it holds for later versions while the spec is unchanged. One
    signature may confirm a set (each row points at it)."""

    lab = models.ForeignKey("labs.Lab", on_delete=models.PROTECT, related_name="+")
    protocol_code = models.SlugField(max_length=64)
    confirmed_in = models.ForeignKey(
        ProtocolTemplate,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="convention_confirmations",
        help_text=_("The draft it was confirmed in (empty once that draft was discarded)."),
    )
    checkpoint_key = models.SlugField(max_length=64)
    convention_hash = models.CharField(max_length=64)
    convention = models.JSONField(help_text=_("The convention as it was confirmed."))
    comment = models.TextField(blank=True)
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    confirmed_at = models.DateTimeField(auto_now_add=True)
    signature = models.ForeignKey(
        "signatures.Signature", on_delete=models.PROTECT, related_name="convention_confirmations"
    )

    objects = LabScopedQuerySet.as_manager()
    lab_field = "lab"

    class Meta:
        ordering = ["confirmed_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["lab", "protocol_code", "checkpoint_key", "convention_hash"],
                name="convention_confirmed_once",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.protocol_code}/{self.checkpoint_key} confirmed"
