from django.apps import AppConfig
from django.utils.translation import gettext_lazy


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = gettext_lazy("Notifications")

    def ready(self) -> None:
        from . import receivers  # noqa: F401  (the template cache forgets edited CommunicationTemplates)
