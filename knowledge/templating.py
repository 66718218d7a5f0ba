"""Response templates: a sandbox of named placeholders over a separate Django template engine.

What an agent may write is text and ``{{ placeholder }}`` with a name from
PLACEHOLDERS: the same names as the escalation notification templates. The
engine below has *no* libraries at all (not even Django's default tags and
filters), so ``{% load %}``, ``{% debug %}``, ``{% include %}`` and filters fail
to parse; the validator also walks the parsed nodes and refuses anything that
is not text or a known, undotted variable. The context holds plain strings
only, so there is nothing to traverse.

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
from django.template import Context, Engine, TemplateSyntaxError
from django.template.base import TextNode, Variable, VariableNode

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

SERVICES = {
    Ticket.Category.SITE_PERFORMANCE: "the SofaCover Pro website",
    Ticket.Category.AUTHENTICATION: "signing in",
    Ticket.Category.PAYMENT: "payments",
    Ticket.Category.DATABASE: "SofaCover Pro",
    Ticket.Category.ORDERS: "order processing",
    Ticket.Category.OTHER: "SofaCover Pro",
}
STATUS_PHRASES = {
    Ticket.Status.NEW: "Received; our team is triaging it",
    Ticket.Status.OPEN: "Under investigation",
    Ticket.Status.PENDING_CUSTOMER: "Waiting for your reply",
    Ticket.Status.RESOLVED: "Resolved",
    Ticket.Status.CLOSED: "Closed",
}


class _SandboxEngine(Engine):
    # Engine always prepends default_builtins (defaulttags, defaultfilters,
    # loader_tags); the sandbox has none, so every tag and filter is a syntax error.
    default_builtins: list[str] = []


ENGINE = _SandboxEngine(
    dirs=[], app_dirs=False, loaders=[], libraries={}, string_if_invalid="", autoescape=False, debug=False
)


def template_problems(source: str) -> list[str]:
    """Everything wrong with a template body: tags, filters, unknown or dotted placeholders."""
    if "{%" in source:
        return ["Template tags ({% … %}) are not allowed; use {{ placeholders }} only."]
    try:
        template = ENGINE.from_string(source)
    except TemplateSyntaxError as exc:
        return [f"Only {{{{ placeholders }}}} are allowed ({exc})."]
    allowed = ", ".join(sorted(PLACEHOLDERS))
    problems: list[str] = []
    for node in template.nodelist:
        if isinstance(node, TextNode):
            continue
        if not isinstance(node, VariableNode):
            problems.append("Template tags are not allowed.")
            continue
        expression = node.filter_expression
        var = expression.var
        name = getattr(var, "var", var)
        if expression.filters:
            problems.append(f"Filters are not allowed in {{{{ {name} }}}}.")
        if not isinstance(var, Variable) or var.lookups is None or len(var.lookups) != 1 or name not in PLACEHOLDERS:
            problems.append(f"Unknown placeholder {{{{ {name} }}}}; use one of {allowed}.")
    return problems


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
        "customer_name": name,
        "ticket_reference": ticket.reference or "",
        "ticket_subject": ticket.subject,
        "ticket_url": f"{settings.DESK_BASE_URL.rstrip('/')}/tickets/{ticket.reference}/",
        "service": SERVICES.get(ticket.category, "SofaCover Pro"),
        "status": STATUS_PHRASES.get(ticket.status, ticket.get_status_display()),
        "expected_resolution": _when(ticket.resolution_due_at, missing="to be confirmed"),
        "next_update": _when(ticket.next_update_due_at, missing="as soon as we know more"),
    }


def render_source(source: str, values: Mapping[str, str]) -> str:
    """Fill a *validated* template with plain string values.

    :raises ValidationError: if the source is not a clean placeholder template
    """
    validate_template_source(source)
    context = {key: str(values.get(key, "")) for key in PLACEHOLDERS}
    return ENGINE.from_string(source).render(Context(context, autoescape=False))
