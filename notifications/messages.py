"""Communication templates and the mail they make.

The ticket acknowledgment (reference, link, when to expect a first response) and the
ticket resolution notice (the resolving agent's note), the incident acknowledgment and
resolution bulletins, and the internal incident declaration; and an agent's reply as
the requester and CCs receive it (``reply_mail``).

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
from django.template.defaultfilters import filesizeformat
from django.utils.html import format_html, format_html_join, linebreaks
from django.utils.safestring import SafeString, mark_safe

from accounts import permissions as roles
from escalation import selectors as sla_selectors
from escalation import sla
from tickets import placeholders
from tickets.models import Message, Ticket

from . import links

SIREN = "\U0001f6a8"  # the seed file's mis-encoded "ðŸš¨"

COMMON = {"ticket_reference", "ticket_subject", "ticket_url", "priority", "service", "functionality"}
PLACEHOLDERS: dict[str, frozenset[str]] = {
    "ticket_acknowledgment": frozenset(
        COMMON | {"customer_name", "status", "expected_first_response", "first_response_target", "expected_resolution"}
    ),
    "ticket_resolution": frozenset(COMMON | {"customer_name", "resolved_at", "resolution"}),
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
    # A ticket's own mail; the [SCP-000042] tag is put in front of the subject when it is queued.
    "ticket_acknowledgment": (
        "We have received your request: {{ ticket_subject }}",
        "Dear {{ customer_name }},\n\n"
        "Thank you for contacting SofaCover Pro support. Your request \u201c{{ ticket_subject }}\u201d is logged as "
        "{{ ticket_reference }} (priority {{ priority }}).\n\n"
        "You can expect a first response by {{ expected_first_response }} "
        "(within {{ first_response_target }}), and we aim to resolve it by {{ expected_resolution }}.\n\n"
        "To add anything, reply to this email or visit {{ ticket_url }}.\n\n"
        "Best regards,\n"
        "SofaCover Pro Support Team\n",
    ),
    "ticket_resolution": (
        "Resolved: {{ ticket_subject }}",
        "Dear {{ customer_name }},\n\n"
        "Your request {{ ticket_reference }} was resolved on {{ resolved_at }}.\n\n"
        "Resolution: {{ resolution }}\n\n"
        "If this does not solve it, reply to this email or reopen the request at {{ ticket_url }}.\n\n"
        "Best regards,\n"
        "SofaCover Pro Support Team\n",
    ),
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


def ticket_acknowledgment_context(ticket: Ticket, *, now: datetime) -> dict[str, str]:
    """A ticket's acknowledgment: its reference and link, and the first response the SLA promises."""
    entry = sla_selectors.policy_book().entry(ticket.priority)
    return {
        **_common(ticket),
        "customer_name": customer_name(ticket),
        "status": placeholders.status_phrase(ticket),
        "expected_first_response": when(ticket.first_response_due_at, missing="as soon as possible"),
        "first_response_target": entry.policy.first_response_text if entry else "our published targets",
        "expected_resolution": when(ticket.resolution_due_at, missing="as soon as possible"),
    }


def ticket_resolution_context(ticket: Ticket, *, now: datetime) -> dict[str, str]:
    """A ticket's resolution notice: the note the resolving agent wrote for the customer."""
    return {
        **_common(ticket),
        "customer_name": customer_name(ticket),
        "resolved_at": when(ticket.resolved_at or now),
        "resolution": ticket.resolution_note or "Our support team has resolved your request.",
    }


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
    "ticket_acknowledgment": ticket_acknowledgment_context,
    "ticket_resolution": ticket_resolution_context,
    "acknowledgment": acknowledgment_context,
    "resolution": resolution_context,
    "incident_declaration": declaration_context,
}


def render_for_ticket(key: str, ticket: Ticket, *, now: datetime) -> Rendered:
    return render(template_for(key), CONTEXTS[key](ticket, now=now))


# --- an agent's reply, as mail ---------------------------------------------------------------------


def paragraphs(text: str) -> SafeString:
    """Plain text (a reply, an update) as the HTML part's paragraphs: its own characters escaped, the
    ``<p>``/``<br>`` that break it real. Safe, so format_html puts it in as markup; django.utils.html's
    ``linebreaks`` returns a plain str, which format_html would escape a second time (``&lt;p&gt;``)."""
    return mark_safe(linebreaks(text, autoescape=True))  # safe: linebreaks escaped the text


@dataclass(frozen=True)
class ReplyMail:
    subject: str
    text: str
    html: str
    attach: list[str]  # uuids (hex) of the attachments that travel with the mail


def reply_mail(message: Message, *, now: datetime) -> ReplyMail:
    """An agent's public reply as its recipients get it: the words, signed as the portal signs
    them (a first name, never an address), the reply's attachments up to the size cap and
    links (signed, expiring) to the rest, and the ticket's reference and address."""
    ticket = message.ticket
    signature = message.author.first_name or roles.SUPPORT_TEAM
    attach: list[str] = []
    linked: list[tuple[str, str, str]] = []  # name, size, link
    room = settings.NOTIFY_EMAIL_ATTACHMENTS_MAX_BYTES
    for attachment in message.attachments.order_by("id"):
        if attachment.size <= room:
            attach.append(attachment.uuid.hex)
            room -= attachment.size
        else:
            link = links.attachment_link(attachment, now=now)
            linked.append((attachment.filename, filesizeformat(attachment.size), link))
    url = _common(ticket)["ticket_url"]
    days = settings.NOTIFY_ATTACHMENT_LINK_MAX_AGE.days
    too_large = f"Too large to attach (the links work for {days} days):"
    footer = f"{ticket.reference}: {url}\nReply to this email to answer."
    text = message.body.rstrip()
    if linked:
        text += f"\n\n{too_large}\n" + "\n".join(f"- {name} ({size}): {link}" for name, size, link in linked)
    text += f"\n\n{signature}\nSofaCover Pro Support\n\n-- \n{footer}\n"
    listed = format_html_join("", '<li><a href="{}">{}</a> ({})</li>', ((lk, n, z) for n, z, lk in linked))
    html = format_html(
        "{}{}<p>{}<br>SofaCover Pro Support</p>"
        '<p style="color:#666;font-size:small">{}: <a href="{}">{}</a><br>Reply to this email to answer.</p>',
        paragraphs(message.body.rstrip()),
        format_html("<p>{}</p><ul>{}</ul>", too_large, listed) if linked else "",
        signature,
        ticket.reference,
        url,
        url,
    )
    return ReplyMail(subject=f"Re: [{ticket.reference}] {ticket.subject}", text=text, html=html, attach=attach)
