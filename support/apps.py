from django.apps import AppConfig
from django.utils.translation import gettext_lazy


class SupportConfig(AppConfig):
    name = "support"
    verbose_name = gettext_lazy("Support desk")
