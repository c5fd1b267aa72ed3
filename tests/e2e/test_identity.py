"""Scan to verify in a real browser: the USB scanner types the label and Enter into the scan
field; the right label turns the field's answer green, another donor's turns it red, stops the
stage with a critical deviation, and the run page shows the chain. No console errors under the
strict CSP (the vendored camera scanner loads)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from protocol_tracker.qc.models import Deviation
from tests.builders.custody import payload
from tests.builders.custody_world import custody_world
from tests.factories import PASSWORD

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _login(page: Page, base: str, user) -> None:
    page.goto(f"{base}/accounts/login/")
    page.get_by_label(re.compile("Username")).fill(user.username)
    page.get_by_label(re.compile("Password")).fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Bench board")).to_be_visible()


def test_a_wrong_label_stops_the_stage_in_the_browser(page, live_server, lab, technician, shots):
    cw = custody_world(lab, technician)
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    _login(page, live_server.url, technician)

    page.goto(f"{live_server.url}/runs/{cw.run.pk}/")
    expect(page.locator("[data-coi]")).to_have_text(cw.coi)
    page.get_by_role("link", name="Scan label").click()
    field = page.get_by_label("Scan the label")
    expect(field).to_be_focused()

    # A USB scanner is a keyboard: it types the code, then Enter.
    field.press_sequentially(payload(cw.other_tube), delay=2)
    field.press("Enter")

    result = page.locator("#scan-result")
    expect(result).to_have_attribute("data-verdict", "mismatch")
    expect(result).to_contain_text("label of another donor")
    expect(result).to_contain_text("The stage is blocked.")
    expect(result).to_have_attribute("aria-live", "assertive")
    deviation = Deviation.objects.get()
    assert (deviation.severity, deviation.kind) == ("critical", "identity")
    expect(result.get_by_role("link")).to_contain_text(f"DEV-{deviation.pk}")
    page.screenshot(path=str(shots / "identity-scan-mismatch.png"))

    page.goto(f"{live_server.url}/runs/{cw.run.pk}/")
    page.get_by_role("button", name="Complete stage").first.click()
    expect(page.get_by_text(re.compile("without an accepted disposition"))).to_be_visible()
    expect(page.locator("#custody")).to_contain_text("Mismatch")
    assert errors == []


def test_the_right_label_passes_and_the_camera_button_is_offered(
    page, live_server, lab, technician
):
    cw = custody_world(lab, technician)
    page.context.grant_permissions([], origin=live_server.url)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    _login(page, live_server.url, technician)

    page.goto(f"{live_server.url}/stages/{cw.stage_run.pk}/scan/{cw.checkpoint.pk}/")
    assert page.evaluate("typeof window.ZXing.BrowserMultiFormatReader") == "function"
    expect(page.get_by_role("button", name="Scan with the camera")).to_be_visible()
    witness = page.locator("fieldset.witness")
    expect(witness).to_be_hidden()
    page.get_by_label("I typed it by hand (needs a witness)").check()
    expect(witness).to_be_visible()
    page.get_by_label("I typed it by hand (needs a witness)").uncheck()

    field = page.get_by_label("Scan the label")
    field.press_sequentially(cw.good_scan(), delay=2)
    field.press("Enter")

    expect(page.locator("#scan-result")).to_have_attribute("data-verdict", "match")
    expect(page.locator("#scan-result")).to_have_class(re.compile("verdict-pass"))
    expect(field).to_have_value("")
    expect(field).to_be_focused()  # ready for the next label
    # The next scan is a new request (a fresh idempotency key came with the answer), which
    # the passed checkpoint refuses, saying why.
    field.press_sequentially(payload(cw.vial), delay=2)
    field.press("Enter")
    expect(page.locator("#scan-result")).to_contain_text("already has a result")
    field.press("Enter")  # an empty scan: the browser asks for the field, nothing is sent
    assert field.evaluate("el => el.validity.valueMissing") is True
    assert errors == []
