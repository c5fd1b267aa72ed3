"""Baseline and follow-up visits, their values, and therapy events."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from django.db import IntegrityError, transaction
from django.utils import timezone

from labs.selectors import require_role
from protocol_tracker.audit.services import Change, audit_record, audit_record_many
from protocol_tracker.clinical.locks import lock_recipient
from protocol_tracker.clinical.models import (
    Recipient,
    TherapyEvent,
    TherapyEventKind,
    ValueSource,
    Visit,
    VisitKind,
    VisitValue,
)
from protocol_tracker.clinical.selectors import transplant_date
from protocol_tracker.clinical.services.common import (
    CAN_RECORD_CLINICAL,
    canonical,
    not_future,
    refuse,
)
from protocol_tracker.core.actors import Person
from protocol_tracker.core.errors import Conflict, RowErrors, ValidationFailed
from protocol_tracker.core.text import clean_text
from protocol_tracker.runs.models import Run


def _today(recipient: Recipient) -> date:
    return timezone.localdate(timezone.now(), recipient.lab.tz)


@transaction.atomic
def visit_create(
    *,
    recipient: Recipient,
    run: Run,
    kind: str,
    visit_date: date,
    actor: Person,
    label: str = "",
    note: str = "",
) -> Visit:
    """A baseline visit (before the transplant; one per transplant) or a follow-up visit (after
    the transplant started; one per day)."""
    recipient = lock_recipient(recipient.pk)
    require_role(actor, recipient.lab_id, CAN_RECORD_CLINICAL, "record visits")
    if run.lab_id != recipient.lab_id or run.donor_id != recipient.donor_id:
        raise refuse("run", "not a run of this recipient")
    if kind not in VisitKind.values:
        raise refuse("kind", f"one of {VisitKind.values}")
    if not isinstance(visit_date, date):
        raise refuse("visit_date", "a date is required")
    not_future(visit_date, _today(recipient), "visit_date")
    label = clean_text(label, field="label", max_length=64, multiline=False)
    note = clean_text(note, field="note", max_length=4000)
    tx = transplant_date(run)
    if kind == VisitKind.FOLLOW_UP:
        if tx is None:
            raise refuse("visit_date", "the transplant has not started: a follow-up comes after it")
        if visit_date <= tx:
            raise refuse(
                "visit_date", f"a follow-up visit is after the transplant ({tx.isoformat()})"
            )
    elif tx is not None and visit_date > tx:
        raise refuse("visit_date", f"a baseline visit is before the transplant ({tx.isoformat()})")
    visit = Visit(
        recipient=recipient,
        run=run,
        kind=kind,
        visit_date=visit_date,
        label=label,
        note=note,
        recorded_by=actor,
    )
    try:
        with transaction.atomic():
            visit.save()
    except IntegrityError:
        what = "a baseline visit" if kind == VisitKind.BASELINE else f"a visit on {visit_date}"
        raise Conflict(f"this recipient already has {what}", code="duplicate") from None
    audit_record(
        actor=actor,
        action="visit.create",
        obj=visit,
        lab_id=recipient.lab_id,
        run_id=run.pk,
        after={
            "recipient": recipient.donor.code,
            "kind": kind,
            "visit_date": visit_date.isoformat(),
            "label": label,
            "day": None if tx is None else (visit_date - tx).days,
        },
    )
    return visit


def _value_change(value: VisitValue, visit: Visit, reason: str = "") -> Change:
    return Change(
        action="visit_value.record" if value.supersedes_id is None else "visit_value.correct",
        obj=value,
        after={
            "visit": visit.pk,
            "measure": value.measure,
            "value": value.value,
            "unit": value.unit,
            "value_canonical": value.value_canonical,
            "source": value.source,
            "supersedes": value.supersedes_id,
        },
        reason=reason,
        run_id=visit.run_id,
        lab_id=visit.recipient.lab_id,
    )


@transaction.atomic
def visit_values_record(*, visit: Visit, values: Sequence[dict], actor: Person) -> list[VisitValue]:
    """Record values of a visit, all or none: each ``{measure, value, unit}`` (unit optional:
    the measure's own). A measure the visit already has is corrected, not recorded again."""
    recipient = lock_recipient(visit.recipient_id)
    visit = Visit.objects.select_related("recipient__lab").get(pk=visit.pk)
    require_role(actor, recipient.lab_id, CAN_RECORD_CLINICAL, "record visit values")
    if not values:
        raise refuse("values", "at least one value is required")
    existing = set(
        VisitValue.objects.filter(visit=visit, superseded_by__isnull=True).values_list(
            "measure", flat=True
        )
    )
    rows: list[dict] = []
    planned: list[VisitValue] = []
    seen: set[str] = set()
    for index, item in enumerate(values):
        if not isinstance(item, dict):
            rows.append({"index": index, "field": "", "message": "must be an object"})
            continue
        measure = item.get("measure")
        if measure in seen:
            rows.append({"index": index, "field": "measure", "message": "given twice"})
            continue
        if measure in existing:
            rows.append(
                {"index": index, "field": "measure", "message": "already recorded: correct it"}
            )
            continue
        try:
            value_canonical, unit, amount = canonical(
                str(measure), item.get("value"), item.get("unit")
            )
        except ValidationFailed as exc:
            field, messages = next(iter(exc.fields.items()))
            rows.append({"index": index, "field": field, "message": messages[0]})
            continue
        seen.add(str(measure))
        planned.append(
            VisitValue(
                visit=visit,
                measure=str(measure),
                value=amount,
                unit=unit,
                value_canonical=value_canonical,
                source=ValueSource.ENTERED,
                recorded_by=actor,
            )
        )
    if rows:
        first = rows[0]
        raise RowErrors(
            f"value {first['index']}: {first['field'] or 'row'}: {first['message']}", rows=rows
        )
    created = VisitValue.objects.bulk_create(planned)
    audit_record_many(actor=actor, changes=[_value_change(v, visit) for v in created])
    return created


@transaction.atomic
def visit_value_correct(
    *, value: VisitValue, new_value: object, unit: object, reason: str, actor: Person
) -> VisitValue:
    """Correct a value: a new row supersedes it, with a reason; the old one is kept."""
    visit = Visit.objects.select_related("recipient__lab").get(pk=value.visit_id)
    lock_recipient(visit.recipient_id)
    require_role(actor, visit.recipient.lab_id, CAN_RECORD_CLINICAL, "correct visit values")
    current = VisitValue.objects.select_for_update().get(pk=value.pk)
    if VisitValue.objects.filter(supersedes=current).exists():
        raise Conflict("this value was already corrected; correct the current one")
    why = clean_text(reason, field="reason", required=True, max_length=2000)
    value_canonical, name, amount = canonical(current.measure, new_value, unit)
    corrected = VisitValue.objects.create(
        visit=visit,
        measure=current.measure,
        value=amount,
        unit=name,
        value_canonical=value_canonical,
        source=ValueSource.ENTERED,
        supersedes=current,
        reason=why,
        recorded_by=actor,
    )
    audit_record_many(actor=actor, changes=[_value_change(corrected, visit, why)])
    return corrected


@transaction.atomic
def therapy_event_record(
    *,
    recipient: Recipient,
    kind: str,
    on_date: date,
    actor: Person,
    drug: str = "",
    note: str = "",
) -> TherapyEvent:
    """Insulin stopped or restarted, an oral agent withdrawn or started, on a date."""
    recipient = lock_recipient(recipient.pk)
    require_role(actor, recipient.lab_id, CAN_RECORD_CLINICAL, "record therapy events")
    if kind not in TherapyEventKind.values:
        raise refuse("kind", f"one of {TherapyEventKind.values}")
    if not isinstance(on_date, date):
        raise refuse("on_date", "a date is required")
    not_future(on_date, _today(recipient), "on_date")
    drug = clean_text(drug, field="drug", max_length=100, multiline=False)
    if kind.startswith("oral_agent") and not drug:
        raise refuse("drug", "name the oral agent")
    note = clean_text(note, field="note", max_length=2000)
    event = TherapyEvent.objects.create(
        recipient=recipient, kind=kind, drug=drug, on_date=on_date, note=note, recorded_by=actor
    )
    audit_record(
        actor=actor,
        action="therapy_event.record",
        obj=event,
        lab_id=recipient.lab_id,
        after={"kind": kind, "drug": drug, "on_date": on_date.isoformat(), "note": note},
    )
    return event
