"""Login and logout, the language switch, the lab's time zone, accessibility basics, the strict
CSP (no inline script or style), notifications, preferences and the lab switch."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from django.urls import reverse

from protocol_tracker.reminders import services as reminder_services
from protocol_tracker.reminders.models import Notification, NotificationPreference
from protocol_tracker.runs.models import Run
from tests.factories import PASSWORD, MembershipFactory

pytestmark = pytest.mark.django_db

INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>")
PAGES = ["/", "/runs/", "/review/", "/trends/", "/protocols/", "/notifications/", "/preferences/"]


def test_login_lands_on_the_bench_board(client, technician):
    assert client.get("/")["Location"] == "/accounts/login/?next=/"
    page = client.get("/accounts/login/").content.decode()
    assert '<label for="id_username">' in page
    response = client.post(
        "/accounts/login/", {"username": "tech-a", "password": PASSWORD, "next": ""}
    )
    assert response["Location"] == "/"
    assert "Bench board" in client.get("/").content.decode()


def test_login_switches_to_the_preferred_language(client, technician, settings):
    NotificationPreference.objects.create(user=technician, language="zh-hans")
    response = client.post("/accounts/login/", {"username": "tech-a", "password": PASSWORD})
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "zh-hans"
    assert "工作台" in client.get("/").content.decode()


def test_wrong_password_keeps_the_username(client, technician):
    body = client.post("/accounts/login/", {"username": "tech-a", "password": "nope"}).content
    assert 'value="tech-a"' in body.decode()
    assert 'class="errorlist nonfield"' in body.decode()


def test_logout_is_a_post_and_returns_to_login(client, technician):
    client.force_login(technician)
    assert client.post("/accounts/logout/")["Location"] == "/accounts/login/"
    assert client.get("/").status_code == 302


def test_password_change(client, technician, settings):
    client.force_login(technician)
    response = client.post(
        reverse("web:password_change"),
        {
            "old_password": PASSWORD,
            "new_password1": "a much longer secret 42",
            "new_password2": "a much longer secret 42",
        },
    )
    assert response["Location"] == reverse("web:password_change_done")
    technician.refresh_from_db()
    assert technician.check_password("a much longer secret 42")


@pytest.mark.parametrize("url", PAGES)
def test_pages_have_no_inline_script_or_style(client, own, reviewer, url):
    client.force_login(reviewer)
    response = client.get(url)
    body = response.content.decode()
    assert not INLINE_SCRIPT.search(body)
    assert " style=" not in body and "<style" not in body
    assert "script-src 'self'" in response["Content-Security-Policy"]
    assert '<a class="skip-link" href="#main">' in body
    assert '<html lang="en">' in body


def test_every_asset_is_local(client, own, reviewer):
    client.force_login(reviewer)
    body = client.get(f"/runs/{own.run.pk}/").content.decode()
    assert re.findall(r'(?:src|href)="(https?:)?//', body) == []
    assert '<script src="/static/web/vendor/htmx.min.js" defer>' in body
    assert client.get("/static/web/vendor/htmx.min.js").status_code == 200


def test_simplified_chinese(client, own, technician, settings):
    client.force_login(technician)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "zh-hans"
    body = client.get("/").content.decode()
    assert '<html lang="zh-hans">' in body
    assert "工作台" in body and "批次" in body and "退出登录" in body
    run_page = client.get(f"/runs/{own.run.pk}/").content.decode()
    assert "时间线" in run_page and "超标" in run_page and "审计追踪" in run_page


def test_language_switch_sets_the_language(client, technician):
    client.force_login(technician)
    response = client.post("/i18n/setlang/", {"language": "zh-hans", "next": "/runs/"})
    assert response["Location"] == "/runs/"
    assert "批次" in client.get("/runs/").content.decode()


def test_dates_are_in_the_labs_time_zone(client, own, technician):
    """Lab A is in Asia/Shanghai (UTC+8): 01:00 UTC shows as 09:00."""
    Run.objects.filter(pk=own.run.pk).update(planned_start=datetime(2026, 3, 2, 1, 0, tzinfo=UTC))
    client.force_login(technician)
    body = client.get(f"/runs/{own.run.pk}/").content.decode()
    assert "<dd>2026-03-02 09:00</dd>" in body
    assert "Lab A (Asia/Shanghai)" in body


def test_notifications_and_mark_read(client, own, reviewer):
    reminder_services.qc_failure_notify(result_id=own.result.pk)
    notification = Notification.objects.get(recipient=reviewer)
    client.force_login(reviewer)
    body = client.get("/notifications/").content.decode()
    assert '<span class="badge-count" aria-label="1 unread">1</span>' in body
    assert own.run.code in body and "Viability" in body
    client.post(reverse("web:notification_read", args=[notification.pk]))
    notification.refresh_from_db()
    assert notification.read_at is not None
    assert "badge-count" not in client.get("/notifications/").content.decode()


def test_someone_elses_notification_is_404(client, own, reviewer, technician):
    reminder_services.qc_failure_notify(result_id=own.result.pk)
    notification = Notification.objects.get(recipient=reviewer)
    client.force_login(technician)
    assert client.post(reverse("web:notification_read", args=[notification.pk])).status_code == 404


def test_preferences_save_language_and_show_the_calendar_link(client, technician, settings):
    client.force_login(technician)
    offered = client.get("/preferences/").content.decode()
    created = client.post(reverse("web:calendar_link_create"))
    page = client.get("/preferences/").content.decode()
    assert 'id="calendar-create"' in offered and 'id="calendar-url"' not in offered
    assert created["Location"] == "/preferences/"
    assert re.search(r'id="calendar-url" value="http://testserver/calendar/[^"]+"', page)
    assert 'id="calendar-create"' not in page
    response = client.post(
        "/preferences/", {"language": "zh-hans", "email_due": "on", "digest": "on"}
    )
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "zh-hans"
    preference = NotificationPreference.objects.get(user=technician)
    assert (
        preference.language,
        preference.email_due,
        preference.email_overdue,
        preference.digest,
    ) == ("zh-hans", True, False, True)


def test_lab_switch_changes_the_board(client, own, other, technician, other_lab):
    MembershipFactory(user=technician, lab=other_lab, role="viewer")
    client.force_login(technician)
    assert own.run.code in client.get("/runs/").content.decode()
    client.post(reverse("web:lab_switch"), {"lab": str(other_lab.pk)})
    body = client.get("/runs/").content.decode()
    assert other.run.code in body and own.run.code not in body
    assert "Europe/London" in body


def test_lab_switch_refuses_a_lab_one_is_not_in(client, own, technician, other_lab):
    client.force_login(technician)
    assert client.post(reverse("web:lab_switch"), {"lab": str(other_lab.pk)}).status_code == 404


def test_runs_list_filters(client, own, technician):
    client.force_login(technician)
    assert own.run.code in client.get("/runs/?status=active").content.decode()
    assert own.run.code not in client.get("/runs/?status=released").content.decode()
    assert own.run.code in client.get("/runs/?flagged=on").content.decode()
    assert own.run.code in client.get(f"/runs/?q={own.run.donor.code.lower()}").content.decode()


def test_bench_board_shows_due_work_with_one_tap_actions(client, own, technician):
    client.force_login(technician)
    body = client.get("/").content.decode()
    assert f'id="stage-{own.stage_run.pk}"' in body
    assert f'action="/stages/{own.stage_run.pk}/complete/"' in body
    assert f'action="/tasks/{own.task.pk}/done/"' in body


def test_viewer_sees_the_board_without_actions(client, own, viewer):
    client.force_login(viewer)
    body = client.get("/").content.decode()
    assert f'id="stage-{own.stage_run.pk}"' in body
    assert "/complete/" not in body
