"""Communication templates: a sandbox of named placeholders over Django's template engine.

Managers edit the templates in the admin. What they can write is deliberately
small: text and ``{{ placeholder }}`` (optionally through a few harmless
filters such as ``|upper``). The engine is a separate ``django.template.Engine``
whose only built-in library is the one below, so ``{% load %}``, ``{% debug %}``,
``{% include %}`` and every other tag fail to parse; the context holds plain
strings only, so there is nothing to traverse (``{{ ticket.requester.password }}``
is refused on save, and would find nothing if it were not). An unknown
placeholder is a ``ValidationError`` when the template is saved, never a blank
in a sent mail.

The HTML part is autoescaped (customer-controlled values such as the subject
or the name cannot inject markup); the text part is text/plain and is rendered
without HTML escaping, so "O'Brien" stays "O'Brien".
"""

from __future__ import annotations

import time as _time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.template import Context, Engine, Library, TemplateSyntaxError, defaultfilters
from django.template.base import TextNode, Variable, VariableNode
from django.utils.html import linebreaks

from tickets.models import Message, Ticket

from . import sla

# The library the sandbox engine loads as its only builtin: filters that format a string, nothing else.
register = Library()
for _name in ("upper", "lower", "title", "capfirst"):
    register.filter(_name, getattr(defaultfilters, _name))


class SandboxEngine(Engine):
    """Django's Engine always adds its default tags and filters; this one has none of them."""

    default_builtins: list[str] = []


ENGINE = SandboxEngine(
    dirs=[],
    app_dirs=False,
    loaders=[],
    libraries={},
    builtins=["escalation.messages"],
    string_if_invalid="",
    autoescape=True,
)

SIREN = "\U0001f6a8"  # the seed file's mis-encoded "ðŸš¨"

COMMON = {"ticket_reference", "ticket_subject", "ticket_url", "priority", "service", "functionality"}
PLACEHOLDERS: dict[str, frozenset[str]] = {
    "acknowledgment": frozenset(
        COMMON | {"customer_name", "status", "expected_resolution", "update_frequency", "next_update"}
    ),
    "resolution": frozenset(COMMON | {"customer_name", "resolved_at", "what_happened", "resolution", "prevention"}),
    "incident_declaration": frozenset(
        COMMON | {"title", "impact", "started_at", "assigned", "war_room", "actions", "status", "next_update"}
    ),
}

# The procedures document's templates, [Placeholders] turned into named variables.
SEED: dict[str, tuple[str, str]] = {
    "acknowledgment": (
        "We're investigating an issue with {{ service }}",
        "Dear {{ customer_name }},\n\n"
        "We're aware of an issue affecting {{ functionality }} and are actively working to resolve it.\n\n"
        "Current Status: {{ status }}\n"
        "Expected Resolution: {{ expected_resolution }}\n"
        "Updates: We'll provide updates every {{ update_frequency }}\n\n"
        "We apologize for any inconvenience and appreciate your patience.\n\n"
        "Best regards,\n"
        "SofaCover Pro Support Team\n",
    ),
    "resolution": (
        "Issue Resolved - {{ service }} is now working normally",
        "Dear {{ customer_name }},\n\n"
        "The issue affecting {{ functionality }} has been resolved as of {{ resolved_at }}.\n\n"
        "What happened: {{ what_happened }}\n"
        "Resolution: {{ resolution }}\n"
        "Prevention: {{ prevention }}\n\n"
        "If you continue to experience issues, please don't hesitate to contact us.\n\n"
        "Best regards,\n"
        "SofaCover Pro Support Team\n",
    ),
    "incident_declaration": (
        SIREN + " INCIDENT DECLARED - {{ priority }}: {{ title }}",
        SIREN + " INCIDENT DECLARED - {{ priority }}\n\n"
        "Title: {{ title }}\n"
        "Impact: {{ impact }}\n"
        "Started: {{ started_at }}\n"
        "Assigned: {{ assigned }}\n"
        "War Room: {{ war_room }}\n\n"
        "Current Actions:\n"
        "{{ actions }}\n\n"
        "Next Update: {{ next_update }}\n",
    ),
}

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


# --- validation -------------------------------------------------------------------


@lru_cache(maxsize=128)
def compile_source(source: str):
    """Parse once per distinct text: compiled templates are immutable and safe to share."""
    return ENGINE.from_string(source)


@lru_cache(maxsize=256)
def _problems(source: str, allowed: frozenset[str], field: str) -> tuple[str, ...]:
    return tuple(check_source(source, allowed, field=field))


def check_source(source: str, allowed: frozenset[str], *, field: str) -> list[str]:
    """Problems with one template text: tags, unknown or dotted placeholders, variable filter arguments."""
    try:
        template = compile_source(source)
    except TemplateSyntaxError as exc:
        return [f"{field}: only {{{{ placeholders }}}} are allowed, no template tags ({exc})."]
    problems = []
    for node in template.nodelist:
        if isinstance(node, TextNode):
            continue
        if not isinstance(node, VariableNode):
            problems.append(f"{field}: template tags are not allowed.")
            continue
        expression = node.filter_expression
        var = expression.var
        name = getattr(var, "var", var)
        if not isinstance(var, Variable) or var.lookups is None or len(var.lookups) != 1 or name not in allowed:
            problems.append(f"{field}: unknown placeholder {{{{ {name} }}}}; use one of {', '.join(sorted(allowed))}.")
        for _, args in expression.filters:
            if any(lookup for lookup, _ in args):
                problems.append(f"{field}: filter arguments must be plain values.")
    return problems


def validate_template(template) -> None:
    """Model and admin-form validation of a CommunicationTemplate.

    :raises ValidationError: an unknown placeholder, a dotted lookup or any template tag
    """
    allowed = PLACEHOLDERS.get(template.key)
    if allowed is None:
        raise ValidationError({"key": "Unknown template."})
    errors: dict[str, list[str]] = {}
    for field in ("subject", "body_text", "body_html"):
        problems = list(_problems(getattr(template, field) or "", allowed, field))
        if problems:
            errors[field] = problems
    if errors:
        raise ValidationError(errors)


# --- rendering ---------------------------------------------------------------------


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


def _plain(value: object) -> str:
    """A plain ``str``: never a SafeString that would skip escaping, never an object to traverse."""
    return "".join((str(value),))


def render_source(source: str, context: Mapping[str, str], *, html: bool) -> str:
    template = compile_source(source)
    return template.render(Context({key: _plain(value) for key, value in context.items()}, autoescape=html))


TEMPLATE_TTL_SECONDS = 30.0
_templates: dict[str, tuple[float, object]] = {}


def template_for(key: str):
    """The stored template for ``key``, re-read at most every TEMPLATE_TTL_SECONDS.

    Every new ticket renders the acknowledgment; saving or deleting a template
    calls templates_forget() in that process (other processes follow within the TTL).
    """
    cached = _templates.get(key)
    if cached is not None and _time.monotonic() - cached[0] <= TEMPLATE_TTL_SECONDS:
        return cached[1]
    from .outbox_models import CommunicationTemplate

    stored = CommunicationTemplate.objects.filter(key=key).first()
    if stored is None:  # deleted by hand: fall back to the procedures document's text
        subject, text = SEED[key]
        stored = CommunicationTemplate(key=key, subject=subject, body_text=text)
    _templates[key] = (_time.monotonic(), stored)
    return stored


def templates_forget() -> None:
    _templates.clear()


def render(template, context: Mapping[str, str]) -> Rendered:
    """Render a template with exactly its placeholders; refuses to render one that fails validation."""
    allowed = PLACEHOLDERS[template.key]
    missing = allowed - set(context)
    if missing:
        raise ValueError(f"context for {template.key} lacks {sorted(missing)}")
    validate_template(template)
    context = {key: value for key, value in context.items() if key in allowed}
    subject = " ".join(render_source(template.subject, context, html=False).split())
    text = render_source(template.body_text, context, html=False)
    if template.body_html:
        html = render_source(template.body_html, context, html=True)
    else:
        html = linebreaks(render_source(template.body_text, context, html=True))
    return Rendered(subject=subject[:300], text=text, html=html)


# --- what the placeholders say about a ticket -------------------------------------------


def when(value: datetime | None, *, missing: str = "to be confirmed") -> str:
    if value is None:
        return missing
    local = value.astimezone(ZoneInfo(settings.TIME_ZONE))
    return f"{local:%a} {local.day} {local:%b %Y, %H:%M %Z}"


def every(update: sla.Span | None) -> str:
    if update is None:
        return "business day"
    if isinstance(update, sla.BusinessDays):
        return "business day" if update.days == 1 else f"{update.days} business days"
    minutes = int(update.total_seconds() // 60)
    if minutes % 60 == 0:
        hours = minutes // 60
        return "hour" if hours == 1 else f"{hours} hours"
    return "minute" if minutes == 1 else f"{minutes} minutes"


def _update_target(ticket: Ticket) -> tuple[sla.Span | None, sla.Calendar]:
    from . import selectors

    entry = selectors.policy_book().entry(ticket.priority)
    return (entry.targets.update, entry.calendar) if entry else (None, sla.ALWAYS)


def _next_update(update: sla.Span | None, calendar: sla.Calendar, now: datetime) -> str:
    """When the next update is due if the clock runs from ``now`` (on the policy's calendar)."""
    due = sla.add(calendar, now, update) if update is not None else None
    return when(due) if due is not None else "within one business day"


def _common(ticket: Ticket) -> dict[str, str]:
    return {
        "ticket_reference": ticket.reference or "",
        "ticket_subject": ticket.subject,
        "ticket_url": f"{settings.DESK_BASE_URL.rstrip('/')}/tickets/{ticket.reference}/",
        "priority": ticket.priority,
        "service": SERVICES.get(ticket.category, "SofaCover Pro"),
        "functionality": ticket.subject,
    }


def customer_name(ticket: Ticket) -> str:
    requester = ticket.requester
    return requester.get_full_name() or requester.first_name or requester.email or "customer"


def acknowledgment_context(ticket: Ticket, *, now: datetime) -> dict[str, str]:
    update, calendar = _update_target(ticket)
    return {
        **_common(ticket),
        "customer_name": customer_name(ticket),
        "status": STATUS_PHRASES.get(ticket.status, ticket.get_status_display()),
        "expected_resolution": when(ticket.resolution_due_at, missing="as soon as possible"),
        "update_frequency": every(update),
        "next_update": _next_update(update, calendar, now),
    }


def resolution_context(ticket: Ticket, *, now: datetime) -> dict[str, str]:
    last_reply = (
        Message.objects.filter(ticket=ticket, internal=False, by_agent=True).order_by("-created_at", "-id").first()
    )
    return {
        **_common(ticket),
        "customer_name": customer_name(ticket),
        "resolved_at": when(ticket.resolved_at or now),
        "what_happened": ticket.subject,
        "resolution": (last_reply.body[:1000] if last_reply else "Our support team has resolved the issue."),
        "prevention": "Our team reviews every resolved issue so that it does not happen again.",
    }


def declaration_context(ticket: Ticket, *, now: datetime) -> dict[str, str]:
    update, calendar = _update_target(ticket)
    assignee = ticket.assignee
    return {
        **_common(ticket),
        "title": ticket.subject,
        "impact": f"{SERVICES.get(ticket.category, 'SofaCover Pro')} ({ticket.get_category_display()})",
        "started_at": when(ticket.created_at),
        "assigned": (assignee.get_full_name() or assignee.email) if assignee else f"Tier {ticket.tier} on call",
        "war_room": getattr(settings, "NOTIFY_WAR_ROOM", "#support-critical"),
        "actions": f"- Tier {ticket.tier} triage and first response\n- Updates on {_common(ticket)['ticket_url']}",
        "status": STATUS_PHRASES.get(ticket.status, ticket.get_status_display()),
        "next_update": _next_update(update, calendar, now),
    }


CONTEXTS = {
    "acknowledgment": acknowledgment_context,
    "resolution": resolution_context,
    "incident_declaration": declaration_context,
}


def render_for_ticket(key: str, ticket: Ticket, *, now: datetime) -> Rendered:
    return render(template_for(key), CONTEXTS[key](ticket, now=now))
