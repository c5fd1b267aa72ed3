from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "protocol_tracker.api"
    label = "api"
