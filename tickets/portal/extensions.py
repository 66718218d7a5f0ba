"""Extension points of the customer portal, filled by other apps (tickets imports none of them).

``TICKET_PANELS`` holds callables ``(request, ticket) -> HTML or None``, rendered in
order on the customer's ticket page below the ticket facts. A panel returns the
output of ``render_to_string`` (a SafeString) or None to show nothing; a plain
``str`` is escaped like any other value.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest

from tickets.models import Ticket

TicketPanel = Callable[[HttpRequest, Ticket], str | None]
TICKET_PANELS: list[TicketPanel] = []


def ticket_panels_render(request: HttpRequest, ticket: Ticket) -> list[str]:
    """Every registered panel's HTML for this ticket, skipping those with nothing to show."""
    rendered = (panel(request, ticket) for panel in TICKET_PANELS)
    return [html for html in rendered if html]
