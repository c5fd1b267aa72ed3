"""Reads of e-signatures: the signature of a record (by its type and id)."""

from __future__ import annotations

from django.db import models
from django.db.models import CharField, OuterRef, Subquery
from django.db.models.functions import Cast

from protocol_tracker.signatures.models import Signature


def signature_of(obj: models.Model) -> Signature | None:
    """The (first) signature of the record ``obj``, or None."""
    return (
        Signature.objects.filter(object_type=obj._meta.label_lower, object_id=str(obj.pk))
        .order_by("pk")
        .first()
    )


def signature_id_subquery(model: type[models.Model]) -> Subquery:
    """For ``.annotate(signature_id=...)``: the id of each row's (first) signature."""
    return Subquery(
        Signature.objects.filter(
            object_type=model._meta.label_lower,
            object_id=Cast(OuterRef("pk"), output_field=CharField()),
        )
        .order_by("pk")
        .values("pk")[:1]
    )
