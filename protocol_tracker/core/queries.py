"""Query building blocks that the selectors of several apps share."""

from __future__ import annotations

from django.db.models import Count, IntegerField, QuerySet, Subquery
from django.db.models.functions import Coalesce


def subquery_count(queryset: QuerySet, *, per: str) -> Coalesce:
    """``COUNT(*)`` of ``queryset`` (correlated with ``OuterRef``) per value of ``per``, as a
    scalar subquery (0 when there is none).

    Several counts of different relations side by side: each is its own subquery, so they
    never multiply each other the way ``Count`` over two joins does.
    """
    return Coalesce(
        Subquery(
            queryset.order_by().values(per).annotate(n=Count("pk")).values("n")[:1],
            output_field=IntegerField(),
        ),
        0,
    )
