"""Every view × role × own lab / other lab: members see their lab's pages, roles decide what they
may do (403), and another lab's objects are indistinguishable from missing ones (404)."""

from __future__ import annotations

import pytest

from tests.builders import api_protocol, completed_run, draft_protocol, qa_reviewer
from tests.builders.clinical import standing
from tests.builders.custody_world import cw_of_scenario
from tests.builders.release import release
from tests.web import stock_views

pytestmark = pytest.mark.django_db

ROLES = ("technician", "reviewer", "lab_admin", "viewer", "clinician")
ALL = frozenset(ROLES)
WORK = frozenset({"technician", "reviewer", "lab_admin"})
REVIEW = frozenset({"reviewer"})
DESIGN = frozenset({"lab_admin"})
HANDLE = WORK | {"clinician"}
PATIENT = frozenset({"clinician"})


CLINICAL = frozenset({"clinician", "reviewer"})


def _cw(s):
    return cw_of_scenario(s)


def _released(s):
    """The scenario's released run (made once): its stored batch record and certificate."""
    if not hasattr(s, "released"):
        s.released = release(completed_run(api_protocol(s.run.lab), s.run.created_by),
                             qa_reviewer(s.run.lab))  # fmt: skip
    return s.released


def _draft(s):
    """A draft of the scenario's lab, made once (its first stage edited and removed below)."""
    if not hasattr(s, "draft"):
        s.draft = draft_protocol(s.run.lab, 2, code="matrix-draft")
    return s.draft


def _draft_stage(s):
    return _draft(s).stages.order_by("-order").first()


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
    ("run_deviations", "get", lambda s: f"/runs/{s.run.pk}/deviations/", ALL, 200),
    ("run_deviations_sign", "post", lambda s: f"/runs/{s.run.pk}/deviations/", REVIEW, 200),
    ("batch_record_pdf", "get", lambda s: f"/runs/{s.run.pk}/record.pdf", ALL, 200),
    ("certificate_pdf", "get", lambda s: f"/runs/{_released(s).pk}/certificate.pdf", ALL, 200),
    (
        "stage_complete_reasons",
        "get",
        lambda s: f"/stages/{s.stage_run.pk}/complete/reasons/",
        WORK,
        200,
    ),
    ("protocol_approve", "get", lambda s: f"/protocols/{_draft(s).pk}/approve/", REVIEW, 200),
    ("protocol_retire", "get", lambda s: f"/protocols/{s.protocol.pk}/retire/", REVIEW, 200),
    (
        "protocol_part_edit",
        "get",
        lambda s: f"/protocols/{_draft(s).pk}/edit/stage/{_draft_stage(s).pk}/",
        DESIGN,
        200,
    ),
    (
        "protocol_part_remove",
        "post",
        lambda s: f"/protocols/{_draft(s).pk}/remove/stage/{_draft_stage(s).pk}/",
        DESIGN,
        302,
    ),
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
    # chain of identity and custody
    (
        "identity_scan",
        "get",
        lambda s: f"/stages/{_cw(s).stage_run.pk}/scan/{_cw(s).checkpoint.pk}/",
        HANDLE,
        200,
    ),
    (
        "identity_scan_post",
        "post",
        lambda s: f"/stages/{_cw(s).stage_run.pk}/scan/{_cw(s).checkpoint.pk}/",
        HANDLE,
        200,
    ),
    (
        "computed_record",
        "post",
        lambda s: f"/stages/{_cw(s).stage_run.pk}/computed/{_cw(s).computed.pk}/",
        HANDLE,
        302,
    ),
    ("run_labels_print", "post", lambda s: f"/runs/{_cw(s).run.pk}/labels/print/", HANDLE, 302),
    (
        "label_reconcile",
        "post",
        lambda s: f"/labels/{_cw(s).label_print.pk}/reconcile/",
        HANDLE,
        302,
    ),
    ("shipment_new", "get", lambda s: f"/runs/{_cw(s).run.pk}/shipments/new/", HANDLE, 200),
    ("handoff_new", "get", lambda s: f"/runs/{_cw(s).run.pk}/handoffs/new/", HANDLE, 200),
    ("shipment", "get", lambda s: f"/shipments/{_cw(s).shipment.pk}/", ALL, 200),
    (
        "shipment_receive",
        "post",
        lambda s: f"/shipments/{_cw(s).shipment.pk}/receive/",
        HANDLE,
        302,
    ),
    ("shipment_logger", "post", lambda s: f"/shipments/{_cw(s).shipment.pk}/logger/", HANDLE, 302),
    ("handoff_receive", "get", lambda s: f"/handoffs/{_cw(s).handoff.pk}/receive/", HANDLE, 200),
    ("donor_identifiers", "get", lambda s: f"/donors/{_cw(s).run.donor_id}/identifiers/", ALL, 200),
    (
        "donor_identifiers_post",
        "post",
        lambda s: f"/donors/{_cw(s).run.donor_id}/identifiers/",
        PATIENT,
        200,
    ),
    ("recipient", "get", lambda s: f"/clinical/{standing(s).recipient.pk}/", ALL, 200),
    ("visit", "get", lambda s: f"/clinical/visits/{standing(s).visit.pk}/", ALL, 200),
    (
        "visit_values",
        "post",
        lambda s: f"/clinical/visits/{standing(s).visit.pk}/",
        CLINICAL,
        200,
    ),
    (
        "recipient_action",
        "post",
        lambda s: f"/clinical/{standing(s).recipient.pk}/do/event/",
        CLINICAL,
        302,
    ),
    (
        "recipient_formulation",
        "post",
        lambda s: f"/clinical/{standing(s).recipient.pk}/do/formulation/",
        WORK | {"clinician"},
        302,
    ),
    ("visit_cgm", "post", lambda s: f"/clinical/visits/{standing(s).visit.pk}/cgm/", CLINICAL, 302),
    (
        "visit_value_correct",
        "post",
        lambda s: f"/clinical/visits/{standing(s).visit.pk}/values/{standing(s).value.pk}/correct/",
        CLINICAL,
        302,
    ),
]

LAB_VIEWS = [
    ("bench", "/", ALL),
    ("runs", "/runs/", ALL),
    ("run_new", "/runs/new/", WORK),
    ("review", "/review/", ALL),
    ("trends", "/trends/", ALL),
    ("protocols", "/protocols/", ALL),
    ("qc_export", "/exports/", ALL),
    ("protocol_new", "/protocols/new/", DESIGN),
    ("notifications", "/notifications/", ALL),
    ("preferences", "/preferences/", ALL),
    ("password_change", "/accounts/password/", ALL),
    ("clinical", "/clinical/", ALL),
    ("clinical_settings", "/clinical/settings/", ALL),
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
