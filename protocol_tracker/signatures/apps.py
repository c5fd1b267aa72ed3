from django.apps import AppConfig


class SignaturesConfig(AppConfig):
    name = "protocol_tracker.signatures"
    label = "signatures"
    verbose_name = "E-signatures"
