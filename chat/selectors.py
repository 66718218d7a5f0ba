"""What chat reads: whether the widget is open, the queue, the transcript."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib.auth.models import User
from django.db.models import Max, Q, QuerySet

from escalation import selectors as escalation_selectors
from escalation import sla
from tickets.models import Message, Ticket

from .models import AgentPresence, ChatSession

# The widget opens on the business calendar of the P2/P3 policy (the procedures' business hours).
CALENDAR_PRIORITY = Ticket.Priority.P2


@dataclass(frozen=True)
class Opening:
    open: bool
    in_hours: bool
    agents: int


def business_hours(now: datetime) -> bool:
    """Is ``now`` inside the P2 policy's business calendar (holidays closed)?"""
    entry = escalation_selectors.policy_book().entry(CALENDAR_PRIORITY)
    calendar = entry.calendar if entry is not None else sla.ALWAYS
    return any(True for _ in sla.open_intervals(calendar, now, now + timedelta(seconds=1)))


def available_agents() -> QuerySet[User]:
    return User.objects.filter(chat_presence__available=True, is_active=True).order_by("first_name", "email")


def opening(now: datetime) -> Opening:
    """The widget is open in business hours while at least one agent is available; else it takes messages."""
    in_hours = business_hours(now)
    agents = AgentPresence.objects.filter(available=True, agent__is_active=True).count() if in_hours else 0
    return Opening(open=in_hours and agents > 0, in_hours=in_hours, agents=agents)


def is_available(agent: User) -> bool:
    return AgentPresence.objects.filter(agent=agent, available=True).exists()


def queue() -> QuerySet[ChatSession]:
    """Waiting chats, first come first served."""
    return (
        ChatSession.objects.filter(state=ChatSession.State.WAITING)
        .select_related("ticket", "visitor")
        .order_by("arrived_at", "pk")
    )


def active_for(agent: User) -> QuerySet[ChatSession]:
    return ChatSession.objects.filter(state=ChatSession.State.ACTIVE, agent=agent).select_related("ticket", "visitor")


def session_get(pk: int) -> ChatSession | None:
    return ChatSession.objects.select_related("ticket", "visitor", "agent").filter(pk=pk).first()


def transcript(session: ChatSession, *, after: int = 0, internal: bool = False, limit: int = 500) -> list[Message]:
    """The chat's messages after id ``after``, oldest first; internal notes only for the desk."""
    rows = Message.objects.filter(ticket_id=session.ticket_id, pk__gt=after).select_related("author")
    if not internal:
        rows = rows.filter(internal=False)
    return list(rows.order_by("pk")[:limit])


@dataclass(frozen=True)
class Before:
    """The ticket's message before a line: the last of any kind (what the desk saw before it) and the last
    public one (what the customer saw); 0 for none. Each side's frames name theirs, so a browser that missed
    a line — the channel layer delivers at most once, and a reply made on the ticket page is not sent to the
    chat at all — sees the gap and fetches what it has not seen (``chat/static/chat/chatsocket.js``)."""

    any: int = 0
    public: int = 0


def before(message: Message) -> Before:
    """Read once the line is committed: a message is added under its ticket's lock, so every message of the
    ticket with a smaller id has committed by now."""
    found = Message.objects.filter(ticket_id=message.ticket_id, pk__lt=message.pk).aggregate(
        any=Max("pk"), public=Max("pk", filter=Q(internal=False))
    )
    return Before(any=found["any"] or 0, public=found["public"] or 0)
