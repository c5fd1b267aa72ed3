"""The calendar feed: ``/calendar/<token>.ics``. The secret in the URL is the only credential."""

from __future__ import annotations

from django.http import Http404, HttpResponse
from django.utils import timezone, translation
from django.views.decorators.http import require_GET

from protocol_tracker.reminders.ical import calendar_feed
from protocol_tracker.reminders.selectors import (
    calendar_user_for_token,
    notification_preference_for,
)


@require_GET
def calendar_feed_view(request, token: str) -> HttpResponse:
    user = calendar_user_for_token(token)
    if user is None:
        raise Http404("No such calendar.")
    with translation.override(notification_preference_for(user).language):
        body = calendar_feed(user, now=timezone.now())
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Cache-Control"] = "private, max-age=300"
    response["Content-Disposition"] = 'inline; filename="protocol-tracker.ics"'
    response["X-Robots-Tag"] = "noindex"
    return response
