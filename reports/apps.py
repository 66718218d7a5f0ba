from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "reports"
    verbose_name = "Reports and satisfaction"

    def ready(self) -> None:
        from . import receivers  # noqa: F401  (the survey on resolve listens to tickets' signal)

        try:
            from tickets.portal.extensions import TICKET_PANELS
        except ImportError:  # the portal without the panel hook: no prompt on the ticket page
            return
        from tickets.portal.survey import rating_panel

        if rating_panel not in TICKET_PANELS:
            TICKET_PANELS.append(rating_panel)
