"""The materials, equipment and cell-bank gates in a real browser (Debian's Chromium): a
technician cannot record a stage or a bench task with an expired lot, cannot use a cabinet out
of calibration, freezes 10 vials into a box and sees them on the map, thaws one with a scan; a
reviewer recalls a lot and the run that used it is flagged."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from protocol_tracker.cellbank.models import Vial
from protocol_tracker.materials.models import LotStatus, MaterialLot
from protocol_tracker.runs.models import Run, StageRun, TaskOccurrence
from protocol_tracker.runs.services import stage_start
from tests import builders as f
from tests.builders.stock import lot, stocked
from tests.factories import PASSWORD

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _login(page: Page, base: str, user) -> None:
    page.goto(f"{base}/accounts/login/")
    page.get_by_label(re.compile("Username")).fill(user.username)
    page.get_by_label(re.compile("Password")).fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Bench board")).to_be_visible()


def _logout(page: Page) -> None:
    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(re.compile("/accounts/login/"))


def test_the_gates_freeze_thaw_and_recall_in_the_browser(
    page: Page, live_server, lab, technician, reviewer, reviewer2, shots
):
    base = live_server.url
    stock = stocked(lab, technician, reviewer)
    expired = lot(stock.medium, technician, reviewer, lot_number="MT-OLD")
    MaterialLot.objects.filter(pk=expired.pk).update(status=LotStatus.EXPIRED)
    sr = f.working_stage(stock.protocol, technician)
    f.record(sr, technician)
    run = sr.run
    _login(page, base, technician)

    # The run page leads to the stage's lots and equipment.
    page.goto(f"{base}/runs/{run.pk}/")
    page.get_by_role("link", name="Lots and equipment: Expansion").click()
    expect(page.get_by_role("heading", name="Materials and equipment: Expansion")).to_be_visible()
    # The cabinet out of calibration cannot be picked; the one in calibration can.
    expect(page.get_by_role("radio", name=re.compile("BSC-2"))).to_be_disabled()
    page.screenshot(path=shots / "stage-materials.png", full_page=True)

    # An expired lot, scanned: the scan does not submit; completing is refused with the rule.
    scan = page.locator("#scan-0")
    scan.fill(expired.code)
    scan.press("Enter")
    expect(page).to_have_url(re.compile(f"/stages/{sr.pk}/materials/"))
    page.locator("#lot-1").select_option(str(stock.matrix_lot.pk))
    page.locator("#qty-1").fill("1")
    page.get_by_role("radio", name=re.compile("BSC-1")).check()
    page.get_by_role("button", name="Record and complete the stage").click()
    expect(page.get_by_role("alert").first).to_contain_text("mTeSR Plus lot MT-OLD expired on")
    assert StageRun.objects.get(pk=sr.pk).status == "in_progress"

    # The cabinet out of calibration, scanned: refused.
    page.locator("#escan-0").fill("BSC-2")
    page.locator("#lot-1").select_option(str(stock.matrix_lot.pk))
    page.locator("#qty-1").fill("1")
    page.get_by_role("button", name="Record", exact=True).click()
    expect(page.get_by_role("alert").first).to_contain_text("BSC-2 (BSC-2) is out of calibration")

    # A medium change with the expired lot: refused; with a released lot: done.
    task = TaskOccurrence.objects.filter(stage_run=sr).order_by("due_at").first()
    page.goto(f"{base}/tasks/{task.pk}/record/")
    page.locator("#scan-0").fill(expired.code)
    page.get_by_role("button", name="Record and log as done").click()
    expect(page.get_by_role("alert").first).to_contain_text("expired on")
    assert TaskOccurrence.objects.get(pk=task.pk).done_at is None
    page.locator("#scan-0").fill(stock.medium_lot.code)
    page.get_by_role("button", name="Record and log as done").click()
    expect(page.get_by_role("status").first).to_contain_text("Done: Medium change")

    # The stage completes with a released lot (picked from the scan) and the cabinet in calibration.
    page.goto(f"{base}/stages/{sr.pk}/materials/?next=/runs/{run.pk}/")
    page.locator("#scan-0").fill(stock.medium_lot.code)
    page.locator("#scan-0").press("Enter")
    expect(page.locator("#lot-0")).to_have_value(str(stock.medium_lot.pk))
    page.locator("#lot-1").select_option(str(stock.matrix_lot.pk))
    page.locator("#qty-1").fill("1")
    page.get_by_role("radio", name=re.compile("BSC-1")).check()
    page.get_by_role("button", name="Record and complete the stage").click()
    expect(page).to_have_url(re.compile(f"/runs/{run.pk}/"))
    assert StageRun.objects.get(pk=sr.pk).status == "completed"

    # Freeze 10 vials of the banking stage into the box; they show on the map.
    stage_start(stage_run=f.stage(run, "bank"), actor=technician)
    page.goto(f"{base}/runs/{run.pk}/")
    page.get_by_role("link", name="Freeze vials").click()
    page.get_by_label("Number of vials").fill("10")
    page.get_by_label("Contents").fill("iPSC clone 1")
    page.get_by_label("Freeze medium lot (scan its label)").fill(stock.cryo_lot.code)
    page.get_by_label("Freeze medium used").fill("5")
    page.get_by_role("button", name="Freeze").click()
    expect(page.get_by_text("10 occupied")).to_be_visible()
    page.screenshot(path=shots / "box-map.png", full_page=True)
    first = Vial.objects.order_by("code").first()

    # Thaw one with a scan: the wrong vial is refused, the right one seeds a vessel.
    page.get_by_role("link", name=re.compile(f"A1: {first.code}")).click()
    page.locator("#id_thaw-scanned_code").fill(f"{run.code}-V002")
    page.get_by_role("button", name="Thaw").click()
    expect(page.get_by_role("alert").first).to_contain_text("check the vial in your hand")
    page.locator("#id_thaw-scanned_code").fill(first.code)
    page.locator("#id_thaw-scanned_code").press("Enter")
    page.get_by_role("button", name="Thaw").click()
    expect(page.get_by_role("heading", name=re.compile("Vessel"))).to_be_visible()
    assert Vial.objects.get(pk=first.pk).status == "thawed"
    page.goto(f"{base}/storage/boxes/{stock.box.pk}/")
    expect(page.get_by_text("9 occupied")).to_be_visible()
    _logout(page)

    # A reviewer recalls the medium lot: the run that used it is flagged.
    _login(page, base, reviewer2)
    page.goto(f"{base}/materials/lots/{stock.medium_lot.pk}/")
    expect(page.get_by_role("heading", name=re.compile("Where used \\(1\\)"))).to_be_visible()
    page.get_by_label("Reason for the recall").fill("Supplier recall notice")
    page.locator("#id_recall-password").fill(PASSWORD)
    page.get_by_role("button", name="Sign and recall").click()
    expect(page.get_by_role("status").first).to_contain_text("Lot recalled: 1 run(s)")
    assert Run.objects.get(pk=run.pk).flagged
    page.goto(f"{base}/runs/{run.pk}/")
    expect(page.get_by_role("alert").filter(has_text="Recalled material used")).to_be_visible()
    page.screenshot(path=shots / "recalled.png", full_page=True)
