from django.apps import AppConfig
from django.utils.translation import gettext_lazy


class InboundConfig(AppConfig):
    name = "inbound"
    verbose_name = gettext_lazy("Inbound mail and calls")
