from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "protocol_tracker.api"
    label = "api"

    def ready(self) -> None:
        # Registers the OpenAPI auth extensions with drf-spectacular.
        from protocol_tracker.api import schema  # noqa: F401, PLC0415 - registered once apps load
