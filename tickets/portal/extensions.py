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


# The ticket form: other apps suggest answers for the subject being typed (the knowledge base's
# deflection) and hear when the form filed a ticket. ``SUBJECT_SUGGESTERS`` holds callables
# ``(request, subject) -> HTML or None``, rendered outside the ticket <form> on every render of the
# form (``subject`` may be empty, so a panel can offer its own progressive enhancement); with any
# registered, the form shows a "Check for answers" button that re-renders it with the suggestions
# (the path without JavaScript). ``TICKET_FILED`` holds callables ``(request, ticket) -> None``
# called after the portal filed a ticket.
SubjectSuggester = Callable[[HttpRequest, str], str | None]
SUBJECT_SUGGESTERS: list[SubjectSuggester] = []
TicketFiled = Callable[[HttpRequest, Ticket], None]
TICKET_FILED: list[TicketFiled] = []


def subject_suggestions_render(request: HttpRequest, subject: str) -> list[str]:
    """Every registered suggester's HTML for this draft subject, skipping those with nothing to show."""
    rendered = (suggester(request, subject) for suggester in SUBJECT_SUGGESTERS)
    return [html for html in rendered if html]


def ticket_filed_notify(request: HttpRequest, ticket: Ticket) -> None:
    for hook in TICKET_FILED:
        hook(request, ticket)
