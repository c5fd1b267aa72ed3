"""Creating, starting, holding and resuming runs from the web UI (through the services)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from protocol_tracker.runs.models import Donor, Run
from tests.builders import web_protocol

pytestmark = pytest.mark.django_db


def _new_run(client, protocol, **fields):
    data = {"protocol": str(protocol.pk), "donor_code": "DON-0042", "consent_given": "on",
            "parent_code": "", "planned_start": "2026-03-02T09:00"}  # fmt: skip
    data.update(fields)
    return client.post(reverse("web:run_new"), data)


def test_new_run_registers_the_donor_and_plans_the_run(client, lab, technician):
    protocol = web_protocol(lab)
    client.force_login(technician)
    response = _new_run(client, protocol, donor_code="don-0042")
    run = Run.objects.get(lab=lab)
    assert response["Location"] == reverse("web:run", args=[run.pk])
    assert (run.donor.code, run.status, run.protocol) == ("DON-0042", "planned", protocol)
    assert run.planned_start.isoformat() == "2026-03-02T01:00:00+00:00"  # 09:00 in Shanghai


def test_a_bad_donor_code_is_shown_next_to_it_and_nothing_is_written(client, lab, technician):
    protocol = web_protocol(lab)
    client.force_login(technician)
    response = _new_run(client, protocol, donor_code="X")
    body = response.content.decode()
    assert 'id="id_donor_code_error"' in body
    assert (Donor.objects.count(), Run.objects.count()) == (0, 0)


def test_unknown_parent_is_refused(client, lab, technician):
    protocol = web_protocol(lab)
    client.force_login(technician)
    body = _new_run(client, protocol, parent_code="NOPE-1").content.decode()
    assert "No run with this code in this lab." in body
    assert Run.objects.count() == 0


def test_child_run_records_its_parent(client, own, technician):
    client.force_login(technician)
    _new_run(client, own.protocol, donor_code=own.run.donor.code, parent_code=own.run.code)
    child = Run.objects.get(parent=own.run)
    body = client.get(reverse("web:run", args=[own.run.pk])).content.decode()
    assert f'<a href="/runs/{child.pk}/">{child.code}</a>' in body


def test_start_hold_and_resume(client, lab, technician):
    protocol = web_protocol(lab)
    client.force_login(technician)
    _new_run(client, protocol)
    run = Run.objects.get()
    for action, data, status in (
        ("start", {}, "active"),
        ("hold", {"reason": "incubator"}, "on_hold"),
        ("resume", {}, "active"),
    ):
        client.post(reverse("web:run_action", args=[run.pk, action]), data)
        run.refresh_from_db()
        assert run.status == status


def test_hold_without_a_reason_is_refused_with_a_message(client, own, technician):
    client.force_login(technician)
    response = client.post(reverse("web:run_action", args=[own.run.pk, "hold"]), {}, follow=True)
    assert 'class="msg msg-error"' in response.content.decode()
    own.run.refresh_from_db()
    assert own.run.status == "active"
