from django.apps import AppConfig


class DemoConfig(AppConfig):
    name = "protocol_tracker.demo"
    label = "demo"
    verbose_name = "Demo data"
