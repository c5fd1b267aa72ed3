"""Reads of the audit trail."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db.models import QuerySet

from protocol_tracker.audit.models import AuditEvent
from protocol_tracker.core.actors import Person

if TYPE_CHECKING:
    from protocol_tracker.runs.models import Run


def audit_events_for_user(user: Person) -> QuerySet[AuditEvent]:
    """Audit events of the user's labs (the API's list and detail)."""
    return AuditEvent.objects.for_user(user)


def audit_events_of_run(*, run: Run) -> QuerySet[AuditEvent]:
    """The run's audit trail, oldest first, with the people who acted.

    ``run`` comes from a lab-scoped read; the trail is matched by run alone, so an event filed
    under the run is shown even where no lab was recorded on it.
    """
    return AuditEvent.objects.filter(run=run).select_related("actor_user").order_by("id")
