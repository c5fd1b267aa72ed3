"""Labels for a run's items: what each carries (COI, donor code, run code, item id, product and
expiry where known, FOR AUTOLOGOUS USE ONLY, the patient identifiers where the printer may see
them), printed and recorded through ``identity.services.label_print``."""

from __future__ import annotations

from collections.abc import Sequence

from django.db import transaction

from labs.models import CAN_SEE_PATIENT
from labs.selectors import has_role, require_role
from protocol_tracker.core.actors import Person
from protocol_tracker.core.errors import Conflict, ValidationFailed
from protocol_tracker.custody.models import Item, ItemKind
from protocol_tracker.custody.services.common import CAN_HANDLE, run_coi
from protocol_tracker.custody.services.items import items_register
from protocol_tracker.identity.codes import scan_payload
from protocol_tracker.identity.labels import AUTOLOGOUS_BANNER, LabelContent
from protocol_tracker.identity.models import IdentifierKind, LabelPrint
from protocol_tracker.identity.services import PrintedLabels, label_print, patient_identifiers_read
from protocol_tracker.runs.locks import lock_run
from protocol_tracker.runs.models import Run

RUN_SUBJECT = "runs.run"
DEFAULT_KIND = {"cryovial": ItemKind.VIAL, "tube": ItemKind.BLOOD_TUBE, "bag": ItemKind.BAG}
_PRIVATE_LABELS = {
    IdentifierKind.NAME: "Name",
    IdentifierKind.DATE_OF_BIRTH: "DOB",
    IdentifierKind.HOSPITAL_RECORD: "MRN",
    IdentifierKind.TRIAL_SUBJECT: "Subject",
}


def item_label(item: Item, run: Run, *, private: dict[str, str] | None = None) -> LabelContent:
    coi = item.coi.value
    lines = [f"COI {coi}", f"Donor {run.donor.code}", f"Run {run.code}", run.protocol.name]
    private_lines = tuple(
        f"{_PRIVATE_LABELS[IdentifierKind(kind)]} {value}"
        for kind, value in sorted((private or {}).items())
    )
    return LabelContent(
        payload=scan_payload(coi, item.item_id),
        title=item.item_id,
        lines=tuple(lines),
        private_lines=private_lines,
        banner=AUTOLOGOUS_BANNER,
    )


@transaction.atomic
def run_labels_print(
    *,
    run: Run,
    template: str,
    actor: Person,
    count: int | None = None,
    kind: str | None = None,
    items: Sequence[Item] = (),
    copies: int = 1,
    output: str = "pdf",
    sheet: str = "roll",
    reprint_of: LabelPrint | None = None,
    reason: str = "",
    with_patient_identifiers: bool = False,
    idempotency_key: str = "",
) -> PrintedLabels:
    """Label ``count`` new items of ``kind`` (registered now), or reprint the labels of existing
    ``items`` (naming the print they repeat and why). Patient identifiers are added only for a
    printer who may see them, and reading them is audited."""
    run = lock_run(run.pk)
    require_role(actor, run.lab_id, CAN_HANDLE, "print labels")
    coi = run_coi(run)
    key = (idempotency_key or "").strip()
    earlier = (
        LabelPrint.objects.filter(printed_by=actor, idempotency_key=key).first() if key else None
    )
    if earlier is not None:
        # A retry: the same items again (none registered twice); label_print replays the print
        # when the rest of the request is the same and refuses it otherwise.
        if count is not None and count != len(earlier.labels):
            raise Conflict(
                f"idempotency key {key!r} was already used for another print",
                code="idempotency_mismatch",
            )
        count, items = None, []
        reprint_of = earlier.reprint_of
        targets_of_earlier = list(
            Item.objects.for_lab(run.lab_id).filter(
                run=run, item_id__in=[label["title"] for label in earlier.labels]
            )
        )
    if items and count:
        raise ValidationFailed("give either a count of new items or items to reprint, not both")
    if items:
        if reprint_of is None:
            raise ValidationFailed(
                "labels of existing items are a reprint: name the print they repeat",
                fields={"reprint_of": ["required for existing items"]},
            )
        printed = {label.get("payload") for label in reprint_of.labels}
        stray = [i.item_id for i in items if scan_payload(coi.value, i.item_id) not in printed]
        if stray or any(i.run_id != run.pk for i in items):
            raise ValidationFailed(
                f"LP-{reprint_of.pk} printed no label for {', '.join(stray) or 'these items'}",
                fields={"items": ["not in the print being repeated"]},
            )
        targets = list(items)
    elif earlier is not None:
        targets = targets_of_earlier
    else:
        if reprint_of is not None:
            targets = list(
                Item.objects.for_lab(run.lab_id).filter(
                    run=run,
                    item_id__in=[label["title"] for label in reprint_of.labels],
                )
            )
        else:
            if count is None:
                raise ValidationFailed("how many labels?", fields={"count": ["required"]})
            targets = items_register(
                run=run,
                kind=kind or DEFAULT_KIND.get(template, ItemKind.SAMPLE),
                count=count,
                actor=actor,
            )
    private = None
    if with_patient_identifiers:
        if not has_role(actor, run.lab_id, CAN_SEE_PATIENT):
            raise ValidationFailed(
                "only a role that may see the patient prints their identifiers",
                code="not_permitted",
                fields={"with_patient_identifiers": ["not for your role"]},
            )
        private = patient_identifiers_read(
            coi=coi, actor=actor, purpose=f"labels for run {run.code} ({template})"
        )
    return label_print(
        lab=run.lab,
        template=template,
        labels=[item_label(item, run, private=private) for item in targets],
        actor=actor,
        subject_type=RUN_SUBJECT,
        subject_id=str(run.pk),
        coi=coi,
        copies=copies,
        output=output,
        sheet=sheet,
        reprint_of=reprint_of,
        reason=reason,
        idempotency_key=idempotency_key,
    )
