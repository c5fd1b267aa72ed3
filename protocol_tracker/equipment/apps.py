from django.apps import AppConfig


class EquipmentConfig(AppConfig):
    name = "protocol_tracker.equipment"
    label = "equipment"
    verbose_name = "Equipment and instruments"
