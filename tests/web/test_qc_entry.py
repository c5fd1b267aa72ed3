"""QC entry: the spec and a live verdict, the out-of-spec confirmation, errors next to the field
with what was typed kept, and corrections with a reason and a history."""

from __future__ import annotations

import pytest
from django.urls import reverse

from protocol_tracker.qc.models import Deviation, QCResult
from protocol_tracker.runs import services as run_services
from protocol_tracker.runs.models import StageRun
from tests.builders import active_run, web_protocol

pytestmark = pytest.mark.django_db


def _entry_url(stage_run, checkpoint) -> str:
    return reverse("web:qc_entry", args=[stage_run.pk, checkpoint.pk])


def _form(value: str, **extra) -> dict:
    return {
        "value": value,
        "unit": "%",
        "measured_at": "2026-03-02T09:30",
        "comment": "",
        "idempotency_key": extra.pop("key", "k-1"),
        **extra,
    }


def test_entry_page_shows_the_spec_and_the_live_check_endpoint(client, own, technician):
    client.force_login(technician)
    response = client.get(_entry_url(own.stage_run, own.checkpoint))
    body = response.content.decode()
    assert response.status_code == 200
    assert '<span class="spec-box" id="spec">≥ 70 %</span>' in body
    assert f'hx-post="/stages/{own.stage_run.pk}/qc/{own.checkpoint.pk}/check/"' in body


@pytest.mark.parametrize(
    ("value", "verdict", "message"),
    [
        ("95", "pass", "Within spec"),
        ("69.9", "fail", "OUT OF SPEC: saving it opens a deviation"),
        ("70", "pass", "Within spec"),
        ("abc", "invalid", "&#x27;abc&#x27; is not a number"),
        ("", "empty", "Enter a value to see the verdict."),
    ],
)
def test_live_check_returns_the_verdict_and_writes_nothing(
    client, own, technician, value, verdict, message
):
    client.force_login(technician)
    before = QCResult.objects.count()
    response = client.post(
        reverse("web:qc_check", args=[own.stage_run.pk, own.checkpoint.pk]),
        {"value": value, "unit": "%"},
        HTTP_HX_REQUEST="true",
    )
    body = response.content.decode()
    assert f'class="verdict verdict-{verdict}"' in body
    assert message in body
    assert QCResult.objects.count() == before


def test_out_of_spec_asks_for_confirmation_first_and_writes_nothing(client, own, technician):
    client.force_login(technician)
    url = reverse("web:qc_correct", args=[own.result.pk])
    before = (QCResult.objects.count(), Deviation.objects.count())
    response = client.post(url, _form("40", reason="recount"))
    body = response.content.decode()
    assert response.status_code == 200
    assert "This value is out of spec" in body
    assert 'name="confirmed_value" value="40"' in body
    assert 'value="40"' in body  # what was typed is kept
    assert (QCResult.objects.count(), Deviation.objects.count()) == before


def test_confirmation_counts_only_for_the_value_confirmed(client, own, technician):
    client.force_login(technician)
    url = reverse("web:qc_correct", args=[own.result.pk])
    before = QCResult.objects.count()
    response = client.post(
        url, _form("30", reason="recount", confirm_oos="on", confirmed_value="40")
    )
    assert "This value is out of spec" in response.content.decode()
    assert QCResult.objects.count() == before


def test_confirmed_out_of_spec_correction_is_recorded_with_its_deviation(client, own, technician):
    client.force_login(technician)
    response = client.post(
        reverse("web:qc_correct", args=[own.result.pk]),
        _form("40", reason="recount", confirm_oos="on", confirmed_value="40"),
    )
    assert response.status_code == 302
    assert response["Location"] == f"/runs/{own.run.pk}/#stage-{own.stage_run.pk}"
    new = QCResult.objects.get(supersedes=own.result)
    assert (new.value_number, new.verdict, new.reason) == (40.0, "fail", "recount")


def test_in_spec_correction_needs_a_reason_and_keeps_the_typed_value(client, own, technician):
    client.force_login(technician)
    before = QCResult.objects.count()
    response = client.post(reverse("web:qc_correct", args=[own.result.pk]), _form("88"))
    body = response.content.decode()
    assert response.status_code == 200
    assert 'id="id_reason_error"' in body
    assert 'value="88"' in body
    assert QCResult.objects.count() == before


def test_correction_shows_the_history_and_supersedes(client, own, technician):
    client.force_login(technician)
    response = client.post(
        reverse("web:qc_correct", args=[own.result.pk]), _form("88", reason="transcription error")
    )
    assert response.status_code == 302
    new = QCResult.objects.get(supersedes=own.result)
    assert (new.value_number, new.verdict) == (88.0, "pass")
    page = client.get(reverse("web:run", args=[own.run.pk])).content.decode()
    assert "corrected 1 time" in page
    assert "transcription error" in page
    history = client.get(reverse("web:qc_correct", args=[new.pk])).content.decode()
    assert '<li class="superseded">50 % · Out of spec' in history


def test_correcting_a_superseded_result_goes_to_the_newest(client, own, technician):
    client.force_login(technician)
    client.post(reverse("web:qc_correct", args=[own.result.pk]), _form("88", reason="typo"))
    new = QCResult.objects.get(supersedes=own.result)
    response = client.get(reverse("web:qc_correct", args=[own.result.pk]))
    assert response["Location"] == reverse("web:qc_correct", args=[new.pk])


def test_bad_value_is_shown_next_to_the_field(client, own, technician):
    client.force_login(technician)
    stage_run = StageRun.objects.get(pk=own.release_stage_run.pk)
    endotoxin = own.protocol.checkpoints.get(key="endotoxin")
    response = client.post(_entry_url(stage_run, endotoxin), {**_form("1,5"), "unit": "EU/mL"})
    body = response.content.decode()
    assert response.status_code == 200
    assert 'id="id_value_error"' in body
    assert "&#x27;1,5&#x27; is not a number" in body
    assert 'value="1,5"' in body


def test_service_refusal_is_shown_next_to_the_value(client, own, technician):
    """The release stage is not started: the service refuses and nothing is written."""
    client.force_login(technician)
    endotoxin = own.protocol.checkpoints.get(key="endotoxin")
    before = QCResult.objects.count()
    response = client.post(
        _entry_url(own.release_stage_run, endotoxin), {**_form("0.5"), "unit": "EU/mL"}
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert 'class="errorlist' in body
    assert 'value="0.5"' in body
    assert QCResult.objects.count() == before


@pytest.fixture
def fresh(lab, technician):
    """An active run whose first stage is ready (not started, no results)."""
    protocol = web_protocol(lab, code="fresh")
    run = active_run(protocol, technician, donor_code="DON-FRESH")
    return StageRun.objects.get(run=run, order=1)


def test_in_spec_result_is_recorded_once_even_when_submitted_twice(client, fresh, technician):
    stage_run = run_services.stage_start(stage_run=fresh, actor=technician)
    checkpoint = stage_run.stage.checkpoints.get(key="viability")
    client.force_login(technician)
    url = _entry_url(stage_run, checkpoint)
    first = client.post(url, _form("90", key="double-tap"))
    second = client.post(url, _form("90", key="double-tap"))
    assert (first.status_code, second.status_code) == (302, 302)
    result = QCResult.objects.get(stage_run=stage_run, checkpoint=checkpoint)
    assert (result.value_number, result.verdict, result.recorded_by) == (90.0, "pass", technician)
    assert Deviation.objects.filter(run=stage_run.run).count() == 0


def test_start_stage_from_the_board_with_htmx(client, fresh, technician):
    client.force_login(technician)
    response = client.post(
        reverse("web:stage_start", args=[fresh.pk]), {"next": "/?mine=1"}, HTTP_HX_REQUEST="true"
    )
    assert (response.status_code, response["Location"]) == (302, "/?mine=1")
    fresh.refresh_from_db()
    assert (fresh.status, fresh.started_by) == ("in_progress", technician)
    board = client.get("/").content.decode()
    assert "Started Expansion on" in board


def test_refused_action_is_shown_and_changes_nothing(client, own, technician):
    """Completing a stage whose blocking result failed is refused by the engine."""
    client.force_login(technician)
    response = client.post(
        reverse("web:stage_complete", args=[own.stage_run.pk]),
        {"next": f"/runs/{own.run.pk}/"},
        follow=True,
    )
    body = response.content.decode()
    assert 'class="msg msg-error"' in body
    own.stage_run.refresh_from_db()
    assert own.stage_run.status == "in_progress"


def test_offsite_next_is_ignored(client, fresh, technician):
    client.force_login(technician)
    response = client.post(
        reverse("web:stage_start", args=[fresh.pk]), {"next": "https://evil.example/"}
    )
    assert response["Location"] == "/"
