"""The whole bench-to-release flow in a real browser, in English and in Simplified Chinese."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from protocol_tracker.protocols.models import CheckpointTemplate
from protocol_tracker.qc import services as qc_services
from protocol_tracker.qc.models import Deviation, DeviationStatus
from protocol_tracker.runs import services as run_services
from protocol_tracker.runs.models import Run, RunStatus, StageRun
from protocol_tracker.signatures.models import Signature
from tests.builders import active_run, complete, web_protocol
from tests.factories import PASSWORD

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

TEXT = {
    "en": {
        "start": "Start",
        "record": "Record",
        "save": "Save result",
        "confirm": "Confirm: record out-of-spec result",
        "oos": "OUT OF SPEC",
        "pass": "Within spec",
        "review": "Review and sign",
        "accept": "Accept with justification",
        "sign": "Sign disposition",
        "release": "Release…",
        "sign_release": "Sign and release",
        "released": "Released",
        "closed": "Closed",
        "login": "Log in",
        "logout": "Log out",
        "bench": "Bench board",
        "record_qc": "Record QC",
        "phase1": "Phase I: laboratory investigation",
        "investigate": "Save investigation",
    },
    "zh-hans": {
        "start": "开始",
        "record": "录入",
        "save": "保存结果",
        "confirm": "确认：记录超标结果",
        "oos": "超标",
        "pass": "符合标准",
        "review": "审核并签名",
        "accept": "接受（附理由）",
        "sign": "签署处置",
        "release": "放行…",
        "sign_release": "签名并放行",
        "released": "已放行",
        "closed": "已关闭",
        "login": "登录",
        "logout": "退出登录",
        "bench": "工作台",
        "record_qc": "录入质控",
        "phase1": "第一阶段：实验室调查",
        "investigate": "保存调查",
    },
}


def _login(page: Page, base: str, user, t: dict) -> None:
    page.goto(f"{base}/accounts/login/")
    page.get_by_label(re.compile("Username|用户名")).fill(user.username)
    page.get_by_label(re.compile("Password|密码")).fill(PASSWORD)
    page.get_by_role("button", name=t["login"]).click()
    expect(page.get_by_role("heading", name=t["bench"])).to_be_visible()


def _logout(page: Page, t: dict) -> None:
    page.get_by_role("button", name=t["logout"]).click()
    expect(page).to_have_url(re.compile("/accounts/login/"))


def _finish_run(run: Run, technician) -> None:
    """The technician's remaining work, through the services: complete the first stage (its
    deviation is accepted), then the release stage with a passing endotoxin result."""
    stage_runs = list(StageRun.objects.filter(run=run).order_by("order"))
    complete(stage_runs[0], technician)
    release = run_services.stage_start(
        stage_run=StageRun.objects.get(pk=stage_runs[1].pk), actor=technician
    )
    qc_services.qc_result_record(
        stage_run=release,
        checkpoint=CheckpointTemplate.objects.get(protocol=run.protocol, key="endotoxin"),
        value=0.5,
        unit="EU/mL",
        measured_at=timezone.now(),
        actor=technician,
    )
    complete(release, technician)


HISTORY = (88, 91, 86, 90, 87, 93, 89, 85, 84, 82, 80, 79)  # drifting down, still in spec


def _history(lab, protocol, technician) -> None:
    """Earlier batches of the lab with their viability, for the control chart (on hold, so
    that the bench board shows only the run under test)."""
    checkpoint = CheckpointTemplate.objects.get(protocol=protocol, key="viability")
    for i, value in enumerate(HISTORY):
        run = active_run(protocol, technician, donor_code=f"DON-H{i:02d}")
        stage_run = run_services.stage_start(
            stage_run=StageRun.objects.get(run=run, order=1), actor=technician
        )
        qc_services.qc_result_record(
            stage_run=stage_run,
            checkpoint=checkpoint,
            value=value,
            unit="%",
            measured_at=timezone.now() - timedelta(days=30 - 2 * i),
            actor=technician,
        )
        run_services.run_hold(run=run, actor=technician, reason="kept off the board")


def _flow(
    page: Page,
    live_server,
    lab,
    technician,
    reviewer,
    language: str,
    shots,
    other_run: Run | None = None,
) -> None:
    t = TEXT[language]
    base = live_server.url
    protocol = web_protocol(lab)
    if language == "en":
        _history(lab, protocol, technician)
    run = active_run(protocol, technician, donor_code=f"DON-E2E-{language.upper()}")
    suffix = "" if language == "en" else "-zh"

    page.goto(f"{base}/accounts/login/")
    if language != "en":
        page.get_by_role("button", name="简体中文").click()
        expect(page.get_by_role("button", name="登录")).to_be_visible()
    page.screenshot(path=shots / f"login{suffix}.png", full_page=True)
    _login(page, base, technician, t)

    # Bench board: the first stage of the run is ready; one tap starts it.
    item = page.locator("li.workitem", has_text=run.code).first
    expect(item).to_be_visible()
    page.screenshot(path=shots / f"bench{suffix}.png", full_page=True)
    item.get_by_role("button", name=t["start"]).click()
    item = page.locator("li.workitem", has_text=run.code).first
    expect(item.get_by_role("link", name=t["record_qc"])).to_be_visible()
    assert StageRun.objects.filter(run=run, order=1, status="in_progress").count() == 1

    # QC entry: the verdict follows what is typed; out of spec asks for confirmation.
    item.get_by_role("link", name=t["record_qc"]).click()
    page.get_by_role("link", name=t["record"], exact=True).first.click()
    value = page.locator("#id_value")
    value.fill("95")
    expect(page.locator("#verdict")).to_contain_text(t["pass"])
    value.fill("50")
    expect(page.locator("#verdict")).to_contain_text(t["oos"])
    page.screenshot(path=shots / f"qc_entry{suffix}.png", full_page=True)
    page.get_by_role("button", name=t["save"]).click()
    expect(page.get_by_role("button", name=t["confirm"])).to_be_visible()
    assert Deviation.objects.filter(run=run).count() == 0  # nothing written before confirming
    page.get_by_role("button", name=t["confirm"]).click()

    # The run page shows the deviation.
    deviation = Deviation.objects.get(run=run)
    expect(page.locator(f"#deviation-{deviation.pk}")).to_be_visible()
    page.screenshot(path=shots / f"run{suffix}.png", full_page=True)

    # The technician records the phase I laboratory investigation.
    page.locator(f"#deviation-{deviation.pk}").get_by_role("link").first.click()
    page.get_by_label(t["phase1"]).check()
    page.locator("#id_inv-findings").fill("No assay error found; sample handling checked.")
    page.get_by_role("button", name=t["investigate"]).click()
    expect(page.locator("main")).to_contain_text("No assay error found")
    if other_run is not None:
        response = page.goto(f"{base}/runs/{other_run.pk}/")
        assert response is not None and response.status == 404
        page.go_back()
    _logout(page, t)

    # The reviewer signs a disposition from the queue.
    _login(page, base, reviewer, t)
    page.goto(f"{base}/review/")
    page.screenshot(path=shots / f"review{suffix}.png", full_page=True)
    page.locator("tr", has_text=f"DEV-{deviation.pk}").get_by_role("link", name=t["review"]).click()
    page.get_by_label(t["accept"]).check()
    page.locator("#id_sign-justification").fill("Viability recovered on recount; accepted.")
    page.locator("#id_sign-password").fill("not my password")
    page.get_by_role("button", name=t["sign"]).click()
    expect(page.locator("#id_sign-password_error")).to_be_visible()
    expect(page.locator("#id_sign-justification")).to_have_value(
        "Viability recovered on recount; accepted."
    )
    assert Signature.objects.filter(run=run).count() == 0
    page.locator("#id_sign-password").fill(PASSWORD)
    page.screenshot(path=shots / f"sign_disposition{suffix}.png", full_page=True)
    page.get_by_role("button", name=t["sign"]).click()
    expect(page.locator(f"#deviation-{deviation.pk}")).to_contain_text(t["closed"])
    assert Deviation.objects.get(pk=deviation.pk).status == DeviationStatus.CLOSED

    # The technician's remaining work; then the reviewer releases the run.
    _finish_run(run, technician)
    assert Run.objects.get(pk=run.pk).status == RunStatus.COMPLETED
    page.goto(f"{base}/runs/{run.pk}/")
    page.get_by_role("link", name=t["release"]).click()
    # Review by exception first: every item acknowledged, then the attestation and signature.
    for box in page.locator("input[name=ack-keys]").all():
        box.check()
    page.locator("#acknowledge").click()
    expect(page.locator("input[name=ack-keys]")).to_have_count(0)
    page.locator("#id_sign-audit_trail_reviewed").check()
    page.locator("#id_sign-password").fill(PASSWORD)
    page.screenshot(path=shots / f"release{suffix}.png", full_page=True)
    page.get_by_role("button", name=t["sign_release"]).click()
    page.screenshot(path=shots / f"after_release{suffix}.png", full_page=True)
    expect(page.locator(".kv").first).to_contain_text(t["released"])
    assert Run.objects.get(pk=run.pk).status == RunStatus.RELEASED

    # The batch record shows it all.
    page.goto(f"{base}/runs/{run.pk}/record/")
    record = page.locator("main")
    expect(record).to_contain_text(run.code)
    expect(record).to_contain_text("50 %")
    expect(record).to_contain_text(f"DEV-{deviation.pk}")
    expect(record).to_contain_text("Viability recovered on recount; accepted.")
    expect(record).to_contain_text(reviewer.username)
    expect(record).to_contain_text("run.release")
    page.screenshot(path=shots / f"batch_record{suffix}.png", full_page=True)
    page.emulate_media(media="print")
    page.screenshot(path=shots / f"batch_record_print{suffix}.png", full_page=True)
    page.emulate_media(media="screen")

    # The trend chart of the checkpoint.
    page.goto(f"{base}/trends/{deviation.qc_result.checkpoint_id}/")
    expect(page.locator("svg.chart circle.pt-oos")).to_have_count(1)
    page.screenshot(path=shots / f"trend{suffix}.png", full_page=True)
    _logout(page, t)


def test_bench_to_release_in_english(
    page, live_server, lab, technician, reviewer, other_lab, other_technician, shots
):
    other_run = active_run(web_protocol(other_lab), other_technician, donor_code="DON-OTHER")
    _flow(page, live_server, lab, technician, reviewer, "en", shots, other_run=other_run)


def test_bench_to_release_in_simplified_chinese(
    page, live_server, lab, technician, reviewer, shots
):
    _flow(page, live_server, lab, technician, reviewer, "zh-hans", shots)
