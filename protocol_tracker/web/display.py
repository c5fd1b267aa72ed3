"""Display helpers shared by views and template tags: spec labels, live verdicts, counts."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext as _

from protocol_tracker import specs
from protocol_tracker.reminders import selectors as reminder_selectors
from protocol_tracker.specs.units import UnitError


def spec_label(obj) -> str:
    """A checkpoint's (or a result's snapshot's) spec as a short, translated label."""
    if obj is None:
        return ""
    if isinstance(obj, dict):
        spec, unit = obj.get("spec"), obj.get("unit", "")
    else:
        spec, unit = obj.spec, obj.unit
    if not spec or not any(
        v is not None for k, v in spec.items() if k in ("min", "max", "allowed", "expected", "iscn")
    ):
        return _("no spec")
    text = specs.describe_spec(spec, unit or "")
    if text == "no spec":
        return _("no spec")
    text = text.replace(" and ", " " + _("and") + " ")
    if text.startswith("ISCN: "):
        text = _("ISCN: ≥ %(n)s metaphases, no clonal abnormality") % {
            "n": spec["iscn"]["min_metaphases"]
        }
    if text.startswith("one of: "):
        text = _("one of: %(answers)s") % {"answers": text.removeprefix("one of: ")}
    if isinstance(spec.get("expected"), bool):
        text = "= " + (_("yes") if spec["expected"] else _("no"))
    return text


@dataclass(frozen=True)
class LiveVerdict:
    verdict: str  # pass / fail / no_spec / invalid / empty
    message: str


def live_verdict(checkpoint, raw: str, unit: str | None) -> LiveVerdict:
    """What the service will judge ``raw`` to be, shown while the technician types."""
    if raw is None or str(raw).strip() == "":
        return LiveVerdict("empty", _("Enter a value to see the verdict."))
    try:
        verdict = specs.evaluate(
            checkpoint.spec or None,
            value_type=checkpoint.value_type,
            value=raw,
            unit=(unit or checkpoint.unit)
            if checkpoint.value_type in ("number", "percent")
            else None,
            spec_unit=checkpoint.unit or "",
            analyte=checkpoint.analyte or None,
        )
    except (specs.SpecError, UnitError) as exc:
        return LiveVerdict("invalid", str(exc))
    messages = {
        specs.PASS: _("Within spec"),
        specs.FAIL: _("OUT OF SPEC: saving it opens a deviation"),
        specs.NO_SPEC: _("No acceptance spec: recorded for information"),
    }
    if verdict == specs.FAIL and not checkpoint.blocking:
        messages[specs.FAIL] = _("Out of spec (informational checkpoint)")
    return LiveVerdict(verdict, messages[verdict])


def unread_count(user) -> int:
    cache = getattr(user, "_web_unread", None)
    if cache is not None:
        return cache
    try:
        count = reminder_selectors.notifications_for_user(user, unread=True).count()
    except (ImportError, AttributeError):
        count = 0
    user._web_unread = count
    return count
