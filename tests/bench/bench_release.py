"""The batch record of a complete run of the default E-islet protocol: generating its PDF
(seconds, pages, bytes), the certificate of analysis, and the whole signed release.

The run is worked on its plan (stages started when planned, every bench task logged when due,
results recorded before the due time), its exceptions acknowledged, then released.
"""

from __future__ import annotations

import time


def run() -> dict[str, dict]:
    from django.utils import timezone

    from labs.models import Lab, Membership, Role
    from protocol_tracker.outcomes.documents import ReleaseInfo, batch_record_pdf, certificate_pdf
    from protocol_tracker.outcomes.models import ReleaseDocument
    from protocol_tracker.outcomes.selectors import run_review
    from protocol_tracker.runs.models import Run
    from tests.builders.release import completed_default_run, release
    from tests.factories import UserFactory

    lab = Lab.objects.create(name="Bench release", slug="bench-release", timezone="Asia/Shanghai")
    tech = UserFactory(username="bench-release-tech")
    qa = UserFactory(username="bench-release-qa")
    Membership.objects.create(user=tech, lab=lab, role=Role.TECHNICIAN)
    Membership.objects.create(user=qa, lab=lab, role=Role.REVIEWER)
    run = completed_default_run(lab, tech)
    run = Run.objects.select_related("lab", "protocol", "donor").get(pk=run.pk)
    info = ReleaseInfo(signer_name="bench", at=timezone.now(), meaning="Released",
                       statement="bench")  # fmt: skip

    times, doc = [], None
    for _ in range(3):
        started = time.perf_counter()
        doc = batch_record_pdf(run, review=run_review(run), release=info,
                               generated_at=timezone.now(), language="en")  # fmt: skip
        times.append(time.perf_counter() - started)
    started = time.perf_counter()
    zh = batch_record_pdf(run, review=run_review(run), release=info,
                          generated_at=timezone.now(), language="zh-hans")  # fmt: skip
    zh_s = time.perf_counter() - started
    started = time.perf_counter()
    cert = certificate_pdf(run, release=info, generated_at=timezone.now(), language="en")
    cert_s = time.perf_counter() - started
    started = time.perf_counter()
    release(run, qa)
    release_s = time.perf_counter() - started
    stored = ReleaseDocument.objects.get(run=run, kind="batch_record")
    assert doc is not None and stored.pages == doc.pages
    return {
        "release.batch_record_pdf_s": {"value": sorted(times)[1], "unit": "s",
                                       "target": "< 5 (E-islet: 12 stages, 130 bench tasks)"},
        "release.batch_record_pages": {"value": doc.pages, "unit": "pages",
                                       "target": "a few dozen (the browser print: 147)"},
        "release.batch_record_bytes": {"value": len(doc.content), "unit": "bytes",
                                       "target": "< 2 MB"},
        "release.batch_record_zh_s": {"value": zh_s, "unit": "s", "target": "< 5"},
        "release.batch_record_zh_pages": {"value": zh.pages, "unit": "pages", "target": ""},
        "release.certificate_s": {"value": cert_s, "unit": "s", "target": "< 1"},
        "release.certificate_pages": {"value": cert.pages, "unit": "pages", "target": "1-2"},
        "release.signed_release_s": {"value": release_s, "unit": "s",
                                     "target": "< 10 (acknowledge, sign, both PDFs)"},
    }  # fmt: skip
