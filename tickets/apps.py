from django.apps import AppConfig
from django.utils.translation import gettext_lazy


class TicketsConfig(AppConfig):
    name = "tickets"
    verbose_name = gettext_lazy("Tickets")
