from django.apps import AppConfig


class KnowledgeConfig(AppConfig):
    name = "knowledge"
    verbose_name = "Knowledge base"

    def ready(self) -> None:
        from . import receivers  # noqa: F401  (connects to tickets' signals)
        from .portal.hooks import register  # the help centre and console in tickets' extension points

        register()
