"""Response templates: an agent's canned reply, with named placeholders filled for a ticket.

What an agent may write is text and ``{{ placeholder }}`` with a name from
PLACEHOLDERS: the same names as the escalation notification templates. It is
parsed and rendered by the desk's one placeholder sandbox
(tickets/placeholders.py: no template tags, no dotted lookups, plain string
values); a response template takes no filters either.

The result is markdown (a reply body); it is rendered and sanitised wherever
it is shown, so it is produced without HTML escaping ("O'Brien" stays
"O'Brien").
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.text import capfirst

from tickets import placeholders
from tickets.models import Ticket

PLACEHOLDERS: frozenset[str] = frozenset(
    {
        "customer_name",
        "ticket_reference",
        "ticket_subject",
        "ticket_url",
        "service",
        "status",
        "expected_resolution",
        "next_update",
    }
)


def template_problems(source: str) -> list[str]:
    """Everything wrong with a template body: tags, filters, unknown or dotted placeholders."""
    return [capfirst(problem) for problem in placeholders.source_problems(source, PLACEHOLDERS, filters=False)]


def validate_template_source(source: str, *, field: str = "body") -> None:
    """:raises ValidationError: keyed by ``field`` when the source is not a clean placeholder template"""
    problems = template_problems(source)
    if problems:
        raise ValidationError({field: problems})


def _when(value: datetime | None, *, missing: str) -> str:
    if value is None:
        return missing
    return value.astimezone(ZoneInfo(settings.TIME_ZONE)).strftime("%d %b %Y %H:%M %Z")


def ticket_context(ticket: Ticket) -> dict[str, str]:
    """The placeholder values for one ticket: plain strings, nothing to traverse."""
    requester = ticket.requester
    name = (requester.get_full_name() or requester.first_name or "").strip() or "there"
    return {
        **placeholders.ticket_values(ticket),
        "customer_name": name,
        "expected_resolution": _when(ticket.resolution_due_at, missing="to be confirmed"),
        "next_update": _when(ticket.next_update_due_at, missing="as soon as we know more"),
    }


def render_source(source: str, values: Mapping[str, str]) -> str:
    """Fill a *validated* template with plain string values.

    :raises ValidationError: if the source is not a clean placeholder template
    """
    validate_template_source(source)
    context = {key: str(values.get(key, "")) for key in PLACEHOLDERS}
    return placeholders.render(source, context, html=False)
