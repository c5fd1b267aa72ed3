from django.apps import AppConfig


class RemindersConfig(AppConfig):
    name = "protocol_tracker.reminders"
    label = "reminders"
