from django.apps import AppConfig


class QcConfig(AppConfig):
    name = "protocol_tracker.qc"
    label = "qc"
