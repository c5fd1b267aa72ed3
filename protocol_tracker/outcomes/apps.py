from django.apps import AppConfig


class OutcomesConfig(AppConfig):
    name = "protocol_tracker.outcomes"
    label = "outcomes"
    verbose_name = "Run outcomes"
