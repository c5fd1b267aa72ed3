from django.apps import AppConfig


class InventoryConfig(AppConfig):
    name = "protocol_tracker.inventory"
    label = "inventory"
    verbose_name = "Storage"
