"""API-only records: personal tokens and idempotency keys.

Neither is a GMP record; they serve the HTTP interface. They still change only through
``protocol_tracker.api.services`` (tokens) and ``protocol_tracker.api.idempotency``.
(Instrument uploads, the jobs behind ``/api/v1/instrument-uploads/``, are qc's: ``qc.models``.)
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class PersonalToken(models.Model):
    """An API token for a person. Only the SHA-256 of the 256-bit secret is kept.

    The token reads ``ptp_<prefix>_<secret>``: the prefix finds the row with one indexed lookup,
    the secret is compared in constant time against the stored hash.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100, blank=True)
    prefix = models.CharField(max_length=16, unique=True)
    secret_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.user} token {self.prefix}…"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None and self.user.is_active


class IdempotencyRecord(models.Model):
    """The first successful response to a create request with an ``Idempotency-Key``.

    Written in the same transaction as the object it created, so a record exists exactly when
    the write happened; the unique constraints make a concurrent retry wait for the first request
    and then replay its response instead of writing again.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
    )
    instrument = models.ForeignKey(
        "labs.Instrument", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    key = models.CharField(max_length=255)
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=500)
    request_hash = models.CharField(max_length=64)
    response_status = models.PositiveSmallIntegerField()
    # The rendered JSON as text: replaying it gives back the same bytes (JSONB would reorder keys).
    response_body = models.TextField(blank=True)
    response_headers = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(user__isnull=False, instrument__isnull=True)
                    | models.Q(user__isnull=True, instrument__isnull=False)
                ),
                name="idempotency_one_principal",
            ),
            models.UniqueConstraint(
                fields=["user", "key"],
                condition=models.Q(user__isnull=False),
                name="idempotency_user_key",
            ),
            models.UniqueConstraint(
                fields=["instrument", "key"],
                condition=models.Q(instrument__isnull=False),
                name="idempotency_instrument_key",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.method} {self.path} [{self.key}] -> {self.response_status}"
