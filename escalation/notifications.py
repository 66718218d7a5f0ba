"""Who hears about what, written to the outbox in the caller's transaction.

Routing by priority follows the procedures document: P0 phone + SMS + Slack +
email; P1 Slack + email; P2 email + dashboard; P3 dashboard only. Slack
channel #support-critical for P0/P1, #support-general for P2/P3.
"""

from __future__ import annotations

from datetime import datetime

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.db.models import QuerySet

from tickets import permissions as ticket_permissions
from tickets.models import Ticket

from .models import Escalation, SlaBreach
from .outbox_models import Notification

Channel = Notification.Channel
Kind = Notification.Kind

ROUTES: dict[str, tuple[str, ...]] = {
    "P0": (Channel.PHONE, Channel.SMS, Channel.SLACK, Channel.EMAIL),
    "P1": (Channel.SLACK, Channel.EMAIL),
    "P2": (Channel.EMAIL, Channel.DASHBOARD),
    "P3": (Channel.DASHBOARD,),
}
SLACK_CHANNELS = {
    "P0": "#support-critical",
    "P1": "#support-critical",
    "P2": "#support-general",
    "P3": "#support-general",
}
PERSONAL = {Channel.EMAIL, Channel.DASHBOARD, Channel.SMS, Channel.PHONE}


def queue(
    *,
    channel: str,
    kind: str,
    recipient: str,
    body: str,
    dedupe_key: str,
    now: datetime,
    subject: str = "",
    ticket: Ticket | None = None,
    user: User | None = None,
) -> bool:
    """Write one outbox row unless its dedupe key exists; True when written."""
    try:
        with transaction.atomic():
            Notification.objects.create(
                channel=channel,
                kind=kind,
                recipient=recipient[:300],
                user=user,
                ticket=ticket,
                subject=subject[:300],
                body=body,
                dedupe_key=dedupe_key[:200],
                next_attempt_at=now,
                created_at=now,
            )
    except IntegrityError:
        return False
    return True


def agents_of_tier(tier: int) -> QuerySet[User]:
    return User.objects.filter(
        is_active=True, is_staff=True, groups__name=ticket_permissions.AGENT_GROUPS[tier]
    ).order_by("pk")


def managers() -> QuerySet[User]:
    return User.objects.filter(is_active=True, is_staff=True, groups__name=ticket_permissions.MANAGERS).order_by("pk")


def _alert(*, ticket: Ticket, kind: str, people: list[User], subject: str, body: str, key: str, now: datetime) -> int:
    """Route one alert over the priority's channels: Slack once per channel, the rest per person."""
    written = 0
    for channel in ROUTES.get(ticket.priority, ()):
        if channel == Channel.SLACK:
            written += queue(
                channel=channel,
                kind=kind,
                recipient=SLACK_CHANNELS[ticket.priority],
                subject=subject,
                body=body,
                dedupe_key=f"{key}:slack",
                now=now,
                ticket=ticket,
            )
            continue
        for person in people:
            written += queue(
                channel=channel,
                kind=kind,
                recipient=person.email or person.username,
                subject=subject,
                body=body,
                dedupe_key=f"{key}:{channel}:{person.pk}",
                now=now,
                ticket=ticket,
                user=person,
            )
    return written


def _describe(ticket: Ticket) -> str:
    return f"{ticket.reference} [{ticket.priority}] {ticket.subject}"


def on_ticket_created(*, ticket: Ticket, now: datetime) -> None:
    """The customer gets an acknowledgment; a new P0/P1 alerts the agents of its tier."""
    requester = ticket.requester
    queue(
        channel=Channel.EMAIL,
        kind=Kind.ACKNOWLEDGMENT,
        recipient=requester.email or requester.username,
        subject=f"[{ticket.reference}] We have received your request",
        body=f"We are looking into: {ticket.subject}",
        dedupe_key=f"ack:{ticket.pk}",
        now=now,
        ticket=ticket,
        user=requester,
    )
    if ticket.priority in ("P0", "P1"):
        _alert(
            ticket=ticket,
            kind=Kind.TICKET_CREATED,
            people=list(agents_of_tier(ticket.tier)),
            subject=f"New {ticket.get_priority_display()} ticket {ticket.reference}",
            body=_describe(ticket),
            key=f"new:{ticket.pk}",
            now=now,
        )


def on_escalated(*, escalation: Escalation, now: datetime) -> None:
    ticket = escalation.ticket
    if escalation.to_management:
        people, target = list(managers()), "management"
    else:
        people, target = list(agents_of_tier(escalation.to_tier)), f"Tier {escalation.to_tier}"
    _alert(
        ticket=ticket,
        kind=Kind.ESCALATED,
        people=people,
        subject=f"Escalated to {target}: {ticket.reference}",
        body=f"{_describe(ticket)} escalated to {target} ({escalation.get_reason_display()}).",
        key=f"esc:{escalation.pk}",
        now=now,
    )


def on_breach_warning(*, ticket: Ticket, kind: str, due_at: datetime | None, now: datetime) -> int:
    """75 % of a target has run: the assignee (or the tier, if nobody has it) hears."""
    people = [ticket.assignee] if ticket.assignee else list(agents_of_tier(ticket.tier))
    label = SlaBreach.Kind(kind).label.lower()
    return _alert(
        ticket=ticket,
        kind=Kind.BREACH_WARNING,
        people=people,
        subject=f"{ticket.reference}: {label} due at {due_at:%H:%M %Z}" if due_at else ticket.reference,
        body=f"{_describe(ticket)}: the {label} target is 75 % used.",
        key=f"warn:{ticket.pk}:{kind}:{due_at.isoformat() if due_at else ''}",
        now=now,
    )


def on_breached(*, breach: SlaBreach, now: datetime) -> None:
    ticket = breach.ticket
    people = [ticket.assignee] if ticket.assignee else list(agents_of_tier(ticket.tier))
    label = breach.get_kind_display().lower()
    _alert(
        ticket=ticket,
        kind=Kind.BREACHED,
        people=people,
        subject=f"{ticket.reference}: {label} target breached",
        body=f"{_describe(ticket)}: the {label} target was due at {breach.due_at.isoformat()}.",
        key=f"breach:{breach.pk}",
        now=now,
    )


def on_resolved(*, ticket: Ticket, now: datetime) -> None:
    requester = ticket.requester
    queue(
        channel=Channel.EMAIL,
        kind=Kind.RESOLUTION,
        recipient=requester.email or requester.username,
        subject=f"[{ticket.reference}] Issue resolved",
        body=f"Your request “{ticket.subject}” has been resolved.",
        dedupe_key=f"resolved:{ticket.pk}:{now.isoformat()}",
        now=now,
        ticket=ticket,
        user=requester,
    )
