"""Every view × role × own lab / other lab: members see their lab's pages, roles decide what they
may do (403), and another lab's objects are indistinguishable from missing ones (404)."""

from __future__ import annotations

import pytest

from tests.web import stock_views

pytestmark = pytest.mark.django_db

ROLES = ("technician", "reviewer", "lab_admin", "viewer", "clinician")
ALL = frozenset(ROLES)
WORK = frozenset({"technician", "reviewer", "lab_admin"})
REVIEW = frozenset({"reviewer"})
DESIGN = frozenset({"lab_admin"})

# name, method, url from a scenario, roles allowed, status when allowed (own lab)
OBJECT_VIEWS = [
    ("run", "get", lambda s: f"/runs/{s.run.pk}/", ALL, 200),
    ("batch_record", "get", lambda s: f"/runs/{s.run.pk}/record/", ALL, 200),
    ("qc_entry", "get", lambda s: f"/stages/{s.stage_run.pk}/qc/{s.checkpoint.pk}/", WORK, 200),
    (
        "qc_check",
        "post",
        lambda s: f"/stages/{s.stage_run.pk}/qc/{s.checkpoint.pk}/check/",
        ALL,
        200,
    ),
    ("qc_correct", "get", lambda s: f"/results/{s.result.pk}/correct/", WORK, 200),
    ("deviation", "get", lambda s: f"/deviations/{s.deviation.pk}/", ALL, 200),
    ("run_release", "get", lambda s: f"/runs/{s.run.pk}/release/", REVIEW, 200),
    ("run_reject", "get", lambda s: f"/runs/{s.run.pk}/reject/", REVIEW, 200),
    ("trend", "get", lambda s: f"/trends/{s.checkpoint.pk}/", ALL, 200),
    ("protocol", "get", lambda s: f"/protocols/{s.protocol.pk}/", ALL, 200),
    ("protocol_compare", "get", lambda s: f"/protocols/{s.protocol.pk}/compare/", ALL, 200),
    ("stage_start", "post", lambda s: f"/stages/{s.release_stage_run.pk}/start/", WORK, 302),
    ("stage_complete", "post", lambda s: f"/stages/{s.stage_run.pk}/complete/", WORK, 302),
    ("task_done", "post", lambda s: f"/tasks/{s.task.pk}/done/", WORK, 302),
    ("run_hold", "post", lambda s: f"/runs/{s.run.pk}/do/hold/", WORK, 302),
    ("protocol_add", "post", lambda s: f"/protocols/{s.protocol.pk}/add/stage/", DESIGN, 422),
    ("protocol_validate", "post", lambda s: f"/protocols/{s.protocol.pk}/validate/", DESIGN, 200),
    ("deviation_investigate", "post", lambda s: f"/deviations/{s.deviation.pk}/", WORK, 200),
]

LAB_VIEWS = [
    ("bench", "/", ALL),
    ("runs", "/runs/", ALL),
    ("run_new", "/runs/new/", WORK),
    ("review", "/review/", ALL),
    ("trends", "/trends/", ALL),
    ("protocols", "/protocols/", ALL),
    ("protocol_new", "/protocols/new/", DESIGN),
    ("notifications", "/notifications/", ALL),
    ("preferences", "/preferences/", ALL),
    ("password_change", "/accounts/password/", ALL),
]

OBJECT_VIEWS += stock_views.OBJECT_VIEWS
LAB_VIEWS += stock_views.LAB_VIEWS


def _call(client, method: str, url: str):
    if method == "get":
        return client.get(url)
    return client.post(url, {"action": "investigate"} if "deviations" in url else {})


def _statuses(client, request, method: str, url: str) -> dict[str, int]:
    """The status each role gets (roles in one test: the scenario is built once per view)."""
    statuses = {}
    for role in ROLES:
        client.force_login(request.getfixturevalue(role))
        statuses[role] = _call(client, method, url).status_code
    return statuses


@pytest.mark.parametrize(
    ("name", "method", "url", "allowed", "ok"), OBJECT_VIEWS, ids=[v[0] for v in OBJECT_VIEWS]
)
def test_own_lab_object_views_by_role(client, request, own, name, method, url, allowed, ok):
    expected = {role: ok if role in allowed else 403 for role in ROLES}
    assert _statuses(client, request, method, url(own)) == expected


@pytest.mark.parametrize(
    ("name", "method", "url", "allowed", "ok"), OBJECT_VIEWS, ids=[v[0] for v in OBJECT_VIEWS]
)
def test_other_lab_objects_are_404_for_every_role(
    client, request, own, other, name, method, url, allowed, ok
):
    assert _statuses(client, request, method, url(other)) == dict.fromkeys(ROLES, 404)


@pytest.mark.parametrize(
    ("name", "method", "url", "allowed", "ok"), OBJECT_VIEWS, ids=[v[0] for v in OBJECT_VIEWS]
)
def test_anonymous_is_sent_to_login(client, own, name, method, url, allowed, ok):
    response = _call(client, method, url(own))
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


@pytest.mark.parametrize(("name", "url", "allowed"), LAB_VIEWS, ids=[v[0] for v in LAB_VIEWS])
def test_lab_pages_by_role(client, request, own, name, url, allowed):
    expected = {role: 200 if role in allowed else 403 for role in ROLES}
    assert _statuses(client, request, "get", url) == expected


@pytest.mark.parametrize(("name", "url", "allowed"), LAB_VIEWS, ids=[v[0] for v in LAB_VIEWS])
def test_lab_pages_show_nothing_of_another_lab(
    client, own, other, other_technician, name, url, allowed
):
    client.force_login(other_technician)
    response = client.get(url)
    if response.status_code == 200:
        body = response.content.decode()
        assert own.run.code not in body
        assert f"DEV-{own.deviation.pk}:" not in body
