"""An instrument end to end: token → results → the stage gate opens, or a deviation opens."""

from __future__ import annotations

import hashlib
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from labs.models import Instrument, InstrumentCredential, InstrumentKind
from tests import builders as f
from tests.api.conftest import client_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def counter(lab):
    return Instrument.objects.create(
        lab=lab,
        name="Cell counter 1",
        kind=InstrumentKind.CELL_COUNTER,
        allowed_assays=["cell_count"],
        csv_mapping=f.CELL_COUNTER_MAPPING,
    )


def issue_token(lab, name: str, *extra: str) -> str:
    out, err = StringIO(), StringIO()
    call_command(
        "create_instrument_token", "--lab", lab.slug, "--name", name, *extra, stdout=out, stderr=err
    )
    assert "shown only now" in err.getvalue()
    return out.getvalue().strip()


def _result(sr, value):
    return {
        "stage_run": sr.pk,
        "checkpoint": sr.stage.checkpoints.get(key="viability").pk,
        "value": value,
        "unit": "%",
        "measured_at": timezone.now().isoformat(),
    }


def test_the_command_prints_a_token_once_and_keeps_only_its_hash(lab, counter):
    token = issue_token(lab, "Cell counter 1")

    kind, prefix, secret = token.split("_", 2)
    credential = InstrumentCredential.objects.get(instrument=counter)
    assert (kind, credential.prefix) == ("pti", prefix)
    assert credential.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in str(list(InstrumentCredential.objects.values()))


def test_the_command_refuses_unknown_labs_and_instruments(lab, counter):
    with pytest.raises(CommandError, match="no lab with slug 'nope'"):
        call_command("create_instrument_token", "--lab", "nope", "--name", "x")
    with pytest.raises(
        CommandError,
        match="no instrument named 'x' in lab 'lab-a' "
        r"\(known: Cell counter 1\)",
    ):
        call_command("create_instrument_token", "--lab", lab.slug, "--name", "x")


def test_rotation_revokes_the_old_token(lab, counter, world):
    old = issue_token(lab, "Cell counter 1")
    new = issue_token(lab, "Cell counter 1", "--rotate")

    assert client_for(old).get("/api/v1/stage-runs/").status_code == 401
    assert client_for(new).get("/api/v1/stage-runs/").status_code == 200


def test_a_passing_result_opens_the_stage_gate(api, lab, counter, world, technician):
    instrument = client_for(issue_token(lab, "Cell counter 1"))
    person = api(technician)
    sr = f.working_stage(world.protocol, world.worker)
    refused = person.post(f"/api/v1/stage-runs/{sr.pk}/complete/", {}, format="json")
    assert refused.status_code == 409

    posted = instrument.post(
        "/api/v1/qc-results/",
        _result(sr, 96.5),
        format="json",
        HTTP_IDEMPOTENCY_KEY="counter-run-1",
    )
    completed = person.post(f"/api/v1/stage-runs/{sr.pk}/complete/", {"note": "ok"}, format="json")

    assert posted.status_code == 201
    assert (posted.json()["verdict"], posted.json()["recorded_by_instrument"]) == (
        "pass",
        counter.pk,
    )
    assert completed.status_code == 200, completed.content
    assert completed.json()["status"] == "completed"
    stages = person.get(f"/api/v1/stage-runs/?run={sr.run_id}").json()["results"]
    assert [(s["key"], s["status"]) for s in stages] == [("expand", "completed"), ("bank", "ready")]
    trail = person.get(f"/api/v1/audit-events/?run={sr.run_id}&action=qc_result.record").json()
    assert [e["actor_label"] for e in trail["results"]] == ["instrument:Cell counter 1"]


def test_a_failing_result_opens_a_deviation_and_keeps_the_gate_shut(
    api, lab, counter, world, technician
):
    instrument = client_for(issue_token(lab, "Cell counter 1"))
    person = api(technician)
    sr = f.working_stage(world.protocol, world.worker)

    posted = instrument.post("/api/v1/qc-results/", _result(sr, 52), format="json")
    deviations = person.get(f"/api/v1/deviations/?run={sr.run_id}").json()["results"]
    completed = person.post(f"/api/v1/stage-runs/{sr.pk}/complete/", {}, format="json")

    assert (posted.status_code, posted.json()["verdict"]) == (201, "fail")
    assert [(d["kind"], d["status"], d["qc_result"], d["title"]) for d in deviations] == [
        ("oos", "open", posted.json()["id"], "Out of specification: Viability = 52 %")
    ]
    assert completed.status_code == 409
    assert "out of specification without an accepted disposition" in completed.json()["detail"]


def test_a_disabled_instrument_is_locked_out(lab, counter, world):
    token = issue_token(lab, "Cell counter 1")
    counter.is_active = False
    counter.save(update_fields=["is_active"])

    assert client_for(token).get("/api/v1/stage-runs/").status_code == 401
