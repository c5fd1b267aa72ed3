"""The batch record and the certificate of analysis stored at the release: their SHA-256 bound
by the release signature, their text read back, Chinese with the fonts embedded, re-opened
byte for byte."""

from __future__ import annotations

import hashlib
import io
import re

import pypdf
import pytest
from django.utils import translation

from labs.models import Lab
from protocol_tracker.outcomes import selectors
from protocol_tracker.outcomes.models import ReleaseDocument
from protocol_tracker.qc.services.signatures import run_signed_content
from protocol_tracker.signatures import services as signatures
from protocol_tracker.signatures.models import Signature
from tests.builders.release import completed_default_run, release

pytestmark = pytest.mark.django_db


def _text(content: bytes) -> tuple[list[str], pypdf.PdfReader]:
    reader = pypdf.PdfReader(io.BytesIO(content))
    return [page.extract_text() for page in reader.pages], reader


def _fonts(reader: pypdf.PdfReader) -> set[str]:
    """The base fonts of every page; each must be embedded (a FontFile2 stream)."""
    names = set()
    for page in reader.pages:
        for ref in page["/Resources"]["/Font"].values():
            font = ref.get_object()
            if "/DescendantFonts" in font:
                font = font["/DescendantFonts"][0].get_object()
            assert "/FontDescriptor" in font, dict(font)
            assert "/FontFile2" in font["/FontDescriptor"].get_object(), font["/BaseFont"]
            names.add(str(font["/BaseFont"]).split("+")[-1])
    return names


@pytest.fixture
def released(exceptional, reviewer):
    run = release(exceptional.run, reviewer, pending_tests=["sterility"])
    return exceptional, run


def test_the_release_signature_binds_the_stored_documents(released, reviewer):
    _e, run = released
    docs = {d.kind: d for d in ReleaseDocument.objects.filter(run=run)}
    signature = Signature.objects.get(run=run, meaning="released")

    for doc in docs.values():
        assert doc.sha256 == hashlib.sha256(bytes(doc.content)).hexdigest()
        assert (doc.size_bytes, doc.signature_id) == (len(doc.content), signature.pk)
    review = selectors.run_review(run)
    content = {
        **run_signed_content(run),
        "audit_trail_reviewed": True,
        "acknowledgements": [
            {"key": row.item.key, "content_hash": row.item.content_hash,
             "acknowledgement": row.acknowledgement.pk}
            for row in review.rows
        ],
        "documents": {"batch_record": docs["batch_record"].sha256,
                      "certificate": docs["certificate"].sha256},
    }  # fmt: skip
    assert signature.record_hash == signatures.record_hash(run, content=content)
    changed = {**content, "documents": {**content["documents"], "batch_record": "0" * 64}}
    assert signature.record_hash != signatures.record_hash(run, content=changed)
    assert signature.statement == (
        f"released run {run.code} conditionally, pending sterility; I reviewed this batch's "
        "audit trail and every exception of its review by exception, each acknowledged "
        "(8 listed)"
    )


def test_the_batch_record_reads_back_with_its_summary_stages_and_signatures(released):
    _e, run = released
    doc = ReleaseDocument.objects.get(run=run, kind="batch_record")
    pages, reader = _text(bytes(doc.content))
    text = "\n".join(pages)

    assert doc.pages == len(pages)
    summary = pages[0]
    for expected in ("Batch record DON-001-SIMPLE-001", "Summary", "Simple test protocol",
                     "simple v1", "DON-001", "Release decision", "Released by reviewer-a",
                     "conditional release, pending: sterility", "Pending at release: Sterility",
                     "8 listed, 8 acknowledged", "3 in all, 0 open"):  # fmt: skip
        assert expected in summary, expected
    for stage in ("Stage 1: Collect (Collection)", "Stage 2: Expand (Expansion)",
                  "Stage 3: Release (Release)"):  # fmt: skip
        assert stage in text
    for signature in Signature.objects.filter(run=run):
        assert signature.signer_name in text
        assert signature.statement[:40] in text.replace("\n", " ")
    assert "Bench tasks: 3 planned; 1 done on time, 0 late, 1 skipped, 1 not applicable" in text
    assert "Appendix: audit trail" in text
    for number, page in enumerate(pages, start=1):
        assert f"Page {number} of {len(pages)}" in page
        assert f"Record SHA-256: {doc.record_hash}" in page
        assert re.search(r"Generated \d{4}-\d\d-\d\d \d\d:\d\d:\d\d CST", page)
    assert _fonts(reader) == {"NotoSansSC-Regular", "NotoSansSC-Bold"}


def test_the_stored_pdf_reopens_byte_for_byte(released, client, reviewer):
    _e, run = released
    doc = ReleaseDocument.objects.get(run=run, kind="batch_record")
    client.force_login(reviewer)

    web = client.get(f"/runs/{run.pk}/record.pdf")
    api = client.get(f"/api/v1/runs/{run.pk}/batch-record/")
    cert = client.get(f"/api/v1/runs/{run.pk}/certificate/")

    assert web.content == api.content == bytes(doc.content)
    assert api["X-Content-SHA256"] == doc.sha256
    assert cert.content == bytes(ReleaseDocument.objects.get(run=run, kind="certificate").content)


def test_the_certificate_lists_each_release_test_and_the_signature(released):
    _e, run = released
    doc = ReleaseDocument.objects.get(run=run, kind="certificate")
    pages, reader = _text(bytes(doc.content))
    text = "\n".join(pages).replace("\n", " ")

    assert len(pages) == doc.pages == 1
    for expected in ("Certificate of analysis DON-001-SIMPLE-001", "Simple test protocol",
                     "Endotoxin", "endotoxin / endotoxin", "≤ 5 EU/mL", "1 EU/mL", "Pass",
                     "Sterility", "pending", "conditional release: result to follow",
                     "Releasing signature", "reviewer-a"):  # fmt: skip
        assert expected in text, expected
    assert _fonts(reader) <= {"NotoSansSC-Regular", "NotoSansSC-Bold"}


def test_a_chinese_lab_gets_its_documents_in_chinese_with_the_fonts_embedded(exceptional, reviewer):
    Lab.objects.filter(pk=exceptional.run.lab_id).update(language="zh-hans")
    exceptional.run.lab.refresh_from_db()
    run = release(exceptional.run, reviewer, pending_tests=["sterility"])

    record = ReleaseDocument.objects.get(run=run, kind="batch_record")
    certificate = ReleaseDocument.objects.get(run=run, kind="certificate")
    assert record.language == certificate.language == "zh-hans"
    pages, reader = _text(bytes(record.content))
    with translation.override("zh-hans"):
        from django.utils.translation import gettext as _

        title = _("Batch record %(code)s") % {"code": run.code}
        summary = _("Summary")
        page_one = _("Page %(page)s of %(pages)s") % {"page": 1, "pages": len(pages)}
    assert title != f"Batch record {run.code}"  # translated
    assert title in pages[0] and summary in pages[0] and page_one in pages[0]
    assert _fonts(reader) == {"NotoSansSC-Regular", "NotoSansSC-Bold"}
    cert_pages, cert_reader = _text(bytes(certificate.content))
    assert "分析证书" in cert_pages[0]
    assert _fonts(cert_reader) <= {"NotoSansSC-Regular", "NotoSansSC-Bold"}


def test_a_default_protocol_run_fits_in_a_few_dozen_pages(lab, technician, reviewer2):
    run = completed_default_run(lab, technician)

    release(run, reviewer2)

    doc = ReleaseDocument.objects.get(run=run, kind="batch_record")
    pages, _reader = _text(bytes(doc.content))
    assert 5 <= doc.pages <= 40
    stages = [sr.stage.name for sr in run.stage_runs.select_related("stage").order_by("order")]
    text = "\n".join(pages)
    for stage in stages:
        assert stage[:30] in text.replace("\n", " ")
