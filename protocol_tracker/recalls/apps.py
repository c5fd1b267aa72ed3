from django.apps import AppConfig


class RecallsConfig(AppConfig):
    name = "protocol_tracker.recalls"
    label = "recalls"
    verbose_name = "Lot recalls"
