"""The protocol designer: draft, stages, tasks, checkpoints and specs; validate, publish, new
version, compare side by side."""

from __future__ import annotations

import pytest
from django.urls import reverse

from protocol_tracker.protocols.models import CheckpointTemplate, ProtocolTemplate, StageTemplate
from tests.builders import web_protocol
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db

STAGE = {"stage-key": "thaw", "stage-name": "Thaw", "stage-kind": "expansion",
         "stage-expected_duration_hours": "24", "stage-window_early_hours": "2",
         "stage-window_late_hours": "4"}  # fmt: skip


@pytest.fixture
def draft(client, lab, lab_admin):
    client.force_login(lab_admin)
    response = client.post(
        reverse("web:protocol_new"),
        {"code": "new-proto", "name": "New protocol", "description": ""},
    )
    assert response.status_code == 302
    return ProtocolTemplate.objects.get(lab=lab, code="new-proto")


def test_create_draft_refuses_a_bad_code_next_to_the_field(client, lab, lab_admin):
    client.force_login(lab_admin)
    response = client.post(reverse("web:protocol_new"), {"code": "Not a slug!", "name": "X"})
    body = response.content.decode()
    assert 'id="id_code_error"' in body
    assert 'value="Not a slug!"' in body
    assert ProtocolTemplate.objects.count() == 0


def test_add_stage_then_checkpoint_then_validate_and_publish(client, draft, reviewer):
    url = reverse("web:protocol_add", args=[draft.pk, "stage"])
    assert client.post(url, STAGE).status_code == 302
    stage = StageTemplate.objects.get(protocol=draft, key="thaw")
    assert (stage.expected_duration.total_seconds(), stage.order) == (86400, 1)

    checkpoint = {"cp-stage": str(stage.pk), "cp-key": "viability", "cp-name": "Viability",
                  "cp-assay": "cell_count", "cp-metric": "viability", "cp-value_type": "percent",
                  "cp-unit": "%", "cp-spec_min": "70", "cp-min_inclusive": "on",
                  "cp-blocking": "on", "cp-recorded_by": "any"}  # fmt: skip
    response = client.post(reverse("web:protocol_add", args=[draft.pk, "checkpoint"]), checkpoint)
    assert response.status_code == 302
    cp = CheckpointTemplate.objects.get(protocol=draft, key="viability")
    assert (cp.spec, cp.unit, cp.blocking) == ({"min": 70.0, "min_inclusive": True}, "%", True)

    page = client.post(reverse("web:protocol_action", args=[draft.pk, "validate"]))
    assert "No problems: this draft can be published." in page.content.decode()
    # The designer cannot publish: a reviewer approves it, signed (change control).
    assert (
        client.post(reverse("web:protocol_action", args=[draft.pk, "publish"])).status_code == 404
    )
    client.force_login(reviewer)
    approve = reverse("web:protocol_approve", args=[draft.pk])
    page = client.get(approve)
    review_hash = page.context["approve_form"].initial["reviewed_hash"]
    response = client.post(
        approve,
        {"action": "publish", "approve-reason": "first version", "approve-password": PASSWORD,
         "approve-reviewed_hash": review_hash},
    )  # fmt: skip
    assert response.status_code == 302
    draft.refresh_from_db()
    assert (draft.status, draft.published_by) == ("published", reviewer)


def test_service_refusal_is_shown_next_to_the_field_and_keeps_the_input(client, draft):
    client.post(reverse("web:protocol_add", args=[draft.pk, "stage"]), STAGE)
    response = client.post(
        reverse("web:protocol_add", args=[draft.pk, "stage"]), {**STAGE, "stage-name": "Thaw again"}
    )
    body = response.content.decode()
    assert response.status_code == 422
    assert 'id="id_stage-key_error"' in body
    assert "already exists" in body
    assert 'value="Thaw again"' in body
    assert StageTemplate.objects.filter(protocol=draft).count() == 1


def test_checkpoint_spec_problems_are_reported(client, draft):
    client.post(reverse("web:protocol_add", args=[draft.pk, "stage"]), STAGE)
    stage = StageTemplate.objects.get(protocol=draft)
    response = client.post(
        reverse("web:protocol_add", args=[draft.pk, "checkpoint"]),
        {
            "cp-stage": str(stage.pk),
            "cp-key": "v",
            "cp-name": "V",
            "cp-assay": "a",
            "cp-metric": "m",
            "cp-value_type": "percent",
            "cp-unit": "%",
            "cp-spec_min": "90",
            "cp-spec_max": "10",
            "cp-recorded_by": "any",
        },
    )
    assert response.status_code == 422
    assert "min (90) is greater than max (10)" in response.content.decode()
    assert CheckpointTemplate.objects.filter(protocol=draft).count() == 0


def test_validate_lists_problems_of_an_empty_draft(client, draft):
    body = client.post(reverse("web:protocol_action", args=[draft.pk, "validate"])).content
    assert "Problems to fix before publishing" in body.decode()


def test_new_version_and_side_by_side_compare(client, lab, lab_admin):
    published = web_protocol(lab)
    client.force_login(lab_admin)
    response = client.post(reverse("web:protocol_action", args=[published.pk, "new_version"]))
    draft = ProtocolTemplate.objects.get(lab=lab, code=published.code, version=2)
    assert response["Location"] == reverse("web:protocol", args=[draft.pk])
    stage = draft.stages.get(key="release")
    client.post(
        reverse("web:protocol_add", args=[draft.pk, "checkpoint"]),
        {
            "cp-stage": str(stage.pk),
            "cp-key": "sterility",
            "cp-name": "Sterility",
            "cp-assay": "sterility",
            "cp-metric": "growth",
            "cp-value_type": "boolean",
            "cp-expected": "no",
            "cp-blocking": "on",
            "cp-recorded_by": "any",
        },
    )
    body = client.get(reverse("web:protocol_compare", args=[draft.pk])).content.decode()
    assert "v1 (Published)" in body and "v2 (Draft)" in body
    assert '<li class="added">QC: Sterility — = no</li>' in body
    assert '<tr class="changed">' in body


def test_published_protocol_offers_no_edit_forms(client, lab, lab_admin):
    published = web_protocol(lab)
    client.force_login(lab_admin)
    body = client.get(reverse("web:protocol", args=[published.pk])).content.decode()
    assert 'id="add-stage"' not in body
    assert "New version" in body
