"""The release review in a real browser: a reviewer acknowledges a completed run's exceptions
on the release page, signs the release and opens the stored batch record; disposes of two
minor deviations with one signature; approves a protocol draft for use."""

from __future__ import annotations

import hashlib

import pytest
from playwright.sync_api import Page, expect

from protocol_tracker.outcomes.models import ReleaseDocument
from protocol_tracker.qc.models import Deviation
from protocol_tracker.qc.services import deviation_open
from protocol_tracker.runs.models import Run, RunStatus
from protocol_tracker.signatures.models import Signature
from tests.builders import active_run, api_protocol, completed_run, draft_protocol
from tests.e2e.test_web_flow import TEXT, _login
from tests.factories import PASSWORD

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_a_reviewer_releases_a_run_from_its_exception_list(
    page: Page, live_server, lab, technician, reviewer, shots
):
    run = completed_run(api_protocol(lab), technician)
    base = live_server.url
    _login(page, base, reviewer, TEXT["en"])

    page.goto(f"{base}/runs/{run.pk}/release/")
    rows = page.locator("table.exceptions tbody tr")
    expect(rows).to_have_count(1)  # the bench tasks not yet due when the stages completed
    expect(page.locator("#exceptions-status")).to_contain_text("1 still to acknowledge")
    # Signing before acknowledging is refused and says why.
    page.locator("#id_sign-audit_trail_reviewed").check()
    page.locator("#id_sign-password").fill(PASSWORD)
    page.locator("#sign-release").click()
    expect(page.locator("#release-form .errorlist")).to_contain_text("not acknowledged")
    assert Run.objects.get(pk=run.pk).status == RunStatus.COMPLETED

    page.locator("input[name=ack-keys]").first.check()
    page.locator("#id_ack-comment").fill("Stage finished on plan; later feeds not needed.")
    page.locator("#acknowledge").click()
    expect(page.locator("#exceptions-status")).to_contain_text("Every exception is acknowledged")
    page.screenshot(path=shots / "release_review.png", full_page=True)
    page.locator("#id_sign-audit_trail_reviewed").check()
    page.locator("#id_sign-password").fill(PASSWORD)
    page.locator("#sign-release").click()

    expect(page.locator(".kv").first).to_contain_text("Released")
    assert Run.objects.get(pk=run.pk).status == RunStatus.RELEASED
    stored = ReleaseDocument.objects.get(run=run, kind="batch_record")
    page.goto(f"{base}/runs/{run.pk}/record/")
    expect(page.locator("#review-by-exception")).to_contain_text(stored.sha256)
    pdf = page.request.get(f"{base}/runs/{run.pk}/record.pdf")
    assert pdf.headers["content-type"] == "application/pdf"
    assert hashlib.sha256(pdf.body()).hexdigest() == stored.sha256


def test_two_minor_deviations_take_one_signature(
    page: Page, live_server, lab, technician, reviewer, shots
):
    run = active_run(api_protocol(lab), technician)
    a, b = (
        deviation_open(run=run, kind="manual", severity="minor", title=f"Label {n} smudged",
                       actor=technician)
        for n in (1, 2)
    )  # fmt: skip
    major = deviation_open(run=run, kind="manual", title="Flask dropped", actor=technician)
    base = live_server.url
    _login(page, base, reviewer, TEXT["en"])

    page.goto(f"{base}/runs/{run.pk}/deviations/")
    expect(page.locator(f"#deviation-{major.pk}")).to_contain_text("one by one")
    page.get_by_label(f"Select DEV-{a.pk}").check()
    page.get_by_label(f"Select DEV-{b.pk}").check()
    page.get_by_label("Accept with justification").check()
    page.locator("#id_grp-justification").fill("Both labels reprinted before use.")
    page.locator("#id_grp-password").fill(PASSWORD)
    page.screenshot(path=shots / "grouped_disposition.png", full_page=True)
    page.locator("#sign-group").click()

    expect(page.locator(".messages")).to_contain_text("One disposition signed for 2 deviations")
    closed = Deviation.objects.filter(pk__in=[a.pk, b.pk])
    assert {d.status for d in closed} == {"closed"}
    assert len({d.disposition_group_id for d in closed}) == 1
    assert Deviation.objects.get(pk=major.pk).is_open


def test_a_reviewer_approves_a_draft_for_use(page: Page, live_server, lab, reviewer, shots):
    draft = draft_protocol(lab, 2, code="e2e-draft")
    base = live_server.url
    _login(page, base, reviewer, TEXT["en"])

    page.goto(f"{base}/protocols/{draft.pk}/")
    page.locator("#review-approve").click()
    expect(page.locator("#diff")).to_contain_text("s1")
    page.locator("#id_approve-reason").fill("First version, checked against the SOP.")
    page.locator("#id_approve-password").fill(PASSWORD)
    page.screenshot(path=shots / "approve_protocol.png", full_page=True)
    page.locator("#sign-approve").click()

    expect(page.locator(".messages")).to_contain_text("Approved for use")
    draft.refresh_from_db()
    assert draft.status == "published"
    assert Signature.objects.filter(meaning="approved_for_use", signer=reviewer).count() == 1
