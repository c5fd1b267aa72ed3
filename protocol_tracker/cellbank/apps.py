from django.apps import AppConfig


class CellbankConfig(AppConfig):
    name = "protocol_tracker.cellbank"
    label = "cellbank"
    verbose_name = "Cell bank"
