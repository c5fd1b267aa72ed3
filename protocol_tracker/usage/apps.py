from django.apps import AppConfig


class UsageConfig(AppConfig):
    name = "protocol_tracker.usage"
    label = "usage"
    verbose_name = "Materials and equipment used"
