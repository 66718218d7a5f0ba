"""Placeholder templates: the one sandbox for customer-facing texts that staff write in the desk.

Managers' communication templates (the acknowledgment, the resolution notice,
the incident declaration: notifications/messages.py) and agents' response
templates (canned replies: knowledge/templating.py) are both text with
``{{ placeholder }}`` and nothing else. Both are parsed here, by a separate
``django.template.Engine`` whose only built-in library is the one below (a few
filters that format a string), so ``{% load %}``, ``{% debug %}``,
``{% include %}`` and every other tag fail to parse. ``source_problems`` walks
the parsed nodes and refuses anything that is not text or a known, undotted
placeholder. Values are plain strings, so there is nothing to traverse
(``{{ ticket.requester.password }}`` is refused, and would find nothing).

What a ticket's placeholders say to its customer (the service it concerns, its
status in words, its address) is written once, here, for both kinds of template.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from functools import lru_cache
from typing import ClassVar
from zoneinfo import ZoneInfo

from django.conf import settings
from django.template import Context, Engine, Library, TemplateSyntaxError, defaultfilters
from django.template.base import Template, TextNode, Variable, VariableNode

from .models import Ticket

# The engine's only builtin: filters that format a string, nothing else.
register = Library()
for _name in ("upper", "lower", "title", "capfirst"):
    register.filter(_name, getattr(defaultfilters, _name))


class SandboxEngine(Engine):
    """Django's Engine always adds its default tags and filters; this one has none of them."""

    default_builtins: ClassVar[list[str]] = []


ENGINE = SandboxEngine(
    dirs=[],
    app_dirs=False,
    loaders=[],
    libraries={},
    builtins=["tickets.placeholders"],
    string_if_invalid="",
    autoescape=True,
)


@lru_cache(maxsize=256)
def compile_source(source: str) -> Template:
    """Parse once per distinct text: compiled templates are immutable and safe to share.

    :raises TemplateSyntaxError: a tag, an unknown filter or broken braces
    """
    return ENGINE.from_string(source)


def source_problems(source: str, allowed: frozenset[str], *, filters: bool) -> list[str]:
    """What is wrong with one template text, as phrases (empty when it is clean).

    Refused: template tags, placeholders not in ``allowed``, dotted lookups,
    literals, filter arguments that are not plain values, and any filter when
    ``filters`` is false.
    """
    try:
        template = compile_source(source)
    except TemplateSyntaxError as exc:
        return [f"only {{{{ placeholders }}}} are allowed, no template tags ({exc})."]
    problems: list[str] = []
    for node in template.nodelist:
        if isinstance(node, TextNode):
            continue
        if not isinstance(node, VariableNode):
            problems.append("template tags are not allowed.")
            continue
        expression = node.filter_expression
        var = expression.var
        name = getattr(var, "var", var)
        if not isinstance(var, Variable) or var.lookups is None or len(var.lookups) != 1 or name not in allowed:
            problems.append(f"unknown placeholder {{{{ {name} }}}}; use one of {', '.join(sorted(allowed))}.")
        if expression.filters and not filters:
            problems.append(f"filters are not allowed in {{{{ {name} }}}}.")
        for _, args in expression.filters:
            if any(lookup for lookup, _ in args):
                problems.append("filter arguments must be plain values.")
    return problems


def _plain(value: object) -> str:
    """A plain ``str``: never a SafeString that would skip escaping, never an object to traverse."""
    return "".join((str(value),))


def render(source: str, values: Mapping[str, object], *, html: bool) -> str:
    """Fill a template text the caller has checked with ``source_problems``.

    ``html``: escape the values (an HTML part); otherwise they go in as they are
    ("O'Brien" stays "O'Brien": a text/plain part, or markdown sanitised where it is shown).
    """
    context = Context({key: _plain(value) for key, value in values.items()}, autoescape=html)
    return compile_source(source).render(context)


# --- what a ticket's placeholders say to its customer --------------------------------------

SERVICES: dict[str, str] = {
    Ticket.Category.SITE_PERFORMANCE: "the SofaCover Pro website",
    Ticket.Category.AUTHENTICATION: "signing in",
    Ticket.Category.PAYMENT: "payments",
    Ticket.Category.DATABASE: "SofaCover Pro",
    Ticket.Category.ORDERS: "order processing",
    Ticket.Category.OTHER: "SofaCover Pro",
}
STATUS_PHRASES: dict[str, str] = {
    Ticket.Status.NEW: "Received; our team is triaging it",
    Ticket.Status.OPEN: "Under investigation",
    Ticket.Status.PENDING_CUSTOMER: "Waiting for your reply",
    Ticket.Status.RESOLVED: "Resolved",
    Ticket.Status.CLOSED: "Closed",
}


def when(value: datetime | None, *, missing: str = "to be confirmed") -> str:
    """A moment as mail and messages to people say it: ``Mon 2 Mar 2026, 09:15 GMT`` in the desk's zone."""
    if value is None:
        return missing
    local = value.astimezone(ZoneInfo(settings.TIME_ZONE))
    return f"{local:%a} {local.day} {local:%b %Y, %H:%M %Z}"


def service(ticket: Ticket) -> str:
    """The part of the shop a ticket is about, as the customer would say it."""
    return SERVICES.get(ticket.category, "SofaCover Pro")


def status_phrase(ticket: Ticket) -> str:
    return STATUS_PHRASES.get(ticket.status, ticket.get_status_display())


def ticket_values(ticket: Ticket) -> dict[str, str]:
    """The placeholders every template about a ticket offers."""
    return {
        "ticket_reference": ticket.reference or "",
        "ticket_subject": ticket.subject,
        "ticket_url": f"{settings.DESK_BASE_URL.rstrip('/')}/tickets/{ticket.reference}/",
        "service": service(ticket),
        "status": status_phrase(ticket),
    }
