from django.apps import AppConfig


class RunsConfig(AppConfig):
    name = "protocol_tracker.runs"
    label = "runs"
