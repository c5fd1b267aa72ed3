"""The designer's edit and remove, the approval page (diff, conventions, signature), signed
retirement, and completing a stage with its reasons, through the web pages."""

from __future__ import annotations

import pytest
import time_machine
from django.urls import reverse

from protocol_tracker.protocols.models import CheckpointTemplate, ProtocolTemplate, TaskTemplate
from protocol_tracker.protocols.services import protocol_import
from protocol_tracker.qc.models import Deviation
from protocol_tracker.qc.services import qc_result_record
from protocol_tracker.runs.models import StageRun, TaskOccurrence
from protocol_tracker.runs.services import stage_start
from tests.builders import T0, H, chain_definition, complete, draft_protocol, published_protocol
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


def test_a_lab_admin_edits_a_checkpoint_spec_and_removes_a_task(client, lab, lab_admin):
    draft = draft_protocol(lab, 2)
    checkpoint = CheckpointTemplate.objects.get(protocol=draft, key="s1_viability")
    task = TaskTemplate.objects.filter(stage__protocol=draft).order_by("pk").first()
    client.force_login(lab_admin)
    url = reverse("web:protocol_part_edit", args=[draft.pk, "checkpoint", checkpoint.pk])

    form = client.get(url)
    assert form.status_code == 200
    assert 'name="edit-spec_min" value="70"' in form.content.decode()
    bad = client.post(url, {"edit-key": "s1_viability", "edit-name": "Viability",
                            "edit-assay": "s1_viability", "edit-metric": "viability",
                            "edit-value_type": "percent", "edit-unit": "furlongs",
                            "edit-spec_min": "80", "edit-min_inclusive": "on",
                            "edit-blocking": "on", "edit-recorded_by": "any"})  # fmt: skip
    assert bad.status_code == 422 and "furlongs" in bad.content.decode()
    good = client.post(url, {"edit-key": "s1_viability", "edit-name": "Viability",
                             "edit-assay": "s1_viability", "edit-metric": "viability",
                             "edit-value_type": "percent", "edit-unit": "%",
                             "edit-spec_min": "80", "edit-min_inclusive": "on",
                             "edit-blocking": "on", "edit-recorded_by": "any"})  # fmt: skip
    assert good.status_code == 302
    checkpoint.refresh_from_db()
    assert checkpoint.spec == {"min": 80.0, "min_inclusive": True}

    removed = client.post(reverse("web:protocol_part_remove", args=[draft.pk, "task", task.pk]))
    assert removed.status_code == 302
    assert not TaskTemplate.objects.filter(pk=task.pk).exists()


def test_a_published_version_cannot_be_edited(client, lab, lab_admin):
    protocol = published_protocol(lab, 2)
    stage = protocol.stages.first()
    client.force_login(lab_admin)

    response = client.get(reverse("web:protocol_part_edit", args=[protocol.pk, "stage", stage.pk]))
    removed = client.post(
        reverse("web:protocol_part_remove", args=[protocol.pk, "stage", stage.pk])
    )

    assert (response.status_code, removed.status_code) == (302, 302)
    assert protocol.stages.count() == 2


def test_the_approval_page_confirms_conventions_then_approves(client, lab, reviewer):
    definition = chain_definition(2)
    definition["stages"][0]["checkpoints"][0]["source"] = "CONV (common convention)"
    draft = protocol_import(lab=lab, definition=definition, publish=False)
    client.force_login(reviewer)
    url = reverse("web:protocol_approve", args=[draft.pk])

    page = client.get(url).content.decode()
    assert 'id="convention-s1_viability"' in page and "To confirm" in page
    review_hash = client.get(url).context["approve_form"].initial["reviewed_hash"]
    body = {"action": "publish", "approve-reason": "ok", "approve-password": PASSWORD,
            "approve-reviewed_hash": review_hash}  # fmt: skip
    refused = client.post(url, body)
    assert "has not confirmed the convention-marked specs" in refused.content.decode()
    confirmed = client.post(url, {"action": "confirm", "conv-keys": ["s1_viability"],
                                  "conv-password": PASSWORD})  # fmt: skip
    assert confirmed.status_code == 302
    assert client.post(url, body).status_code == 302
    assert ProtocolTemplate.objects.get(pk=draft.pk).status == "published"


def test_retiring_from_the_page_is_signed(client, lab, reviewer):
    protocol = published_protocol(lab, 2)
    client.force_login(reviewer)
    url = reverse("web:protocol_retire", args=[protocol.pk])

    wrong = client.post(url, {"retire-reason": "v2 out", "retire-password": "no"})
    assert 'id="id_retire-password_error"' in wrong.content.decode()
    assert (
        client.post(url, {"retire-reason": "v2 out", "retire-password": PASSWORD}).status_code
        == 302
    )
    assert ProtocolTemplate.objects.get(pk=protocol.pk).status == "retired"


def _collect(run, technician):
    """The simple protocol's first stage started at T0 with its check recorded."""
    with time_machine.travel(T0, tick=False):
        sr = stage_start(stage_run=StageRun.objects.get(run=run, stage__key="collect"),
                         actor=technician)  # fmt: skip
        qc_result_record(stage_run=sr, checkpoint=sr.stage.checkpoints.get(), value=True,
                         unit=None, measured_at=T0, actor=technician)  # fmt: skip
    return sr


def test_the_bench_completion_asks_for_the_reasons_it_needs(client, active_run, technician):
    sr = _collect(active_run, technician)
    client.force_login(technician)
    reasons = reverse("web:stage_complete_reasons", args=[sr.pk])
    with time_machine.travel(T0 + H, tick=False):  # 23 h early: outside the 2 h window
        response = client.post(reverse("web:stage_complete", args=[sr.pk]))
        assert response["Location"] == reasons
        assert "Outside the allowed window" in client.get(reasons).content.decode()
        done = client.post(reasons, {"window_reason": "donor left early", "note": ""})
    assert done.status_code == 302
    assert StageRun.objects.get(pk=sr.pk).status == "completed"
    assert Deviation.objects.get(kind="window").description.endswith(
        "Reason given at completion: donor left early"
    )


def test_due_tasks_each_need_a_resolution_on_the_form(client, active_run, technician):
    collect = _collect(active_run, technician)
    with time_machine.travel(T0 + 24 * H, tick=False):
        complete(collect, technician)
        sr = stage_start(stage_run=StageRun.objects.get(run=active_run, stage__key="expand"),
                         actor=technician)  # fmt: skip
    for key, value in (("viability", 90), ("density", 6), ("mycoplasma", False)):
        with time_machine.travel(T0 + 25 * H, tick=False):
            qc_result_record(
                stage_run=sr,
                checkpoint=sr.stage.checkpoints.get(key=key),
                value=value,
                unit=None,
                measured_at=T0 + 25 * H,
                actor=technician,
            )
    feeds = list(TaskOccurrence.objects.filter(stage_run=sr).order_by("due_at"))
    client.force_login(technician)
    reasons = reverse("web:stage_complete_reasons", args=[sr.pk])
    with time_machine.travel(sr.due_at, tick=False):
        page = client.get(reasons).content.decode()
        assert all(f'id="task-{f.pk}"' in page for f in feeds)
        missing = client.post(reasons, {"note": ""})
        assert missing.status_code == 200
        body = {"note": ""}
        for f in feeds:
            body |= {f"resolution_{f.pk}": "skipped", f"reason_{f.pk}": "medium short"}
        done = client.post(reasons, body)
    assert done.status_code == 302
    assert set(
        TaskOccurrence.objects.filter(stage_run=sr).values_list("resolution", "resolution_reason")
    ) == {("skipped", "medium short")}


def test_draft_fixture_is_editable_by_its_lab_only(client, lab, other_lab, other_technician):
    draft = draft_protocol(lab, 2)
    stage = draft.stages.first()
    client.force_login(other_technician)
    url = reverse("web:protocol_part_edit", args=[draft.pk, "stage", stage.pk])
    assert client.get(url).status_code == 404
