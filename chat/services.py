"""Changes to chats and agents' availability. The ticket each chat is, and its messages, are the
use cases' business (support.usecases, "Live chat"): these only keep the session's own state."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.utils.text import Truncator
from django.utils.translation import gettext as _

from accounts import permissions
from sofacover.errors import Conflict, DomainError
from tickets.models import Ticket

from . import selectors
from .models import AgentPresence, ChatSession

State = ChatSession.State


class NotAllowed(DomainError):
    code = "not_allowed"
    status = 403


def _agent_only(user: User) -> None:
    if not permissions.is_agent(user):
        raise NotAllowed(_("Only support agents can do this."))


def presence_set(*, agent: User, available: bool, now: datetime) -> AgentPresence:
    """An agent is available for chats, or away."""
    _agent_only(agent)
    presence, _created = AgentPresence.objects.update_or_create(
        agent=agent, defaults={"available": available, "changed_at": now}
    )
    return presence


def session_open(*, ticket: Ticket, visitor: User, now: datetime) -> ChatSession:
    """A new chat joins the queue for the ticket's tier."""
    return ChatSession.objects.create(ticket=ticket, visitor=visitor, tier=ticket.tier, arrived_at=now)


def message_check(body: str) -> None:
    """A line of chat: some text, at most CHAT_MESSAGE_MAX_BYTES in UTF-8."""
    if not body.strip():
        raise DomainError(_("Write a message."), field="body")
    if len(body.encode()) > settings.CHAT_MESSAGE_MAX_BYTES:
        raise DomainError(
            _("Messages are limited to %(n)d bytes.") % {"n": settings.CHAT_MESSAGE_MAX_BYTES}, field="body"
        )


def message_allowed(*, session: ChatSession, author: User, body: str, internal: bool) -> ChatSession:
    """May ``author`` write this line on the chat (as it is now)? Returns the fresh session, its
    ticket locked until the caller's transaction ends.

    The visitor writes public lines; agents whisper (internal notes) on any chat; a public line
    from the desk comes from the agent who has the chat.
    """
    message_check(body)
    # Under the ticket's lock (the caller's transaction): the ticket read here is the one the line changes, so
    # the use case can tell whether the line moved it (a change committed in between would hide a reopening).
    session = ChatSession.objects.select_related("ticket").select_for_update(of=("ticket",)).get(pk=session.pk)
    if author.pk == session.visitor_id and not internal:
        return session
    if not permissions.is_agent(author):
        raise NotAllowed(_("This is not your chat."))
    if not internal and session.state != State.ENDED and session.agent_id != author.pk:
        raise NotAllowed(_("Accept the chat before you write to the customer; whisper to other agents instead."))
    return session


def _live(session: ChatSession) -> None:
    if session.state == State.ENDED:
        raise Conflict(_("This chat has ended."))


@transaction.atomic
def session_accept(*, session: ChatSession, agent: User, now: datetime) -> ChatSession:
    """The agent takes a waiting chat. A conditional update: of two agents accepting at once, one gets it.

    :raises Conflict: the chat was taken (or ended) meanwhile
    """
    _agent_only(agent)
    taken = ChatSession.objects.filter(pk=session.pk, state=State.WAITING).update(
        state=State.ACTIVE, agent=agent, accepted_at=now
    )
    if taken != 1:
        raise Conflict(_("Another agent has already taken this chat."))
    session.refresh_from_db()
    return session


@transaction.atomic
def session_transfer(
    *, session: ChatSession, by: User, now: datetime, to_agent: User | None = None, to_tier: int | None = None
) -> ChatSession:
    """Hand an accepted chat to another available agent (it stays active), or back to the queue of a tier."""
    _agent_only(by)
    session = ChatSession.objects.select_for_update().get(pk=session.pk)
    _live(session)
    if (to_agent is None) == (to_tier is None):
        raise DomainError(_("Transfer to an agent or to a tier."), field="to")
    if to_agent is not None:
        if to_agent.pk == by.pk or not permissions.is_agent(to_agent):
            raise DomainError(_("Choose another agent."), field="agent")
        if not AgentPresence.objects.filter(agent=to_agent, available=True).exists():
            raise DomainError(_("That agent is away."), field="agent")
        session.agent, session.state, session.accepted_at = to_agent, State.ACTIVE, now
    else:
        if to_tier not in Ticket.Tier.values:
            raise DomainError(_("No such tier."), field="tier")
        session.agent, session.state, session.tier = None, State.WAITING, int(to_tier)
        session.arrived_at, session.accepted_at = now, None
    session.save(update_fields=["agent", "state", "tier", "arrived_at", "accepted_at"])
    return session


def session_end(*, session: ChatSession, by: User, now: datetime) -> ChatSession:
    """The chat ends (its visitor or the desk); its ticket stays as it is."""
    if by.pk != session.visitor_id and not permissions.is_agent(by):
        raise NotAllowed(_("This is not your chat."))
    ChatSession.objects.filter(pk=session.pk).exclude(state=State.ENDED).update(state=State.ENDED, ended_at=now)
    session.refresh_from_db()
    return session


def read_mark(*, session: ChatSession, side: str, message_id: int) -> int:
    """What a side has read, up to ``message_id`` (never backwards). Returns the mark."""
    field = "agent_read" if side == "agent" else "visitor_read"
    ChatSession.objects.filter(pk=session.pk, **{f"{field}__lt": message_id}).update(**{field: message_id})
    session.refresh_from_db(fields=[field])
    return int(getattr(session, field))


# --- the console's live queue ------------------------------------------------------------------------------
# The use cases (support.usecases, "Live chat") tell the queue pages of every change to the queue after their
# transaction commits: ``transaction.on_commit(lambda: queue_publish(event))`` with an event built here inside
# it. The page's socket (chat.queue) is in QUEUE_GROUP: one group for the desk, as the page lists every tier.

QUEUE_GROUP = "chat-queue"
QUEUE_FIRST_CHARS = 80


def queue_row(session: ChatSession) -> dict[str, Any]:
    """A chat as the queue page shows it (the desk's view: the customer's name or address)."""
    visitor, agent = session.visitor, session.agent
    return {
        "id": session.pk,
        "state": session.state,
        "ticket": session.ticket.reference,
        "customer": visitor.get_full_name() or visitor.email,
        "tier": session.tier,
        "first": Truncator(session.ticket.description).chars(QUEUE_FIRST_CHARS),
        "since": session.arrived_at.isoformat(),
        "agent_id": session.agent_id,
        "agent": (agent.get_full_name() or agent.email) if agent is not None else None,
    }


def queue_opening(now: datetime) -> dict[str, Any]:
    """Whether the widget is open (the line above the queue), as the page words it."""
    opening = selectors.opening(now)
    return {"open": opening.open, "in_hours": opening.in_hours, "agents": opening.agents}


def queue_changed(change: str, *, session: ChatSession, now: datetime) -> dict[str, Any]:
    """A chat started, was accepted, transferred or ended: its row as it is now (``change`` says what happened)."""
    session = ChatSession.objects.select_related("ticket", "visitor", "agent").get(pk=session.pk)
    return {"type": "chat", "change": change, "chat": queue_row(session), "at": now.isoformat()}


def queue_availability(presence: AgentPresence, *, now: datetime) -> dict[str, Any]:
    """An agent was set available or away: who, and whether the widget is open now."""
    return {
        "type": "availability",
        "agent_id": presence.agent_id,
        "available": presence.available,
        "opening": queue_opening(now),
        "at": now.isoformat(),
    }


def queue_publish(event: dict[str, Any]) -> None:
    """Send ``event`` to every open queue page (after commit: call it from ``transaction.on_commit``)."""
    layer = get_channel_layer()
    if layer is not None:
        async_to_sync(layer.group_send)(QUEUE_GROUP, {"type": "queue.event", "event": event})
