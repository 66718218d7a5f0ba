from django.apps import AppConfig
from django.utils.translation import gettext_lazy


class MonitorsConfig(AppConfig):
    name = "monitors"
    verbose_name = gettext_lazy("Monitoring")
