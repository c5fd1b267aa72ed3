"""Printing labels and accounting for them: every print recorded (who, when, how many, of
what), reprints say so and why, and the labels of a print are reconciled (used, destroyed)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from django.db import IntegrityError, transaction
from django.db.models import Sum

from labs.models import CAN_SEE_PATIENT, CAN_WORK, Lab
from labs.selectors import require_role
from protocol_tracker.audit.services import audit_record
from protocol_tracker.core.actors import Person
from protocol_tracker.core.errors import Conflict, ValidationFailed
from protocol_tracker.core.text import clean_text
from protocol_tracker.identity.labels import Document, LabelContent, render
from protocol_tracker.identity.labels.render import OUTPUTS, SHEETS
from protocol_tracker.identity.labels.templates import TEMPLATES
from protocol_tracker.identity.models import Coi, LabelPrint, LabelReconciliation

CAN_PRINT = CAN_WORK | CAN_SEE_PATIENT
MAX_LABELS = 1000  # labels × copies in one print
REPRINT_MARK = "REPRINT"


@dataclass(frozen=True)
class PrintedLabels:
    record: LabelPrint
    document: Document
    replayed: bool = False

    @property
    def filename(self) -> str:
        return f"labels-LP{self.record.pk}-{self.record.template}.{self.document.extension}"


def _check(template: str, output: str, sheet: str, copies: object, count: int) -> dict:
    errors: dict[str, list[str]] = {}
    if template not in TEMPLATES:
        errors["template"] = [f"one of {sorted(TEMPLATES)}"]
    if output not in OUTPUTS:
        errors["format"] = [f"one of {list(OUTPUTS)}"]
    if sheet not in SHEETS:
        errors["sheet"] = [f"one of {list(SHEETS)}"]
    if not isinstance(copies, int) or isinstance(copies, bool) or copies < 1:
        errors["copies"] = ["a whole number ≥ 1"]
    elif count * copies > MAX_LABELS:
        errors["copies"] = [f"at most {MAX_LABELS} labels in one print"]
    if count == 0:
        errors["labels"] = ["nothing to print"]
    return errors


def _same(record: LabelPrint, **wanted) -> bool:
    return all(getattr(record, key) == value for key, value in wanted.items())


@transaction.atomic
def label_print(
    *,
    lab: Lab,
    template: str,
    labels: Sequence[LabelContent],
    actor: Person,
    subject_type: str,
    subject_id: str,
    coi: Coi | None = None,
    copies: int = 1,
    output: str = "pdf",
    sheet: str = "roll",
    reprint_of: LabelPrint | None = None,
    reason: str = "",
    idempotency_key: str = "",
) -> PrintedLabels:
    """Render ``labels`` (plain content from any caller) with ``template`` and record the print.

    Patient identifiers (``LabelContent.private_lines``) are printed only for a printer who may
    see them (``CAN_SEE_PATIENT``) and never stored on the record. A reprint names the print it
    repeats and why, and its labels say REPRINT. A repeated ``idempotency_key`` with the same
    request returns the first print (rendered again, not recorded twice); with another request,
    Conflict."""
    require_role(actor, lab, CAN_PRINT, "print labels")
    errors = _check(template, output, sheet, copies, len(labels))
    reason = clean_text(reason, field="reason", max_length=2000)
    if reprint_of is not None:
        if reprint_of.lab_id != lab.pk:
            errors["reprint_of"] = ["not found in this lab"]
        if not reason:
            errors["reason"] = ["a reprint needs a reason"]
    key = (idempotency_key or "").strip()
    if len(key) > 128:
        errors["idempotency_key"] = ["at most 128 characters"]
    if errors:
        field, messages = next(iter(errors.items()))
        raise ValidationFailed(f"{field}: {messages[0]}", fields=errors)
    private = any(label.private_lines for label in labels)
    if private:
        require_role(actor, lab, CAN_SEE_PATIENT, "print patient identifiers on labels")
    if reprint_of is not None:
        labels = [replace(label, mark=REPRINT_MARK) for label in labels]
    wanted = {
        "lab_id": lab.pk,
        "coi_id": coi.pk if coi is not None else None,
        "subject_type": subject_type,
        "subject_id": str(subject_id),
        "template": template,
        "output": output,
        "sheet": sheet,
        "labels": [label.record() for label in labels],
        "copies": copies,
        "label_count": len(labels) * copies,
        "with_patient_identifiers": private,
        "reprint_of_id": reprint_of.pk if reprint_of is not None else None,
        "reason": reason,
    }
    document = render(template=template, labels=labels, output=output, copies=copies, sheet=sheet)
    if key:
        existing = LabelPrint.objects.filter(printed_by=actor, idempotency_key=key).first()
        if existing is not None:
            if _same(existing, **wanted):
                return PrintedLabels(record=existing, document=document, replayed=True)
            raise Conflict(
                f"idempotency key {key!r} was already used for another print",
                code="idempotency_mismatch",
            )
    record = LabelPrint(
        **wanted, document_sha256=document.sha256, idempotency_key=key, printed_by=actor
    )
    try:
        with transaction.atomic():
            record.save()
    except IntegrityError:
        raise Conflict(f"idempotency key {key!r} is in use", code="idempotency_mismatch") from None
    audit_record(
        actor=actor,
        action="label.reprint" if reprint_of is not None else "label.print",
        obj=record,
        lab_id=lab.pk,
        reason=reason,
        after={
            "template": template,
            "output": output,
            "label_count": record.label_count,
            "copies": copies,
            "subject": f"{subject_type}:{subject_id}",
            "coi": coi.value if coi is not None else "",
            "with_patient_identifiers": private,
            "reprint_of": reprint_of.pk if reprint_of is not None else None,
            "document_sha256": document.sha256,
        },
    )
    return PrintedLabels(record=record, document=document)


def _accounted(label_print_id: int) -> tuple[int, int]:
    totals = LabelReconciliation.objects.filter(label_print_id=label_print_id).aggregate(
        used=Sum("used"), destroyed=Sum("destroyed")
    )
    return totals["used"] or 0, totals["destroyed"] or 0


def _count(value: object, field: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValidationFailed(f"{field} must be a whole number ≥ 0", fields={field: ["≥ 0"]})
    return value


@transaction.atomic
def label_reconcile(
    *, label_print: LabelPrint, used: int, destroyed: int, actor: Person, reason: str = ""
) -> LabelReconciliation:
    """Account for labels of a print: ``used`` on items, ``destroyed`` (spoilt, surplus; needs a
    reason). Never more than were printed."""
    record = LabelPrint.objects.select_for_update().get(pk=label_print.pk)
    require_role(actor, record.lab_id, CAN_PRINT, "reconcile labels")
    used, destroyed = _count(used, "used"), _count(destroyed, "destroyed")
    reason = clean_text(reason, field="reason", max_length=2000)
    if used + destroyed == 0:
        raise ValidationFailed("account for at least one label", fields={"used": ["> 0"]})
    if destroyed and not reason:
        raise ValidationFailed(
            "destroyed labels need a reason", fields={"reason": ["this field is required"]}
        )
    done_used, done_destroyed = _accounted(record.pk)
    left = record.label_count - done_used - done_destroyed
    if used + destroyed > left:
        raise ValidationFailed(
            f"LP-{record.pk} printed {record.label_count} labels and {left} are unaccounted "
            f"for; {used + destroyed} is too many",
            fields={"used": [f"at most {left} in all"]},
        )
    row = LabelReconciliation.objects.create(
        label_print=record, used=used, destroyed=destroyed, reason=reason, recorded_by=actor
    )
    audit_record(
        actor=actor,
        action="label.reconcile",
        obj=row,
        lab_id=record.lab_id,
        reason=reason,
        after={
            "label_print": record.pk,
            "used": used,
            "destroyed": destroyed,
            "unaccounted": left - used - destroyed,
        },
    )
    return row
