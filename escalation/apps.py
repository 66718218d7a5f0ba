from django.apps import AppConfig


class EscalationConfig(AppConfig):
    name = "escalation"
    verbose_name = "SLA and escalation"

    def ready(self) -> None:
        from . import receivers  # noqa: F401  (the template cache forgets edited CommunicationTemplates)
