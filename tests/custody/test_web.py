"""The chain of identity on screen: the run page's section (the chain, a gap flagged, scans,
shipments, prints), the batch record's rows, the shipment's temperature plot, printing from the
run page, the patient identifiers page; constant queries."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from protocol_tracker.audit.models import AuditEvent
from protocol_tracker.custody import services as custody
from protocol_tracker.identity.models import LabelPrint
from protocol_tracker.web.custody_page import custody_context
from tests.builders.custody import identifiers, item, payload
from tests.builders.custody_world import handoff_of, shipment_of

pytestmark = pytest.mark.django_db


def _move(cw, it, frm, to, hours_ago, actor):
    h = custody.handoff_send(
        item=it, from_party="Tech", from_location=frm, to_party="Tech", to_location=to,
        sent_at=timezone.now() - timedelta(hours=hours_ago), scanned=payload(it), actor=actor,
    )  # fmt: skip
    return custody.handoff_receive(
        handoff=h, received_at=timezone.now() - timedelta(hours=hours_ago - 0.5),
        scanned=payload(it), condition="intact", actor=actor,
    )  # fmt: skip


def test_the_run_page_shows_the_chain_and_flags_a_gap(client, cw, technician):
    _move(cw, cw.tube, "Ward", "Lab", 5, technician)
    _move(cw, cw.tube, "Freezer 2", "LN2 tank", 3, technician)
    custody.identity_scan_record(
        stage_run=cw.stage_run, checkpoint=cw.checkpoint, scanned=payload(cw.other_tube),
        actor=technician,
    )  # fmt: skip
    client.force_login(technician)

    page = client.get(f"/runs/{cw.run.pk}/").content.decode()

    assert cw.coi in page
    assert "left Freezer 2 but the last hand-off delivered it to Lab" in page
    assert "Gap in the chain" in page and "label of another donor" in page
    assert f'href="/stages/{cw.stage_run.pk}/scan/{cw.checkpoint.pk}/"' in page
    assert f'action="/stages/{cw.stage_run.pk}/computed/{cw.computed.pk}/"' in page

    record = client.get(f"/runs/{cw.run.pk}/record/").content.decode()
    assert "Chain of identity and custody" in record and "GAP" in record
    assert payload(cw.other_tube) in record  # the scanned string, as scanned


def test_the_custody_section_costs_the_same_queries_with_more_records(
    cw, technician, django_assert_num_queries
):
    _move(cw, cw.tube, "Ward", "Lab", 5, technician)
    shipment_of(cw)
    with django_assert_num_queries(6):
        custody_context(cw.run)
    for _ in range(5):
        it = item(cw.run, technician)
        handoff_of(cw, it)
        shipment_of(cw)
    custody.run_labels_print(run=cw.run, template="tube", count=2, actor=technician)
    with django_assert_num_queries(6):
        custody_context(cw.run)


def test_the_shipment_page_plots_the_band_and_marks_the_excursion(client, cw, technician):
    shipment = shipment_of(cw)
    start = timezone.now() - timedelta(hours=3)
    rows = ["time,temperature_c"] + [
        f"{(start + timedelta(minutes=5 * i)).isoformat()},{11.0 if 10 <= i <= 12 else 5.0}"
        for i in range(30)
    ]
    custody.shipment_logger_attach(
        shipment=shipment, data="\n".join(rows).encode(), filename="tl.csv", actor=technician
    )
    client.force_login(technician)

    page = client.get(f"/shipments/{shipment.pk}/").content.decode()

    assert '<rect class="band"' in page and page.count('<rect class="excursion"') == 1
    assert page.count('<circle class="out"') == 3
    assert "15.0 min outside the range" in page or "15 min outside the range" in page


def test_printing_from_the_run_page_records_and_returns_the_pdf(client, cw, technician):
    client.force_login(technician)
    response = client.post(
        f"/runs/{cw.run.pk}/labels/print/",
        {"template": "cryovial", "kind": "vial", "count": 3, "copies": 1, "output": "a4"},
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    record = LabelPrint.objects.get()
    assert (record.label_count, record.sheet, record.printed_by) == (3, "a4", technician)


def test_a_technician_sees_which_identifiers_not_their_values(client, cw, technician, clinician):
    identifiers(cw.run.donor.coi, cw.lab)
    client.force_login(technician)
    page = client.get(f"/donors/{cw.run.donor_id}/identifiers/").content.decode()
    assert "hospital_record" in page and "MRN-0042" not in page
    refused = client.post(f"/donors/{cw.run.donor_id}/identifiers/", {"purpose": "curious"})
    assert refused.status_code == 403

    client.force_login(clinician)
    shown = client.post(f"/donors/{cw.run.donor_id}/identifiers/", {"purpose": "bedside check"})

    assert "MRN-0042" in shown.content.decode()
    read = AuditEvent.objects.get(action="patient_identifier.read")
    assert (read.actor_user_id, read.reason) == (clinician.pk, "bedside check")
