"""The release record: acknowledgements of the review by exception and the stored documents.

Both are written once and never changed: an item whose facts change after it was acknowledged
is acknowledged again (a new row); a document is the exact bytes that were signed.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from protocol_tracker.core.scoping import LabScopedQuerySet


class ExceptionAcknowledgement(models.Model):
    """A reviewer saw an item of a run's review by exception (and may have said something).

    ``content_hash`` binds the item as it stood (its key, kind and facts): the acknowledgement
    holds only while the item is unchanged.
    """

    lab = models.ForeignKey("labs.Lab", on_delete=models.PROTECT, related_name="+")
    run = models.ForeignKey(
        "runs.Run", on_delete=models.PROTECT, related_name="exception_acknowledgements"
    )
    key = models.CharField(max_length=200)
    kind = models.CharField(max_length=40)
    content_hash = models.CharField(max_length=64)
    title = models.TextField(help_text=_("The item as the reviewer saw it."))
    comment = models.TextField(blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    acknowledged_at = models.DateTimeField(auto_now_add=True)

    objects = LabScopedQuerySet.as_manager()
    lab_field = "lab"

    class Meta:
        ordering = ["acknowledged_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["run", "key", "content_hash"], name="exception_acknowledged_once"
            ),
        ]
        indexes = [models.Index(fields=["run", "key"], name="exception_ack_run_key_idx")]

    def __str__(self) -> str:
        return f"{self.run_id}/{self.key} acknowledged"


class DocumentKind(models.TextChoices):
    BATCH_RECORD = "batch_record", _("Batch record")
    CERTIFICATE = "certificate", _("Certificate of analysis")


class ReleaseDocument(models.Model):
    """A document generated at a run's release: the PDF bytes, their SHA-256 (which the release
    signature binds) and how it was made. Kept in the database with the signature, in the
    same transaction: what was signed re-opens byte for byte."""

    lab = models.ForeignKey("labs.Lab", on_delete=models.PROTECT, related_name="+")
    run = models.ForeignKey("runs.Run", on_delete=models.PROTECT, related_name="documents")
    kind = models.CharField(max_length=16, choices=DocumentKind.choices)
    content = models.BinaryField()
    sha256 = models.CharField(max_length=64)
    size_bytes = models.PositiveIntegerField()
    pages = models.PositiveIntegerField()
    language = models.CharField(max_length=10)
    record_hash = models.CharField(
        max_length=64, help_text=_("SHA-256 of the record content the document shows.")
    )
    generated_at = models.DateTimeField()
    generated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    signature = models.ForeignKey(
        "signatures.Signature",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="release_documents",
    )

    objects = LabScopedQuerySet.as_manager()
    lab_field = "lab"

    class Meta:
        ordering = ["generated_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["run", "kind"], name="release_document_once"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} of run {self.run_id} ({self.sha256[:12]})"

    @property
    def filename(self) -> str:
        return f"{self.kind.replace('_', '-')}-{self.run_id}.pdf"
