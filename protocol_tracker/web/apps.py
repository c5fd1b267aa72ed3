from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "protocol_tracker.web"
    label = "web"
