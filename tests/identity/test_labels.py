"""Labels rendered and read back: the PDF rasterised (pypdfium2) and decoded by a real barcode
reader (zxing-cpp) gives the COI and item id; ZPL matches golden files; every print is recorded,
reprints say so, labels are reconciled; patient identifiers only for clinicians."""

from __future__ import annotations

import io
from pathlib import Path

import pypdfium2 as pdfium
import pytest
import zxingcpp
from pypdf import PdfReader

from protocol_tracker.audit.models import AuditEvent
from protocol_tracker.core.errors import NotPermitted, ValidationFailed
from protocol_tracker.custody.services import run_labels_print
from protocol_tracker.identity.codes import scan_payload
from protocol_tracker.identity.labels import AUTOLOGOUS_BANNER, LabelContent, render
from protocol_tracker.identity.labels.templates import MM, TEMPLATES
from protocol_tracker.identity.models import LabelPrint, LabelReconciliation
from protocol_tracker.identity.services import label_print, label_reconcile
from tests.builders.custody import identifiers
from tests.builders.custody_world import custody_world

GOLDEN = Path(__file__).resolve().parents[1] / "data" / "labels"
COI = "DEMO-26-00017-K"
ITEM = "V-000123-7"
CONTENT = LabelContent(
    payload=scan_payload(COI, ITEM),
    title=ITEM,
    lines=(f"COI {COI}", "Donor DN-00001", "Run DN-00001-E-ISLE-001", "E-islet"),
    banner=AUTOLOGOUS_BANNER,
)


def _decoded(pdf: bytes) -> list[list[tuple[str, str]]]:
    """Each page rendered at 600 dpi and decoded: [(format, text)] per page."""
    document = pdfium.PdfDocument(pdf)
    try:
        pages = []
        for page in document:
            image = page.render(scale=600 / 72).to_pil()
            pages.append(sorted((r.format.name, r.text) for r in zxingcpp.read_barcodes(image)))
        return pages
    finally:
        document.close()


@pytest.mark.parametrize("key", sorted(TEMPLATES))
def test_every_template_decodes_back_to_the_coi_and_item(key):
    document = render(template=key, labels=[CONTENT], output="pdf")

    pages = _decoded(document.content)

    expected = [("QRCode", f"{COI}/{ITEM}")]
    if TEMPLATES[key].code128:
        expected = [("Code128", f"{COI}/{ITEM}"), *expected]
    assert pages == [expected]
    page = PdfReader(io.BytesIO(document.content)).pages[0]
    width, height = float(page.mediabox.width), float(page.mediabox.height)
    assert (round(width / MM, 1), round(height / MM, 1)) == (
        TEMPLATES[key].width_mm,
        TEMPLATES[key].height_mm,
    )
    text = page.extract_text()
    assert COI in text and ITEM in text and AUTOLOGOUS_BANNER in text


def test_an_a4_sheet_tiles_the_labels_and_each_decodes():
    labels = [
        LabelContent(payload=scan_payload(COI, f"V-00000{i}-X"), title=f"V-00000{i}-X")
        for i in range(1, 4)
    ]
    document = render(template="cryovial", labels=labels, output="pdf", sheet="a4", copies=2)

    (page,) = _decoded(document.content)

    assert sorted(text for _fmt, text in page) == sorted([label.payload for label in labels] * 2)


def test_the_pdf_is_the_same_for_the_same_labels():
    one = render(template="bag", labels=[CONTENT], output="pdf")
    two = render(template="bag", labels=[CONTENT], output="pdf")
    assert one.sha256 == two.sha256


@pytest.mark.parametrize("key", ["cryovial", "bag"])
def test_zpl_matches_the_golden_file(key):
    document = render(template=key, labels=[CONTENT], output="zpl", copies=3)
    assert document.content.decode() == (GOLDEN / f"{key}.zpl").read_text()


def test_zpl_escapes_field_data():
    label = LabelContent(payload=COI, title="a^b~c_d")
    text = render(template="tube", labels=[label], output="zpl").content.decode()
    assert "^FDa_5Eb_7Ec_5Fd^FS" in text


@pytest.mark.django_db
def test_printing_is_recorded_and_the_labels_decode(lab, technician):
    world = custody_world(lab, technician)
    printed = run_labels_print(
        run=world.run, template="cryovial", kind="vial", count=3, copies=2, actor=technician
    )

    record = LabelPrint.objects.get()
    assert (record.label_count, record.copies, record.printed_by, record.is_reprint) == (
        6,
        2,
        technician,
        False,
    )
    assert record.document_sha256 == printed.document.sha256
    decoded = [text for page in _decoded(printed.document.content) for _fmt, text in page]
    assert sorted(decoded) == sorted(label["payload"] for label in record.labels for _ in (1, 2))
    assert all(text.startswith(world.coi + "/V-") for text in decoded)
    assert AuditEvent.objects.filter(action="label.print", object_id=str(record.pk)).count() == 1


@pytest.mark.django_db
def test_a_reprint_says_so_and_why(lab, technician):
    world = custody_world(lab, technician)
    first = run_labels_print(run=world.run, template="bag", kind="bag", count=1, actor=technician)
    with pytest.raises(ValidationFailed, match="reason"):
        run_labels_print(run=world.run, template="bag", reprint_of=first.record, actor=technician)

    again = run_labels_print(
        run=world.run, template="bag", reprint_of=first.record, reason="smudged", actor=technician
    )

    assert (again.record.reprint_of, again.record.reason) == (first.record, "smudged")
    assert again.record.labels == first.record.labels
    assert "REPRINT" in PdfReader(io.BytesIO(again.document.content)).pages[0].extract_text()
    assert _decoded(again.document.content)[0][0][1] == first.record.labels[0]["payload"]


@pytest.mark.django_db
def test_a_repeated_key_prints_once(lab, technician):
    world = custody_world(lab, technician)
    one = run_labels_print(
        run=world.run, template="tube", kind="sample", count=1, actor=technician,
        idempotency_key="k1",
    )  # fmt: skip
    first = one.record.labels[0]
    labels = [
        LabelContent(
            payload=first["payload"],
            title=first["title"],
            lines=tuple(first["lines"]),
            banner=first["banner"],
        )
    ]
    replay = label_print(
        lab=lab, template="tube", labels=labels, actor=technician, subject_type="runs.run",
        subject_id=str(world.run.pk), coi=world.run.donor.coi, idempotency_key="k1",
    )  # fmt: skip
    assert replay.replayed and replay.record.pk == one.record.pk
    assert LabelPrint.objects.count() == 1


@pytest.mark.django_db
def test_reconciliation_never_accounts_for_more_than_printed(lab, technician):
    world = custody_world(lab, technician)
    record = run_labels_print(
        run=world.run, template="cryovial", kind="vial", count=4, actor=technician
    ).record
    label_reconcile(label_print=record, used=3, destroyed=0, actor=technician)
    with pytest.raises(ValidationFailed, match="need a reason"):
        label_reconcile(label_print=record, used=0, destroyed=1, actor=technician)
    with pytest.raises(ValidationFailed, match="1 are unaccounted"):
        label_reconcile(label_print=record, used=1, destroyed=1, reason="x", actor=technician)
    label_reconcile(label_print=record, used=0, destroyed=1, reason="torn", actor=technician)

    assert list(LabelReconciliation.objects.values_list("used", "destroyed")) == [(3, 0), (0, 1)]


@pytest.mark.django_db
def test_patient_identifiers_only_on_a_clinicians_labels(lab, technician, clinician):
    world = custody_world(lab, technician)
    identifiers(world.run.donor.coi, lab)
    with pytest.raises(ValidationFailed, match="may see the patient"):
        run_labels_print(
            run=world.run, template="bag", kind="bag", count=1, actor=technician,
            with_patient_identifiers=True,
        )  # fmt: skip
    assert LabelPrint.objects.count() == 0

    printed = run_labels_print(
        run=world.run, template="bag", kind="bag", count=1, actor=clinician,
        with_patient_identifiers=True,
    )  # fmt: skip

    text = PdfReader(io.BytesIO(printed.document.content)).pages[0].extract_text()
    assert "MRN MRN-0042" in text and "DOB 1966-04-03" in text
    assert printed.record.with_patient_identifiers
    assert "MRN-0042" not in str(printed.record.labels)  # never kept on the record
    assert (
        AuditEvent.objects.filter(action="patient_identifier.read", actor_user=clinician).count()
        == 1
    )


@pytest.mark.django_db
def test_a_viewer_prints_nothing(lab, technician, viewer):
    world = custody_world(lab, technician)
    with pytest.raises(NotPermitted):
        run_labels_print(run=world.run, template="bag", kind="bag", count=1, actor=viewer)
    assert LabelPrint.objects.count() == 0
