"""The recipient page in a real browser: the cohort table, the outcome chart with an Igls class
per visit computed from lab values and an imported CGM file, a refused value, and the page in
Simplified Chinese."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from playwright.sync_api import Page, expect

from protocol_tracker.clinical.models import CGMImport, VisitValue
from tests.builders import clinical as cb
from tests.clinical.cgm_files import dexcom_export
from tests.factories import PASSWORD

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
TX = date(2026, 3, 6)  # cb.TRANSPLANT_AT in Shanghai


def _records(lab, technician, reviewer, clinician):
    run = cb.released_run(lab, technician, reviewer)
    recipient = cb.recipient_of(run, clinician)
    cb.formulate(recipient, run, technician)
    cb.visit(recipient, run, clinician, date(2026, 3, 1), "baseline", cb.baseline_values())
    cb.start_transplant(run, technician)
    follow = cb.visit(
        recipient,
        run,
        clinician,
        TX + timedelta(days=84),
        values={
            "hba1c": (6.2, "%"),
            "insulin_dose": (0, "U/kg/day"),
            "severe_hypo_events": (0, "count"),
            "c_peptide_fasting": (1.2, "ng/mL"),
            "oral_agents": (0, "count"),
        },
        label="week 12",
    )
    return recipient, follow


def _login(page: Page, base: str, user) -> None:
    page.goto(f"{base}/accounts/login/")
    page.get_by_label(re.compile("Username")).fill(user.username)
    page.get_by_label(re.compile("Password")).fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Bench board")).to_be_visible()


def test_recipient_page_with_chart_igls_and_cgm_import(
    page, live_server, lab, technician, reviewer, clinician, shots, tmp_path
):
    recipient, follow = _records(lab, technician, reviewer, clinician)
    base = live_server.url
    _login(page, base, clinician)

    page.get_by_role("link", name="Clinical", exact=True).click()
    expect(page.get_by_role("heading", name="Clinical outcomes")).to_be_visible()
    row = page.locator("table.cohort tr", has_text=recipient.donor.code)
    expect(row).to_contain_text("Optimal")
    row.get_by_role("link", name=recipient.donor.code).click()

    expect(page.get_by_role("heading", name=f"Recipient {recipient.donor.code}")).to_be_visible()
    expect(page.locator("svg.outcome-chart")).to_be_visible()
    expect(page.locator("svg.outcome-chart rect.igls-optimal")).to_have_count(1)
    expect(page.get_by_text("0.0714 EU/kg")).to_be_visible()  # 0.5 EU/mL × 10 mL ÷ 70 kg
    visits = page.locator("table.visits tbody tr")
    expect(visits).to_have_count(2)
    expect(visits.nth(1).locator("td").nth(4)).to_contain_text("Optimal")
    expect(visits.nth(1).locator("td").nth(5)).to_contain_text("Not classifiable")  # no CGM
    page.screenshot(path=shots / "clinical-recipient-before-cgm.png", full_page=True)

    # The follow-up visit: a CGM export of the 14 days before it, then Igls 2.0 is computed.
    visits.nth(1).get_by_role("link", name=str(follow.visit_date)).click()
    export = tmp_path / "clarity.csv"
    export.write_bytes(
        dexcom_export(start_utc=cb.TRANSPLANT_AT + timedelta(days=70), readings=4032)
    )
    page.get_by_label("CGM export (Dexcom Clarity or LibreView CSV)").set_input_files(str(export))
    page.get_by_role("button", name="Import", exact=True).click()
    expect(
        page.get_by_text("CGM file imported: 4032 readings, time in range 83.33%.")
    ).to_be_visible()
    assert CGMImport.objects.filter(visit=follow).count() == 1

    # A C-peptide in a unit that is not one: refused at the field, nothing written.
    values_before = VisitValue.objects.count()
    page.locator("#id_v-measure").select_option("c_peptide_stimulated")
    page.locator("#id_v-value").fill("2.1")
    page.locator("#id_v-unit").select_option("mg/dL")
    page.get_by_role("button", name="Record", exact=True).click()
    expect(page.get_by_role("alert")).to_contain_text(
        "'mg/dL' is not a unit of c_peptide_stimulated"
    )
    assert VisitValue.objects.count() == values_before

    page.goto(f"{base}/clinical/{recipient.pk}/")
    row = page.locator("table.visits tbody tr").nth(1)
    # Igls 2.0: TBR < 54 is 0.69 %, not 0: good, not optimal.
    expect(row.locator("td").nth(5)).to_contain_text("Good")
    page.screenshot(path=shots / "clinical-recipient.png", full_page=True)

    page.get_by_role("button", name="简体中文").click()
    expect(page.get_by_role("heading", name=f"受者 {recipient.donor.code}")).to_be_visible()
    expect(page.get_by_text("随时间的结局")).to_be_visible()
    page.screenshot(path=shots / "clinical-recipient-zh.png", full_page=True)
