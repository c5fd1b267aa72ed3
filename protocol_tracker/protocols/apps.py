from django.apps import AppConfig


class ProtocolsConfig(AppConfig):
    name = "protocol_tracker.protocols"
    label = "protocols"
