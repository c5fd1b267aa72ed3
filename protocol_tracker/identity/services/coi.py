"""COIs: issued once per donor at enrolment, in the lab's layout; the lab's COI settings."""

from __future__ import annotations

import re

from django.db import IntegrityError, transaction
from django.utils import timezone

from labs.models import CAN_ADMINISTER, CAN_WORK, Lab
from labs.selectors import require_role
from protocol_tracker.audit.services import audit_record
from protocol_tracker.core.actors import Person
from protocol_tracker.core.errors import Conflict, ValidationFailed
from protocol_tracker.identity import layouts
from protocol_tracker.identity.models import Coi, CoiSettings
from protocol_tracker.identity.services.counters import counter_next


def _default_prefix(lab: Lab) -> str:
    letters = re.sub(r"[^A-Z0-9]", "", lab.slug.upper()) or "L"
    prefix = letters[:4] if letters[0].isalpha() else f"L{letters[:3]}"
    prefix = prefix if len(prefix) >= 2 else f"{prefix}L"
    if CoiSettings.objects.filter(prefix=prefix).exclude(lab=lab).exists():
        prefix = f"L{lab.pk}"[:6]
    return prefix


def coi_settings_of(lab: Lab) -> CoiSettings:
    """The lab's COI settings, made with the defaults (built-in layout, a prefix from the lab's
    slug) on first use. Part of the caller's transaction."""
    settings_row = CoiSettings.objects.filter(lab=lab).first()
    if settings_row is None:
        settings_row = CoiSettings.objects.create(
            lab=lab, layout=layouts.DEFAULT_LAYOUT, prefix=_default_prefix(lab)
        )
    return settings_row


@transaction.atomic
def coi_settings_set(*, lab: Lab, layout: str, prefix: str, actor: Person) -> CoiSettings:
    """Change how the lab's new COIs look (lab admins). COIs already issued keep their value;
    numbers are drawn per prefix and year, so none is ever issued twice."""
    require_role(actor, lab, CAN_ADMINISTER, "change the COI settings")
    prefix = (prefix or "").strip().upper()
    if not layouts.PREFIX_RE.match(prefix):
        raise ValidationFailed(
            "a COI prefix is 2-6 capitals or digits, starting with a capital",
            fields={"prefix": ["2-6 capitals or digits, starting with a capital"]},
        )
    if layout not in layouts.layouts():
        raise ValidationFailed(
            f"no COI layout {layout!r} is installed",
            fields={"layout": [f"one of {sorted(layouts.layouts())}"]},
        )
    row = coi_settings_of(lab)
    if CoiSettings.objects.filter(prefix=prefix).exclude(pk=row.pk).exists():
        raise Conflict(f"COI prefix {prefix} is another lab's", code="duplicate")
    before = {"layout": row.layout, "prefix": row.prefix}
    row.layout, row.prefix, row.updated_by = layout, prefix, actor
    row.save(update_fields=["layout", "prefix", "updated_by", "updated_at"])
    audit_record(
        actor=actor,
        action="coi_settings.set",
        obj=row,
        lab_id=lab.pk,
        before=before,
        after={"layout": layout, "prefix": prefix},
    )
    return row


@transaction.atomic
def coi_issue(*, lab: Lab, actor: Person) -> Coi:
    """A new COI for a donor being enrolled in ``lab`` (anyone who works there). The caller
    links it to the donor in the same transaction."""
    require_role(actor, lab, CAN_WORK, "issue COI identifiers")
    row = coi_settings_of(lab)
    layout = layouts.layout(row.layout)
    year = timezone.now().year
    sequence = counter_next(f"coi:{layout.key}:{row.prefix}:{year}")
    value = layout.format(prefix=row.prefix, year=year, sequence=sequence)
    try:
        with transaction.atomic():
            coi = Coi.objects.create(
                lab=lab,
                value=value,
                layout=layout.key,
                prefix=row.prefix,
                year=year,
                sequence=sequence,
                issued_by=actor,
            )
    except IntegrityError:
        raise Conflict(f"COI {value} exists already; try again", code="conflict") from None
    audit_record(
        actor=actor,
        action="coi.issue",
        obj=coi,
        lab_id=lab.pk,
        after={"value": value, "layout": layout.key, "sequence": sequence},
    )
    return coi
