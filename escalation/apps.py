from django.apps import AppConfig


class EscalationConfig(AppConfig):
    name = "escalation"
    verbose_name = "SLA and escalation"

    def ready(self) -> None:
        from . import receivers  # noqa: F401  (connects to tickets' signals)
        from .api import register_ticket_fields

        register_ticket_fields()
