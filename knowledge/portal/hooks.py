"""Knowledge's entries in tickets' extension points (tickets never imports knowledge). Called from ready()."""

from __future__ import annotations


def register() -> None:
    from tickets import admin as ticket_admin
    from tickets.api import views as ticket_api
    from tickets.portal import extensions as ticket_portal

    from .. import console
    from . import views

    for hooks, hook in (
        (ticket_admin.CONSOLE_PANELS, console.console_panel),
        (ticket_portal.SUBJECT_SUGGESTERS, views.suggestions_render),
        (ticket_portal.TICKET_FILED, views.ticket_filed),
    ):
        if hook not in hooks:
            hooks.append(hook)
    ticket_api.MESSAGE_TEMPLATE_RENDERER = console.render_template_for_message
