"""The calendar feed: ``/calendar/<token>.ics``. The secret in the URL is the only credential."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone, translation
from django.views.decorators.http import require_GET

from protocol_tracker.reminders.ical import calendar_feed
from protocol_tracker.reminders.models import CalendarToken
from protocol_tracker.reminders.selectors import (
    calendar_stage_runs_for_user,
    calendar_tasks_for_user,
    calendar_user_for_token,
    notification_preference_for,
)


def calendar_url(request: HttpRequest, token: CalendarToken | None) -> str | None:
    """The absolute URL of the feed that ``token`` opens (None without a token)."""
    if token is None:
        return None
    return request.build_absolute_uri(reverse("web:calendar_feed", kwargs={"token": token.secret}))


@require_GET
def calendar_feed_view(request: HttpRequest, token: str) -> HttpResponse:
    user = calendar_user_for_token(token)
    if user is None:
        raise Http404("No such calendar.")
    now = timezone.now()
    with translation.override(notification_preference_for(user).language):
        body = calendar_feed(
            stage_runs=calendar_stage_runs_for_user(user, now=now),
            tasks=calendar_tasks_for_user(user, now=now),
            now=now,
        )
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Cache-Control"] = "private, max-age=300"
    response["Content-Disposition"] = 'inline; filename="protocol-tracker.ics"'
    response["X-Robots-Tag"] = "noindex"
    return response
