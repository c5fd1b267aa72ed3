"""A GET writes nothing: every GET URL of the web UI and of the API (read from the URL conf, with
the ids of a small lab's real objects), as a technician and as a reviewer, runs no INSERT,
UPDATE or DELETE.

The API is called with the session (as the browser does): a personal token's "last used"
stamp is the authentication's bookkeeping, not a write by the view.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from protocol_tracker.api.services import personal_token_issue
from protocol_tracker.audit.models import AuditEvent
from protocol_tracker.qc import services as qc_services
from protocol_tracker.reminders.models import Notification
from protocol_tracker.reminders.services import calendar_token_issue
from protocol_tracker.runs.models import TaskOccurrence
from tests import builders as f
from tests.builders.clinical import standing
from tests.builders.custody_world import custody_objects
from tests.builders.stock import stock_ids
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db

WRITE = re.compile(r"^\s*(INSERT|UPDATE|DELETE)\b", re.IGNORECASE)
NAMESPACES = ("web", "api")


def _patterns(resolver: URLResolver, namespace: str | None = None):
    """(namespaced name, route of the pattern itself, its parameter names) of every URL."""
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            yield from _patterns(entry, entry.namespace or namespace)
        elif isinstance(entry, URLPattern) and namespace in NAMESPACES and entry.name:
            params = getattr(entry.pattern, "converters", None) or entry.pattern.regex.groupindex
            yield f"{namespace}:{entry.name}", str(entry.pattern).lstrip("^"), tuple(params)


PATTERNS = sorted(set(_patterns(get_resolver())))


@dataclass
class Lab:
    ids: dict[str, int]  # first segment of a route -> the id its ``pk`` takes
    checkpoint: int


def _lab(lab, technician, reviewer, technician2) -> Lab:
    world = f.lab_world(lab, technician2)
    f.attach_upload(world)
    checkpoint = world.stage_run.stage.checkpoints.get(key="viability")
    records = standing(world)
    task = TaskOccurrence.objects.filter(stage_run=world.stage_run).order_by("pk").first()
    chain = custody_objects(lab, technician2)
    return Lab(
        ids={
            "labs": lab.pk,
            "protocols": world.protocol.pk,
            "donors": world.donor.pk,
            "runs": world.run.pk,
            "stages": world.stage_run.pk,
            "stage-runs": world.stage_run.pk,
            "tasks": task.pk,
            "task-occurrences": task.pk,
            "results": world.result.pk,
            "qc-results": world.result.pk,
            "deviations": world.deviation.pk,
            "audit-events": AuditEvent.objects.filter(lab=lab).order_by("pk").first().pk,
            "instrument-uploads": world.upload.pk,
            "trends": checkpoint.pk,
            **chain,
            "recipients": records.recipient.pk,
            "clinical": records.recipient.pk,
            "visits": records.visit.pk,
            "value": records.value.pk,
            "disposition-groups": _group(world).pk,
            "item": world.protocol.stages.order_by("order").first().pk,
            **stock_ids(lab, technician2, reviewer),
        },
        checkpoint=checkpoint.pk,
    )


def _group(world):
    pair = [
        qc_services.deviation_open(
            run=world.run, kind="manual", severity="minor", title=f"Label {n}", actor=world.worker
        )
        for n in (1, 2)
    ]
    return qc_services.deviation_disposition_group(
        deviations=pair, decision="accept", justification="reprinted", password=PASSWORD,
        actor=f.qa_reviewer(world.lab),
    )  # fmt: skip


def _own_objects(user, lab) -> dict[str, int]:
    """The caller's own notification and personal token."""
    notification = Notification.objects.create(
        lab=lab,
        recipient=user,
        kind="due",
        object_type="stage_run",
        object_id=1,
        due_at=timezone.now(),
        created_at=timezone.now(),
    )
    token, _secret = personal_token_issue(user=user, name="walk")
    calendar = calendar_token_issue(user=user)
    return {"notifications": notification.pk, "auth": token.pk, "calendar": calendar.secret}


def _url(name: str, route: str, params: tuple[str, ...], data: Lab, own: dict[str, int]) -> str:
    segment = route.split("/", 1)[0]
    two = "/".join(route.split("/")[:2])
    ids = {**data.ids, **own}
    values = {
        "pk": lambda: ids.get(two, ids.get(segment)),
        "stage_pk": lambda: ids["stages"],
        "checkpoint_pk": lambda: data.checkpoint,
        "action": lambda: "start" if segment == "runs" else "validate",
        "token": lambda: ids["calendar"],
        "part": lambda: "stage",
        "item": lambda: ids["item"],
        "path": lambda: "nothing-here/",
        "value_pk": lambda: ids["value"],
        "what": lambda: "tank",
        "kind": lambda: "csv",
    }
    unknown = [p for p in params if p not in values]
    assert not unknown, f"{name}: give the walk a value for {unknown}"
    return reverse(name, kwargs={p: values[p]() for p in params})


@pytest.mark.parametrize("role", ["technician", "reviewer"])
def test_a_get_writes_nothing(client, request, lab, technician, reviewer, technician2, role):
    patterns = PATTERNS
    data = _lab(lab, technician, reviewer, technician2)
    user = request.getfixturevalue(role)
    own = _own_objects(user, lab)
    client.force_login(user)
    client.get("/")  # the session's first request
    cache.clear()  # a full throttle budget

    writes, statuses = {}, {}
    for name, route, params in patterns:
        url = _url(name, route, params, data, own)
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(url)
        statuses[url] = response.status_code
        wrote = [q["sql"] for q in ctx.captured_queries if WRITE.match(q["sql"])]
        if wrote:
            writes[f"{name} {url}"] = wrote

    assert writes == {}
    assert [url for url, code in statuses.items() if code >= 500] == []
    assert len(statuses) == len(patterns)
