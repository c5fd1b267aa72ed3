from django.apps import AppConfig


class ClinicalConfig(AppConfig):
    name = "protocol_tracker.clinical"
    label = "clinical"
    verbose_name = "Clinical outcomes"
