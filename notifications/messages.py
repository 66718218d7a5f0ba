"""Communication templates: the acknowledgment, the resolution notice and the incident declaration.

Managers edit the templates in the admin. What they can write is deliberately
small: text and ``{{ placeholder }}`` (optionally through a few harmless
filters such as ``|upper``), parsed and rendered by the desk's one placeholder
sandbox (tickets/placeholders.py: no template tags, no dotted lookups, plain
string values). An unknown placeholder is a ``ValidationError`` when the
template is saved, never a blank in a sent mail.

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

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.html import linebreaks

from escalation import selectors as sla_selectors
from escalation import sla
from tickets import placeholders
from tickets.models import Message, Ticket

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


# --- validation -------------------------------------------------------------------


@lru_cache(maxsize=256)
def _problems(source: str, allowed: frozenset[str], field: str) -> tuple[str, ...]:
    return tuple(check_source(source, allowed, field=field))


def check_source(source: str, allowed: frozenset[str], *, field: str) -> list[str]:
    """Problems with one template text: tags, unknown or dotted placeholders, variable filter arguments."""
    return [f"{field}: {problem}" for problem in placeholders.source_problems(source, allowed, filters=True)]


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


def render_source(source: str, context: Mapping[str, str], *, html: bool) -> str:
    return placeholders.render(source, context, html=html)


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
    from .models import CommunicationTemplate

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


when = placeholders.when


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
    entry = sla_selectors.policy_book().entry(ticket.priority)
    return (entry.targets.update, entry.calendar) if entry else (None, sla.ALWAYS)


def _next_update(update: sla.Span | None, calendar: sla.Calendar, now: datetime) -> str:
    """When the next update is due if the clock runs from ``now`` (on the policy's calendar)."""
    due = sla.add(calendar, now, update) if update is not None else None
    return when(due) if due is not None else "within one business day"


def _common(ticket: Ticket) -> dict[str, str]:
    values = placeholders.ticket_values(ticket)
    return {
        "ticket_reference": values["ticket_reference"],
        "ticket_subject": values["ticket_subject"],
        "ticket_url": values["ticket_url"],
        "priority": ticket.priority,
        "service": values["service"],
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
        "status": placeholders.status_phrase(ticket),
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
        "impact": f"{placeholders.service(ticket)} ({ticket.get_category_display()})",
        "started_at": when(ticket.created_at),
        "assigned": (assignee.get_full_name() or assignee.email) if assignee else f"Tier {ticket.tier} on call",
        "war_room": getattr(settings, "NOTIFY_WAR_ROOM", "#support-critical"),
        "actions": f"- Tier {ticket.tier} triage and first response\n- Updates on {_common(ticket)['ticket_url']}",
        "status": placeholders.status_phrase(ticket),
        "next_update": _next_update(update, calendar, now),
    }


CONTEXTS = {
    "acknowledgment": acknowledgment_context,
    "resolution": resolution_context,
    "incident_declaration": declaration_context,
}


def render_for_ticket(key: str, ticket: Ticket, *, now: datetime) -> Rendered:
    return render(template_for(key), CONTEXTS[key](ticket, now=now))
