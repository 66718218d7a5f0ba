"""Who hears about an incident: the outbox rows of each step of its life, in the use case's transaction.

- Declared: the procedures' Incident Declaration with every field filled (severity, title, impact
  with the user count, started, assigned = the commander, war room, current actions, next update)
  to the Slack channel of the severity's alert route (#support-critical for P0/P1,
  #support-general for P2/P3; posted whatever the route's own Slack switch says) and in one mail
  to the escalation list (``INCIDENT_ESCALATION_EMAIL``), not to each manager. A public incident's
  first update also goes to the status page's subscribers.
- Linked tickets: their customers (each requester, and everyone on the ticket's CC list) get the
  Incident Acknowledgment once per incident and address. A customer with three tickets linked
  hears once, in the thread of the ticket linked first; a ticket unlinked and linked again, or
  a second ticket of someone already told, sends nothing new.
- An update: the Slack channel, every update (an internal note says so). A public update also
  reaches the linked tickets' customers (one mail per address, in the thread of their ticket)
  and, when the incident is on the status page, every active subscriber who is not already one
  of those customers, with a one-click unsubscribe link (and a ``List-Unsubscribe`` header).
- Resolved: the Slack channel; the subscribers get the resolution as the status page's last
  update; the linked tickets' customers get the Resolution Notification (time, what happened,
  resolution, prevention) once per incident and address. It replaces the ordinary ticket
  resolution notice: the use case sends none for the tickets that resolve with the incident.
- An update coming due: the commander (dashboard and email) and the Slack channel, once per due time.

A broadcast is built as rows and written together (``services._write``): linking 10,000 tickets
is one existence check and one INSERT (COPY on PostgreSQL), not 10,000. Mail to a linked
customer threads under its ticket's root (``References`` is the root alone: finding each
recipient's earlier mail would cost a query per recipient).

Customers and subscribers see only what the desk shows the public (title, status, public
updates, component names) and what the commander wrote for them (functionality, expected
resolution, what happened, resolution, prevention); impact, war room, the commander and
internal notes reach the desk only.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.contrib.auth.models import User
from django.template.base import VariableNode
from django.utils.html import escape, format_html, linebreaks

from escalation import selectors as sla_selectors
from incidents import selectors as incident_selectors
from incidents.models import Incident, IncidentEvent, IncidentTicket
from tickets import placeholders
from tickets import selectors as ticket_selectors
from tickets.models import Ticket

from . import messages
from .models import AlertRoute, Notification
from .services import OutboxRow, _row, _slack_text, _write

Channel = Notification.Channel
Kind = Notification.Kind
when = messages.when
# Where a severity's declaration goes when its alert route names no channel (the procedures' split).
SLACK_FALLBACK = {"P0": "#support-critical", "P1": "#support-critical", "P2": "#support-general"}
SIGNATURE = "Best regards,\nSofaCover Pro Support Team\n"


# --- where --------------------------------------------------------------------------------------


def slack_channel_for(severity: str) -> str:
    """The Slack channel of the severity's alert route (seeded: #support-critical P0/P1, #support-general P2/P3)."""
    route = AlertRoute.objects.select_related("slack_channel").filter(priority=severity).first()
    if route is not None and route.slack_channel is not None:
        return route.slack_channel.name
    return SLACK_FALLBACK.get(severity, "#support-general")


def console_link(incident: Incident) -> str:
    return f"{settings.DESK_BASE_URL.rstrip('/')}/admin/incidents/incident/{incident.pk}/change/"


def status_page_link() -> str:
    return f"{settings.DESK_BASE_URL.rstrip('/')}/status/"


def unsubscribe_link(token: object) -> str:
    """The subscriber's one-click unsubscribe (the status page's view, ``/status/unsubscribe/<token>/``)."""
    return f"{settings.DESK_BASE_URL.rstrip('/')}/status/unsubscribe/{token}/"


def _address_key(address: str) -> str:
    """An address as part of a dedupe key (at most 200 characters in all): long ones hashed."""
    address = address.strip().lower()
    return address if len(address) <= 120 else hashlib.sha256(address.encode()).hexdigest()[:40]


# --- who: the customers of linked tickets ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Recipient:
    address: str
    user: User | None  # the requester; None for someone on the CC list
    ticket: Ticket  # whose thread the mail follows


def linked_recipients(links: Sequence[IncidentTicket]) -> list[Recipient]:
    """Each address once: every linked ticket's requester and CC list, in the order the tickets were
    linked, so an address's mail threads in the first of its tickets. Links need ``ticket__requester``
    loaded (incidents.selectors.links_to_tell); the CC lists are read in one query."""
    return _recipients(links)[0]


def _recipients(links: Sequence[IncidentTicket]) -> tuple[list[Recipient], set[int]]:
    """The recipients, and the ids of the tickets that have someone to tell (an address)."""
    ccs = ticket_selectors.cc_addresses(ticket_ids=[link.ticket_id for link in links])
    found: dict[str, Recipient] = {}
    reachable: set[int] = set()
    for link in links:
        ticket = link.ticket
        requester = ticket.requester
        if requester.email:
            found.setdefault(requester.email.lower(), Recipient(requester.email, requester, ticket))
            reachable.add(ticket.pk)
        for address in ccs.get(ticket.pk, ()):
            found.setdefault(address.lower(), Recipient(address, None, ticket))
            reachable.add(ticket.pk)
    return list(found.values()), reachable


# --- what: the templates' values for an incident ----------------------------------------------------


def _component_names(incident: Incident, *, public_only: bool = True) -> list[str]:
    return [c.name for c in incident.components.all() if c.public or not public_only]


def service(incident: Incident, *, public_only: bool = True) -> str:
    """The components affected, as customers read them ("Checkout and payments"); the shop if none are named."""
    return ", ".join(_component_names(incident, public_only=public_only)) or "SofaCover Pro"


def functionality(incident: Incident) -> str:
    """The acknowledgment's [specific functionality]: the commander's words, else the components, else the title."""
    return incident.functionality or ", ".join(_component_names(incident)) or incident.title


def update_frequency(severity: str) -> str:
    """How often updates come: the severity's SLA update target ("30 minutes", "2 hours"), as tickets promise."""
    entry = sla_selectors.policy_book().entry(severity)
    return messages.every(entry.policy.update if entry else None)


def _status_text(incident: Incident, latest: IncidentEvent | None) -> str:
    label = incident.get_status_display()
    if latest is None or not latest.body:
        return label
    body = " ".join(latest.body.split())
    return f"{label}: {body if len(body) <= 500 else body[:500] + '…'}"


def _ticket_values(ticket: Ticket) -> dict[str, str]:
    return {
        "ticket_reference": ticket.reference or "",
        "ticket_subject": ticket.subject,
        "ticket_url": f"{settings.DESK_BASE_URL.rstrip('/')}/tickets/{ticket.reference}/",
        "priority": ticket.priority,
    }


def declaration_context(incident: Incident, *, now: datetime) -> dict[str, str]:
    """The Incident Declaration's fields, every one filled: what is not known yet says so."""
    commander = incident.commander
    if commander is not None:
        assigned = f"{commander.get_full_name() or commander.username} ({commander.email or commander.username})"
    else:
        assigned = "nobody yet: take command in the console"
    if incident.users_affected is not None:
        users = f"{incident.users_affected:,} user{'s' if incident.users_affected != 1 else ''} affected"
    else:
        users = "number of users affected not yet known"
    actions = [action.text for action in incident.actions.all()]
    return {
        "ticket_reference": incident.reference,
        "ticket_subject": incident.title,
        "ticket_url": console_link(incident),
        "priority": incident.severity,
        "service": service(incident, public_only=False),
        "functionality": functionality(incident),
        "title": incident.title,
        "impact": f"{incident.impact} ({users})",
        "started_at": when(incident.started_at),
        "assigned": assigned,
        "war_room": incident.war_room or f"{slack_channel_for(incident.severity)} (no war room given)",
        "actions": "\n".join(f"- {text}" for text in actions) or "- none recorded yet",
        "status": incident.get_status_display(),
        "next_update": when(incident.next_update_due_at, missing="within one business day"),
    }


def acknowledgment_values(incident: Incident) -> dict[str, str]:
    """The Incident Acknowledgment's incident fields (the same for every linked ticket)."""
    return {
        "service": service(incident),
        "functionality": functionality(incident),
        "status": _status_text(incident, incident_selectors.latest_public_update(incident)),
        "expected_resolution": incident.expected_resolution or "We will give an estimate in our next update.",
        "update_frequency": update_frequency(incident.severity),
        "next_update": when(incident.next_update_due_at, missing="within one business day"),
    }


def resolution_values(incident: Incident) -> dict[str, str]:
    """The Resolution Notification's incident fields: what the commander wrote (required for P0/P1)."""
    return {
        "service": service(incident),
        "functionality": functionality(incident),
        "resolved_at": when(incident.resolved_at),
        "what_happened": incident.what_happened or incident.title,
        "resolution": incident.resolution or "Our team fixed the problem.",
        "prevention": incident.prevention or "Our team reviews every incident so that it does not happen again.",
    }


# --- rows ------------------------------------------------------------------------------------------


def _slack(incident: Incident, *, kind: str, subject: str, text: str, key: str, now: datetime) -> OutboxRow:
    """One post to the severity's channel: ``text`` escaped (nobody's words make links or mentions),
    then a link to the incident. The digest line is the whole post, so a digest drops no field."""
    link = console_link(incident)
    body = f"{_slack_text(text)}\n<{link}|Open {incident.reference}>"
    return _row(
        channel=Channel.SLACK,
        kind=kind,
        recipient=slack_channel_for(incident.severity),
        subject=subject,
        body=body,
        payload={"line": body},
        dedupe_key=key,
        now=now,
    )


PER_RECIPIENT = ("customer_name", "ticket_reference", "ticket_subject", "ticket_url", "priority")


class BulkRender:
    """A communication template rendered for thousands of recipients: the same result as
    ``messages.render``, without running the template engine per recipient.

    The template is rendered once with a marker for each value that differs per recipient (the
    customer's name, the ticket's reference, subject, address and priority); each recipient's mail
    is that text with the markers replaced (HTML-escaped in the HTML part, as autoescape would).
    Where that could differ from rendering — a filter on one of those placeholders
    (``{{ customer_name|upper }}``), or a value with a line break (``linebreaks`` would change it) —
    the recipient's mail is rendered in full instead.
    """

    def __init__(self, template, shared: dict[str, str]) -> None:
        self.template, self.shared = template, shared
        self.markers = {name: f"@@scpbulk{secrets.token_hex(8)}{name}@@" for name in PER_RECIPIENT}
        sources = (template.subject, template.body_text, template.body_html or "")
        self.fast = not any(_filtered_placeholders(source) & set(PER_RECIPIENT) for source in sources)
        if self.fast:
            allowed = messages.PLACEHOLDERS[template.key]
            missing = allowed - set(shared) - set(PER_RECIPIENT)
            if missing:
                raise ValueError(f"context for {template.key} lacks {sorted(missing)}")
            messages.validate_template(template)
            context = {k: v for k, v in {**shared, **self.markers}.items() if k in allowed}
            self.subject = messages.render_source(template.subject, context, html=False)
            self.text = messages.render_source(template.body_text, context, html=False)
            if template.body_html:
                self.html = messages.render_source(template.body_html, context, html=True)
            else:
                self.html = linebreaks(messages.render_source(template.body_text, context, html=True))

    def __call__(self, values: dict[str, str]) -> messages.Rendered:
        if not self.fast or any("\n" in v or "\r" in v for v in values.values()):
            return messages.render(self.template, {**self.shared, **values})
        subject, text, html = self.subject, self.text, self.html
        for name, marker in self.markers.items():
            value = values[name]
            subject = subject.replace(marker, value)
            text = text.replace(marker, value)
            html = html.replace(marker, escape(value))
        return messages.Rendered(subject=" ".join(subject.split())[:300], text=text, html=html)


def _filtered_placeholders(source: str) -> set[str]:
    """The placeholders a template text passes through a filter."""
    found = set()
    for node in placeholders.compile_source(source).nodelist:
        if isinstance(node, VariableNode) and node.filter_expression.filters:
            found.add(str(getattr(node.filter_expression.var, "var", node.filter_expression.var)))
    return found


def _customer_rows(
    recipients: Iterable[Recipient], *, template_key: str, kind: str, values: dict[str, str], key: str, now: datetime
) -> list[OutboxRow]:
    """A communication template rendered for each recipient's ticket, one mail each, in its thread."""
    render = BulkRender(messages.template_for(template_key), values)
    rows = []
    for person in recipients:
        rendered = render({**_ticket_values(person.ticket), "customer_name": messages.customer_name(person.ticket)})
        rows.append(
            _row(
                channel=Channel.EMAIL,
                kind=kind,
                recipient=person.address,
                subject=rendered.subject,
                body=rendered.text,
                body_html=rendered.html,
                dedupe_key=f"{key}:{_address_key(person.address)}",
                now=now,
                ticket=person.ticket,
                user=person.user,
            )
        )
    return rows


def _update_rows(
    incident: Incident, event: IncidentEvent, recipients: Iterable[Recipient], *, now: datetime
) -> list[OutboxRow]:
    """A public update, mailed to linked tickets' customers in their tickets' threads."""
    label = incident.get_status_display()
    body = event.body.strip()
    about = functionality(incident)
    due = f"Our next update will follow by {when(incident.next_update_due_at)}." if incident.next_update_due_at else ""
    follow = f"You can also follow it on {status_page_link()}" if incident.public else ""
    tail = "\n\n".join(part for part in (due, follow) if part)
    html_tail = format_html("<p>{}</p>", due) if due else ""
    if incident.public:
        html_tail += format_html('<p>You can also follow it on <a href="{0}">{0}</a></p>', status_page_link())
    text_rest = f",\n\nAn update on the issue affecting {about}.\n\nStatus: {label}\n{body}\n\n"
    text_rest += (f"{tail}\n\n" if tail else "") + SIGNATURE
    html_rest = format_html(
        ",</p><p>An update on the issue affecting {}.</p><p><strong>Status: {}</strong></p>{}{}"
        "<p>Best regards,<br>SofaCover Pro Support Team</p>",
        about,
        label,
        messages.paragraphs(body),
        html_tail,
    )
    rows = []
    for person in recipients:
        name = messages.customer_name(person.ticket)
        text = f"Dear {name}{text_rest}"
        html = f"<p>Dear {escape(name)}{html_rest}"
        rows.append(
            _row(
                channel=Channel.EMAIL,
                kind=Kind.INCIDENT_UPDATE,
                recipient=person.address,
                subject=f"Update: {incident.title} ({label})",
                body=text,
                body_html=html,
                dedupe_key=f"incident:{incident.pk}:event:{event.pk}:to:{_address_key(person.address)}",
                now=now,
                ticket=person.ticket,
                user=person.user,
            )
        )
    return rows


def _subscriber_rows(incident: Incident, event: IncidentEvent, *, skip: set[str], now: datetime) -> list[OutboxRow]:
    """A public update of a public incident to every active status page subscriber not in ``skip``
    (addresses that hear as a linked ticket's customer): public fields only, and a one-click unsubscribe."""
    if not (incident.public and event.public):
        return []
    label = Incident.Status(event.status).label
    affected = service(incident)
    page = status_page_link()
    subject = f"[SofaCover Pro status] {incident.title}: {label}"
    posted = when(event.at)
    text_head = f"{incident.title}\n\nStatus: {label} (posted {posted})\n{event.body.strip()}\n\nAffected: {affected}"
    html_head = format_html(
        "<p><strong>{}</strong></p><p>Status: {} (posted {})</p>{}<p>Affected: {}</p>",
        incident.title,
        label,
        posted,
        messages.paragraphs(event.body.strip()),
        affected,
    )
    rows = []
    for subscriber in incident_selectors.subscribers_active():
        if subscriber.email.lower() in skip:
            continue
        leave = unsubscribe_link(subscriber.token)
        rows.append(
            _row(
                channel=Channel.EMAIL,
                kind=Kind.STATUS_UPDATE,
                recipient=subscriber.email,
                subject=subject,
                body=f"{text_head}\n\nThe status page: {page}\n\n-- \nUnsubscribe with one click: {leave}\n",
                body_html=html_head
                + format_html(
                    '<p>The status page: <a href="{0}">{0}</a></p>'
                    '<p style="color:#666;font-size:small"><a href="{1}">Unsubscribe</a> with one click.</p>',
                    page,
                    leave,
                ),
                payload={"list_unsubscribe": leave},
                dedupe_key=f"incident:{incident.pk}:event:{event.pk}:sub:{subscriber.pk}",
                now=now,
            )
        )
    return rows


# --- each step of the life ------------------------------------------------------------------------


def declared(*, incident: Incident, now: datetime) -> int:
    """The declaration to Slack and the escalation list, and a public incident's first update to the
    subscribers. The keys name the incident created in this transaction: none can exist yet."""
    rendered = messages.render(messages.template_for("incident_declaration"), declaration_context(incident, now=now))
    rows = [
        _slack(
            incident,
            kind=Kind.INCIDENT_DECLARED,
            subject=rendered.subject,
            text=rendered.text,
            key=f"incident:{incident.pk}:declared:slack",
            now=now,
        )
    ]
    if settings.INCIDENT_ESCALATION_EMAIL:
        link = console_link(incident)
        rows.append(
            _row(
                channel=Channel.EMAIL,
                kind=Kind.INCIDENT_DECLARED,
                recipient=settings.INCIDENT_ESCALATION_EMAIL,
                subject=rendered.subject,
                body=f"{rendered.text}\n{incident.reference}: {link}\n",
                body_html=rendered.html + format_html('<p><a href="{}">{}</a></p>', link, incident.reference),
                dedupe_key=f"incident:{incident.pk}:declared:email",
                now=now,
            )
        )
    first = incident_selectors.latest_public_update(incident)
    if first is not None:
        rows += _subscriber_rows(incident, first, skip=set(), now=now)
    return _write(rows, fresh_keys=True)


def acknowledge(*, incident: Incident, links: Sequence[IncidentTicket], now: datetime) -> list[IncidentTicket]:
    """The Incident Acknowledgment to the customers of newly linked tickets, once per incident and
    address (an address told before, about another ticket, is not told again). Returns the links
    whose customers now know: all but those of tickets with no address to write to."""
    recipients, reachable = _recipients(links)
    if recipients:
        _write(
            _customer_rows(
                recipients,
                template_key="acknowledgment",
                kind=Kind.INCIDENT_ACK,
                values=acknowledgment_values(incident),
                key=f"incident:{incident.pk}:ack",
                now=now,
            )
        )
    return [link for link in links if link.ticket_id in reachable]


def updated(*, incident: Incident, event: IncidentEvent, public: bool, now: datetime) -> int:
    """An update or status change: Slack always; a public one also the linked tickets' customers and,
    for a public incident, the subscribers who are not among them. The keys name the event created
    in this transaction."""
    kind_label = "Internal note" if not public else "Update"
    lines = [
        f"*{kind_label}* {incident.reference} [{incident.severity}] {incident.title}",
        f"Status: {incident.get_status_display()}",
        event.body.strip(),
    ]
    if incident.next_update_due_at:
        lines.append(f"Next update due: {when(incident.next_update_due_at)}")
    rows = [
        _slack(
            incident,
            kind=Kind.INCIDENT_UPDATE,
            subject=f"{incident.reference}: {kind_label.lower()}",
            text="\n".join(lines),
            key=f"incident:{incident.pk}:event:{event.pk}:slack",
            now=now,
        )
    ]
    if public:
        customers = linked_recipients(list(incident_selectors.links_to_tell(incident)))
        rows += _update_rows(incident, event, customers, now=now)
        rows += _subscriber_rows(incident, event, skip={c.address.lower() for c in customers}, now=now)
    return _write(rows, fresh_keys=True)


def resolved(*, incident: Incident, event: IncidentEvent, now: datetime) -> int:
    """Resolution: Slack; the Resolution Notification to every linked ticket's customers, once per
    incident and address; the status page's last update to the subscribers who are not among them."""
    values = resolution_values(incident)
    text = (
        f"*Resolved* {incident.reference} [{incident.severity}] {incident.title}\n"
        f"Resolved: {values['resolved_at']}\nWhat happened: {values['what_happened']}\n"
        f"Resolution: {values['resolution']}\nPrevention: {values['prevention']}"
    )
    fresh = [
        _slack(
            incident,
            kind=Kind.INCIDENT_RESOLVED,
            subject=f"{incident.reference}: resolved",
            text=text,
            key=f"incident:{incident.pk}:event:{event.pk}:slack",
            now=now,
        )
    ]
    customers = linked_recipients(list(incident_selectors.links_to_tell(incident)))
    fresh += _subscriber_rows(incident, event, skip={c.address.lower() for c in customers}, now=now)
    notices = _customer_rows(
        customers,
        template_key="resolution",
        kind=Kind.INCIDENT_RESOLVED,
        values=values,
        key=f"incident:{incident.pk}:resolved",
        now=now,
    )
    return _write(fresh, fresh_keys=True) + _write(notices)


def update_due(*, incident: Incident, now: datetime) -> int:
    """The next update is coming due: the commander on the dashboard and by email, and the Slack
    channel, once per due time (the key names it)."""
    due = incident.next_update_due_at
    if due is None:
        return 0
    minutes = int((due - now).total_seconds() // 60)
    soon = f"in {minutes} min" if minutes > 0 else "now" if minutes == 0 else f"{-minutes} min ago"
    subject = f"{incident.reference}: the next update is due {when(due)}"
    body = (
        f"{incident.reference} [{incident.severity}] {incident.title}: the next update is due {when(due)} ({soon}); "
        f"updates are due every {update_frequency(incident.severity)}. Status: {incident.get_status_display()}."
    )
    key = f"incident:{incident.pk}:update-due:{due.isoformat()}"
    rows = []
    commander = incident.commander
    if commander is not None and commander.is_active:
        for channel in (Channel.DASHBOARD, Channel.EMAIL):
            if channel == Channel.EMAIL and not commander.email:
                continue
            rows.append(
                _row(
                    channel=channel,
                    kind=Kind.UPDATE_DUE,
                    recipient=commander.email,
                    subject=subject,
                    body=f"{body}\n\n{console_link(incident)}",
                    dedupe_key=f"{key}:{channel}:{commander.pk}",
                    now=now,
                    user=commander,
                )
            )
    owner = f" ({commander.get_full_name() or commander.username})" if commander is not None else " (no commander)"
    rows.append(_slack(incident, kind=Kind.UPDATE_DUE, subject=subject, text=body + owner, key=f"{key}:slack", now=now))
    return _write(rows)
