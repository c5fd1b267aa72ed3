"""Reads of the identity registry: COIs, which identifiers are on record (never their values),
label prints and how they are accounted for."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Q, QuerySet, Sum
from django.db.models.functions import Coalesce

from labs.models import Lab
from protocol_tracker.core.actors import Person
from protocol_tracker.identity.models import Coi, LabelPrint, PatientIdentifier


def coi_by_value(*, lab: Lab | int, value: str) -> Coi | None:
    return Coi.objects.for_lab(lab).filter(value=value).first()


def cois_for_user(user: Person) -> QuerySet[Coi]:
    return Coi.objects.for_user(user)


def current_patient_identifiers(*, coi: Coi) -> QuerySet[PatientIdentifier]:
    """The identifiers on record for ``coi`` that no correction superseded (tokens only)."""
    return (
        PatientIdentifier.objects.for_lab(coi.lab_id)
        .filter(coi=coi, superseded_by__isnull=True)
        .order_by("kind")
    )


def patient_identifier_kinds(*, coi: Coi) -> list[str]:
    """Which kinds of identifier are on record (no key needed, nothing revealed)."""
    return list(current_patient_identifiers(coi=coi).values_list("kind", flat=True))


def patient_identifier_counts(*, coi_ids: Iterable[int]) -> dict[int, int]:
    """Current identifiers on record per COI, in one query."""
    rows = (
        PatientIdentifier.objects.filter(coi_id__in=list(coi_ids), superseded_by__isnull=True)
        .values_list("coi_id")
        .order_by()
    )
    counts: dict[int, int] = {}
    for (coi_id,) in rows:
        counts[coi_id] = counts.get(coi_id, 0) + 1
    return counts


def label_prints_with_totals(queryset: QuerySet[LabelPrint]) -> QuerySet[LabelPrint]:
    """``queryset`` with ``used``, ``destroyed`` (reconciled so far) and the printer."""
    return queryset.select_related("printed_by", "coi").annotate(
        used_total=Coalesce(Sum("reconciliations__used"), 0),
        destroyed_total=Coalesce(Sum("reconciliations__destroyed"), 0),
    )


def label_prints_of_subject(
    *, lab: Lab | int, subject_type: str, subject_id: str | int
) -> QuerySet[LabelPrint]:
    """The prints of one subject (a run, a vial...), newest first, with their totals."""
    return label_prints_with_totals(
        LabelPrint.objects.for_lab(lab).filter(
            subject_type=subject_type, subject_id=str(subject_id)
        )
    ).order_by("-printed_at", "-id")


def label_prints_visible_to(user: Person) -> QuerySet[LabelPrint]:
    return label_prints_with_totals(LabelPrint.objects.for_user(user)).order_by("-id")


def label_prints_of_coi(*, coi: Coi) -> QuerySet[LabelPrint]:
    return label_prints_with_totals(
        LabelPrint.objects.for_lab(coi.lab_id).filter(Q(coi=coi))
    ).order_by("-printed_at", "-id")


def label_print_for_user(*, label_print_id: int, user: Person) -> LabelPrint:
    """One print of the user's labs (another lab's raises ``LabelPrint.DoesNotExist``)."""
    return label_prints_visible_to(user).get(pk=label_print_id)
