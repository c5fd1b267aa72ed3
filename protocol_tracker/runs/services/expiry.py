"""The formulated product's expiry: set at formulation (by the clinical service, on a run it has
locked), checked when a transplant-kind stage starts."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from protocol_tracker.audit.services import Change
from protocol_tracker.core.errors import InvalidTransition
from protocol_tracker.protocols.models import StageKind
from protocol_tracker.runs.models import Run, StageRun
from protocol_tracker.runs.services.common import require_aware, run_audit_change


def run_product_expiry_set(run: Run, *, expires_at: datetime, reason: str = "") -> list[Change]:
    """Set the product's expiry on ``run`` (locked by the caller); the audit change to write."""
    require_aware(expires_at, "expires_at")
    before = {"product_expires_at": run.product_expires_at}
    run.product_expires_at = expires_at
    run.save(update_fields=["product_expires_at"])
    return [
        run_audit_change(
            "run.product_expiry", run, run, before, {"product_expires_at": expires_at}, reason
        )
    ]


def refuse_if_product_expired(run: Run, sr: StageRun, *, now: datetime | None = None) -> None:
    """A transplant stage cannot start once the product has expired: the run is then rejected,
    or a deviation is opened; nothing starts the transplant."""
    if sr.stage.kind != StageKind.TRANSPLANT or run.product_expires_at is None:
        return
    now = now or timezone.now()
    if now < run.product_expires_at:
        return
    local = timezone.localtime(run.product_expires_at, run.lab.tz)
    raise InvalidTransition(
        f"stage '{sr.stage.name}' cannot start: the product of run {run.code} expired at "
        f"{local:%Y-%m-%d %H:%M} ({run.lab.timezone}); reject the run or open a deviation",
        code="product_expired",
    )
