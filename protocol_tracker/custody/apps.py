from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CustodyConfig(AppConfig):
    name = "protocol_tracker.custody"
    label = "custody"
    verbose_name = _("Chain of custody")
    default_auto_field = "django.db.models.BigAutoField"
