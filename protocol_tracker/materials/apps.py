from django.apps import AppConfig


class MaterialsConfig(AppConfig):
    name = "protocol_tracker.materials"
    label = "materials"
    verbose_name = "Materials and lots"
