"""Lists: filters, cursor pagination, ``?fields=``, lean shapes, constant query counts."""

from __future__ import annotations

from datetime import UTC, timedelta

import pytest
from django.test import RequestFactory
from rest_framework.request import Request

from protocol_tracker.api.serializers.runs import RunListSerializer, StageRunSerializer
from protocol_tracker.api.views.labs import AuditEventViewSet
from protocol_tracker.api.views.qc import DeviationViewSet
from protocol_tracker.api.views.runs import DonorViewSet
from protocol_tracker.audit.models import AuditEvent
from protocol_tracker.qc.models import Deviation
from protocol_tracker.runs import services as run_services
from protocol_tracker.runs.models import Donor, Run, StageRun
from tests import builders as f

pytestmark = pytest.mark.django_db


def ids(response) -> list[int]:
    assert response.status_code == 200, response.content[:500]
    return [item["id"] for item in response.json()["results"]]


@pytest.fixture
def runs(world):
    """The world's active run, plus a planned, an on-hold and a second-protocol run."""
    planned = f.planned_run(world.protocol, world.worker)
    held = run_services.run_hold(
        run=f.active_run(world.protocol, world.worker), actor=world.worker, reason="alarm"
    )
    other_protocol = f.api_protocol(world.lab, "second")
    second = f.active_run(other_protocol, world.worker)
    return {"active": world.run, "planned": planned, "held": held, "second": second}


def test_runs_filter_by_status_protocol_and_donor(api, world, runs, technician):
    client = api(technician)

    assert ids(client.get("/api/v1/runs/?status=planned")) == [runs["planned"].pk]
    assert ids(client.get("/api/v1/runs/?status=on_hold&status=planned")) == [
        runs["held"].pk,
        runs["planned"].pk,
    ]
    assert ids(client.get(f"/api/v1/runs/?protocol={runs['second'].protocol_id}")) == [
        runs["second"].pk
    ]
    assert ids(client.get(f"/api/v1/runs/?donor={world.run.donor_id}")) == [world.run.pk]


def test_runs_filter_by_open_stage_due_time_and_kind(api, world, runs, technician):
    client = api(technician)
    due = StageRun.objects.get(run=world.run, stage__key="expand").due_at
    open_runs = sorted([world.run.pk, runs["held"].pk, runs["second"].pk], reverse=True)

    before = (due + timedelta(minutes=1)).isoformat().replace("+00:00", "Z")
    after = (due + timedelta(minutes=1)).isoformat().replace("+00:00", "Z")

    assert ids(client.get("/api/v1/runs/", {"due_before": before})) == open_runs
    assert ids(client.get("/api/v1/runs/", {"due_after": after})) == []
    assert ids(client.get("/api/v1/runs/?stage_kind=expansion")) == open_runs
    assert ids(client.get("/api/v1/runs/?stage_kind=banking")) == []


def test_stage_runs_tasks_results_deviations_and_audit_filter_by_run(api, world, runs, technician):
    client = api(technician)
    run = world.run

    assert ids(client.get(f"/api/v1/stage-runs/?run={run.pk}")) == list(
        StageRun.objects.filter(run=run).order_by("pk").values_list("pk", flat=True)
    )
    assert ids(client.get(f"/api/v1/stage-runs/?run={run.pk}&status=in_progress")) == [
        world.stage_run.pk
    ]
    assert ids(client.get(f"/api/v1/stage-runs/?run={run.pk}&stage_kind=banking")) == [
        StageRun.objects.get(run=run, stage__key="bank").pk
    ]
    assert ids(client.get(f"/api/v1/qc-results/?run={run.pk}")) == [world.result.pk]
    assert ids(client.get(f"/api/v1/qc-results/?run={runs['planned'].pk}")) == []
    assert ids(client.get(f"/api/v1/deviations/?run={run.pk}")) == [world.deviation.pk]
    assert ids(client.get(f"/api/v1/audit-events/?run={run.pk}")) == list(
        AuditEvent.objects.filter(run=run).order_by("pk").values_list("pk", flat=True)
    )
    first_task = world.stage_run.tasks.order_by("due_at").first()
    soon = (first_task.due_at + timedelta(seconds=1)).isoformat().replace("+00:00", "Z")
    assert ids(client.get("/api/v1/task-occurrences/", {"run": run.pk, "due_before": soon})) == [
        first_task.pk
    ]


def test_cursor_pages_walk_every_run_once(api, world, technician):
    for _ in range(6):
        f.planned_run(world.protocol, world.worker)
    client = api(technician)
    seen, url = [], "/api/v1/runs/?page_size=3"

    while url:
        body = client.get(url).json()
        seen += [item["id"] for item in body["results"]]
        url = body["next"]

    assert seen == sorted(Run.objects.values_list("pk", flat=True), reverse=True)


def test_fields_narrows_lists_and_details(api, world, technician):
    client = api(technician)

    listed = client.get("/api/v1/runs/?fields=code,status").json()["results"]
    detail = client.get(f"/api/v1/protocols/{world.protocol.pk}/?fields=version").json()

    assert listed == [{"id": world.run.pk, "code": world.run.code, "status": "active"}]
    assert detail == {"id": world.protocol.pk, "version": 1}


@pytest.mark.parametrize(
    ("viewset", "model", "serializer"),
    [
        ("runs", Run, RunListSerializer),
        ("stage-runs", StageRun, StageRunSerializer),
        ("donors", Donor, DonorViewSet),
        ("deviations", Deviation, DeviationViewSet),
        ("audit-events", AuditEvent, AuditEventViewSet),
    ],
)
def test_lean_lists_match_their_documented_serializer(
    api, world, technician, viewset, model, serializer
):
    """A list built from ``.values()`` says exactly what its serializer (the schema) says."""
    if hasattr(serializer, "serializer_class"):
        serializer = serializer.serializer_class
    listed = api(technician).get(f"/api/v1/{viewset}/?page_size=200").json()["results"]
    request = Request(RequestFactory().get("/"))
    objects = model.objects.filter(pk__in=[item["id"] for item in listed])
    expected = {
        item["id"]: item
        for item in serializer(objects, many=True, context={"request": request}).data
    }

    assert listed
    for item in listed:
        assert item == expected[item["id"]]


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/runs/",
        "/api/v1/stage-runs/",
        "/api/v1/qc-results/",
        "/api/v1/deviations/",
        "/api/v1/audit-events/",
        "/api/v1/task-occurrences/",
        "/api/v1/donors/",
        "/api/v1/protocols/",
    ],
)
def test_list_queries_do_not_grow_with_the_page(
    api, world, technician, path, django_assert_num_queries
):
    for _ in range(3):
        sr = f.working_stage(world.protocol, world.worker)
        f.record(sr, world.worker, value=50)  # out of spec: a deviation each
    client = api(technician)
    client.get(path)  # first use of the token records last_used_at

    with django_assert_num_queries(2):  # the token, the page
        small = client.get(f"{path}?page_size=1")
    with django_assert_num_queries(2):
        large = client.get(f"{path}?page_size=200")

    assert len(small.json()["results"]) == 1 < len(large.json()["results"])


def test_run_detail_queries_do_not_grow_with_the_run(
    api, world, technician, django_assert_num_queries
):
    client = api(technician)
    client.get(f"/api/v1/runs/{world.run.pk}/")
    big = f.completed_run(world.protocol, world.worker)

    with django_assert_num_queries(13):
        small = client.get(f"/api/v1/runs/{world.run.pk}/")
    with django_assert_num_queries(13):
        large = client.get(f"/api/v1/runs/{big.pk}/")

    assert (small.status_code, large.status_code) == (200, 200)
    assert [len(s["current_results"]) for s in large.json()["stage_runs"]] == [1, 1]


def test_lists_read_times_in_utc_with_z(api, world, technician):
    item = api(technician).get("/api/v1/runs/").json()["results"][0]
    assert item["created_at"].endswith("Z")
    assert item["created_at"] == Run.objects.get(pk=item["id"]).created_at.astimezone(
        UTC
    ).isoformat().replace("+00:00", "Z")
