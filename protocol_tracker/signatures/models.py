"""Electronic signatures (21 CFR 11.50/11.70), for every record a person signs off.

Signatures sit low in the house (above labs, below protocols) so that any record can be signed:
a deviation's disposition, a run's release, a protocol version's approval, a material lot's
release. The signed record is named by type and id; ``run`` files the signature under a run's
record when it belongs to one (a reference by table, as the audit trail's).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from protocol_tracker.core.scoping import LabScopedQuerySet


class SignatureMeaning(models.TextChoices):
    REVIEWED = "reviewed", _("Reviewed")
    APPROVED = "approved", _("Approved")
    RELEASED = "released", _("Released")
    REJECTED = "rejected", _("Rejected")
    # A second person's attestation of what they saw done (a typed identity entry, the bedside
    # two-person check).
    WITNESSED = "witnessed", _("Witnessed")
    # Change control of protocol versions (21 CFR 11.50: the meaning is spelt out).
    APPROVED_FOR_USE = "approved_for_use", _("Approved for use")
    RETIRED = "retired", _("Retired from use")
    CONFIRMED = "confirmed", _("Convention confirmed for this lab")


class Signature(models.Model):
    """An electronic signature (21 CFR 11.50/11.70): signer, time, meaning, and the record signed.

    ``record_hash`` binds it to the version of the record that was signed.
    """

    lab = models.ForeignKey("labs.Lab", on_delete=models.PROTECT, related_name="signatures")
    signer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="signatures"
    )
    signer_name = models.CharField(max_length=200)
    meaning = models.CharField(max_length=32, choices=SignatureMeaning.choices)
    object_type = models.CharField(max_length=64)
    object_id = models.CharField(max_length=64)
    run = models.ForeignKey(
        "runs.Run", null=True, blank=True, on_delete=models.PROTECT, related_name="signatures"
    )
    record_hash = models.CharField(max_length=64)
    statement = models.TextField()
    signed_at = models.DateTimeField(auto_now_add=True)

    objects = LabScopedQuerySet.as_manager()
    lab_field = "lab"

    class Meta:
        # The table keeps its first name (it was qc's): the append-only trigger and the audit
        # migrations name it.
        db_table = "qc_signature"
        ordering = ["signed_at", "id"]

    def __str__(self) -> str:
        return f"{self.signer_name} {self.meaning} {self.object_type}:{self.object_id}"
