"""The instrument admin: assays picked from the lab's published protocols (no JSON to type), a new
instrument made through the service (registered as equipment), other labs' out of reach."""

from __future__ import annotations

import pytest
from django.urls import reverse

from labs.models import Instrument
from protocol_tracker.equipment.models import Equipment
from tests.builders import api_protocol

pytestmark = pytest.mark.django_db


def test_a_lab_admin_adds_an_instrument_with_assays_picked_from_the_protocols(
    client, lab, lab_admin
):
    api_protocol(lab)
    client.force_login(lab_admin)
    url = reverse("admin:labs_instrument_add")

    page = client.get(url).content.decode()
    assert 'type="checkbox" name="allowed_assays" value="cell_count"' in page
    assert 'value="flow_cytometry"' in page and "<textarea" not in page

    refused = client.post(
        url,
        {
            "lab": lab.pk,
            "name": "Countess",
            "kind": "cell_counter",
            "allowed_assays": ["viability_count"],
            "is_active": "on",
        },
    )
    assert refused.status_code == 200 and "viability_count" in refused.content.decode()
    assert not Instrument.objects.exists()

    added = client.post(
        url,
        {
            "lab": lab.pk,
            "name": "Countess",
            "kind": "cell_counter",
            "make": "Thermo",
            "serial": "C3-9",
            "allowed_assays": ["cell_count"],
            "is_active": "on",
            "credentials-TOTAL_FORMS": "0",
            "credentials-INITIAL_FORMS": "0",
        },
    )
    assert added.status_code == 302, added.content.decode()[:2000]
    instrument = Instrument.objects.get()
    assert (instrument.allowed_assays, instrument.serial) == (["cell_count"], "C3-9")
    assert Equipment.objects.get(instrument=instrument).kind == "cell_counter"
