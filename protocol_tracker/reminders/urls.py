from django.urls import path

from protocol_tracker.reminders.views import calendar_feed_view

app_name = "reminders"
urlpatterns = [
    path("<str:token>.ics", calendar_feed_view, name="calendar_feed"),
]
