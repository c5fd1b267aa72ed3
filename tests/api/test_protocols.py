"""Protocol versions over the API: the full detail, drafts, publishing, versions."""

from __future__ import annotations

import pytest

from protocol_tracker.protocols.models import ProtocolTemplate
from tests import builders as f
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


def test_detail_has_stages_with_tasks_and_checkpoints_spec_and_source(api, world, technician):
    body = api(technician).get(f"/api/v1/protocols/{world.protocol.pk}/").json()

    assert [s["key"] for s in body["stages"]] == ["expand", "bank"]
    expand, bank = body["stages"]
    assert bank["depends_on"] == ["expand"]
    assert (expand["expected_duration_hours"], expand["window_early_hours"]) == (48, 1000)
    assert expand["tasks"] == [
        {
            "id": expand["tasks"][0]["id"],
            "key": "feed",
            "name": "Medium change",
            "every_hours": 24,
            "on_days": None,
            "description": "",
        }
    ]
    viability = expand["checkpoints"][0]
    assert {
        k: viability[k]
        for k in ("key", "assay", "unit", "value_type", "spec", "blocking", "recorded_by", "source")
    } == {
        "key": "viability",
        "assay": "cell_count",
        "unit": "%",
        "value_type": "percent",
        "spec": {"min": 70},
        "blocking": True,
        "recorded_by": "any",
        "source": "test",
    }


def _approval(client, protocol_id, **extra):
    review_hash = client.get(f"/api/v1/protocols/{protocol_id}/").json()["review_hash"]
    return {"password": PASSWORD, "reason": "validated", "reviewed_hash": review_hash, **extra}


def test_a_lab_admin_creates_a_reviewer_approves_then_a_new_version(api, lab, lab_admin, reviewer):
    client = api(lab_admin)
    qa = api(reviewer)
    definition = f.api_definition("made-here")

    created = client.post(
        "/api/v1/protocols/",
        {"code": "made-here", "name": "Made here", "stages": definition["stages"]},
        format="json",
    )
    draft_id = created.json()["id"]
    by_author = client.post(
        f"/api/v1/protocols/{draft_id}/publish/", _approval(client, draft_id), format="json"
    )
    body = _approval(qa, draft_id)
    published = qa.post(f"/api/v1/protocols/{draft_id}/publish/", body, format="json")
    again = qa.post(f"/api/v1/protocols/{draft_id}/publish/", body, format="json")
    approvals = qa.get(f"/api/v1/protocols/{draft_id}/approvals/").json()
    version = client.post(f"/api/v1/protocols/{draft_id}/new-version/", format="json")

    assert created.status_code == 201, created.content
    assert (created.json()["status"], len(created.json()["stages"])) == ("draft", 2)
    assert created["Location"] == f"/api/v1/protocols/{draft_id}/"
    assert by_author.status_code == 403  # lab admins design; reviewers approve
    assert published.status_code == 200 and published.json()["status"] == "published"
    assert again.status_code == 409
    assert [(a["action"], a["signed_by"], a["reason"]) for a in approvals] == [
        ("approved_for_use", "reviewer-a", "validated")
    ]
    assert [s["key"] for s in approvals[0]["diff"]["stages"]["added"]] == ["expand", "bank"]
    assert version.status_code == 201
    assert (version.json()["version"], version.json()["previous_version"]) == (2, draft_id)
    assert [s["key"] for s in version.json()["stages"]] == ["expand", "bank"]


def test_an_empty_draft_cannot_be_published(api, lab, lab_admin, reviewer):
    client = api(lab_admin)
    draft = client.post(
        "/api/v1/protocols/", {"code": "empty", "name": "Empty"}, format="json"
    ).json()

    qa = api(reviewer)
    response = qa.post(
        f"/api/v1/protocols/{draft['id']}/publish/", _approval(qa, draft["id"]), format="json"
    )

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "protocol_invalid"
    assert body["errors"][0]["field"] == "protocol"
    assert ProtocolTemplate.objects.get(pk=draft["id"]).status == "draft"


def test_a_bad_definition_names_the_stage_field(api, lab, lab_admin):
    definition = f.api_definition("bad")
    definition["stages"][1]["depends_on"] = ["nowhere"]

    response = api(lab_admin).post(
        "/api/v1/protocols/",
        {"code": "bad", "name": "Bad", "stages": definition["stages"]},
        format="json",
    )

    assert response.status_code == 400
    assert "nowhere" in response.json()["detail"]
    assert not ProtocolTemplate.objects.filter(code="bad").exists()


def test_a_lab_admin_of_two_labs_must_say_which(api, lab, other_lab, lab_admin):
    from labs.services import membership_set

    membership_set(lab=other_lab, user=lab_admin, role="lab_admin", actor=None)

    response = api(lab_admin).post("/api/v1/protocols/", {"code": "x", "name": "X"}, format="json")

    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"field": "lab", "code": "invalid", "message": "Required: you may do this in several labs."}
    ]
