"""What a person on a 768 px tablet with gloves, or with a keyboard or a screen reader, needs:
touch targets of at least 44 px, no sideways scrolling, a skip link first in the tab order,
a label for every field."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page

from tests.builders import scenario
from tests.factories import PASSWORD

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

MIN_TARGET = 44
# Controls a finger must hit (inline links inside text are exempt, as in WCAG 2.5.8).
CONTROLS = (
    "button, a.btn, .mainnav a, select, textarea, "
    "input:not([type=hidden]):not([type=checkbox]):not([type=radio]), "
    "label:has(> input[type=checkbox]), label:has(> input[type=radio])"
)

SMALL_TARGETS = """([selector, min]) => {
  const shown = [...document.querySelectorAll(selector)]
    .filter(el => el.offsetParent !== null && !el.closest('.visually-hidden'));
  const small = shown
    .map(el => ({h: el.getBoundingClientRect().height, w: el.getBoundingClientRect().width,
                 what: el.outerHTML.slice(0, 80)}))
    .filter(r => r.h < min || r.w < min);
  return {checked: shown.length, small: small};
}"""

UNLABELLED = """() => [...document.querySelectorAll('input, select, textarea')]
  .filter(el => el.type !== 'hidden' && !el.closest('.visually-hidden') || el.id === 'lab-switch')
  .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label'))
  .map(el => el.outerHTML.slice(0, 80))"""


def test_tablet_targets_labels_and_keyboard(
    page: Page, live_server, lab, technician, reviewer, lab_admin, shots
):
    own = scenario(lab, technician)
    base = live_server.url
    console_errors: list[str] = []
    page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
    page.goto(f"{base}/accounts/login/")
    page.locator("#id_username").fill(lab_admin.username)
    page.locator("#id_password").fill(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{base}/")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip-link"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    urls = [
        "/",
        "/runs/",
        f"/runs/{own.run.pk}/",
        f"/runs/{own.run.pk}/record/",
        "/review/",
        f"/deviations/{own.deviation.pk}/",
        f"/trends/{own.checkpoint.pk}/",
        "/protocols/",
        f"/protocols/{own.protocol.pk}/",
        "/protocols/new/",
        "/preferences/",
        "/notifications/",
        f"/stages/{own.stage_run.pk}/qc/{own.checkpoint.pk}/",
    ]
    problems = {}
    for url in urls:
        assert page.goto(base + url).status == 200
        name = "-".join("id" if part.isdigit() else part for part in url.split("/") if part)
        page.screenshot(path=shots / f"admin-{name or 'bench'}.png", full_page=True)
        targets = page.evaluate(SMALL_TARGETS, [CONTROLS, MIN_TARGET])
        assert targets["checked"] >= 5, url  # the topbar alone has more
        small = targets["small"]
        unlabelled = page.evaluate(UNLABELLED)
        overflow = page.evaluate("document.documentElement.scrollWidth") > 768
        if small or unlabelled or overflow:
            problems[url] = {"small": small, "unlabelled": unlabelled, "overflow": overflow}
    assert problems == {}
    # The strict CSP (no inline script or style, no eval) holds with htmx and our own JS.
    assert console_errors == []
