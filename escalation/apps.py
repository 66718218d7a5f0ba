from django.apps import AppConfig
from django.utils.translation import gettext_lazy


class EscalationConfig(AppConfig):
    name = "escalation"
    verbose_name = gettext_lazy("SLA and escalation")
