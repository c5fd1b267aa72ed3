"""Named counters: the next number of a sequence, under a row lock, never given twice."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.db.models import F

from protocol_tracker.identity.models import Counter


@transaction.atomic
def counter_next(name: str) -> int:
    """The next number of counter ``name`` (1 for a new one). Concurrent callers wait on the
    row's lock (PostgreSQL) or the write lock (SQLite) and get consecutive numbers."""
    updated = Counter.objects.filter(name=name).update(last=F("last") + 1)
    if not updated:
        try:
            with transaction.atomic():
                Counter.objects.create(name=name, last=1)
                return 1
        except IntegrityError:
            Counter.objects.filter(name=name).update(last=F("last") + 1)
    return Counter.objects.values_list("last", flat=True).get(name=name)
