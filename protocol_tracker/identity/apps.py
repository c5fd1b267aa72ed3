from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IdentityConfig(AppConfig):
    name = "protocol_tracker.identity"
    label = "identity"
    verbose_name = _("Chain of identity")
    default_auto_field = "django.db.models.BigAutoField"
