"""Every read of tickets, including who may see what."""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

from django.contrib.auth.models import AnonymousUser, User
from django.core.cache import cache
from django.db.models import Prefetch, Q, QuerySet
from django.http import Http404

from . import permissions
from .filters import TicketFilter
from .models import Attachment, Message, Rating, Ticket, TicketEvent

# Active tickets first, then by priority (P0 first), then oldest first: the
# columns of ticket_urgency_idx, so the first page is read from the index.
URGENCY_ORDER = ("queue_rank", "priority", "created_at", "id")


def ticket_list_visible_to(
    *, user: User | AnonymousUser, filters: Mapping[str, str] | None = None, request=None
) -> QuerySet[Ticket]:
    """Tickets ``user`` may see, filtered by the declared filters only, most urgent first."""
    tickets = Ticket.objects.select_related("requester", "assignee")
    if not permissions.is_agent(user):
        tickets = tickets.filter(requester_id=user.pk) if user.is_authenticated else tickets.none()
    tickets = tickets.order_by(*URGENCY_ORDER)
    if filters is None:
        return tickets
    return TicketFilter(filters, queryset=tickets, request=request).qs


def ticket_list_requested_by(*, user: User | AnonymousUser) -> QuerySet[Ticket]:
    """The portal's "my tickets": what ``user`` filed, agents included, most urgent first."""
    if not user.is_authenticated:
        return Ticket.objects.none()
    return Ticket.objects.select_related("requester", "assignee").filter(requester_id=user.pk).order_by(*URGENCY_ORDER)


def ticket_get_visible_to(*, user: User | AnonymousUser, reference: str) -> Ticket:
    """The ticket with this reference if ``user`` may see it; otherwise 404, never 403."""
    ticket = Ticket.objects.select_related("requester", "assignee").filter(reference=reference.upper()).first()
    if ticket is None or not permissions.can_view_ticket(user, ticket):
        raise Http404("No such ticket.")
    return ticket


def message_list_visible_to(*, user: User | AnonymousUser, ticket: Ticket) -> QuerySet[Message]:
    messages = (
        Message.objects.filter(ticket=ticket)
        .select_related("author")
        .prefetch_related(Prefetch("attachments", queryset=Attachment.objects.order_by("id")))
        .order_by("created_at", "id")
    )
    if not permissions.is_agent(user):
        messages = messages.filter(internal=False)
    return messages


def event_list_visible_to(*, user: User | AnonymousUser, ticket: Ticket) -> QuerySet[TicketEvent]:
    events = TicketEvent.objects.filter(ticket=ticket).select_related("actor").order_by("at", "id")
    if not permissions.is_agent(user):
        events = events.filter(internal=False)
    return events


def attachment_get_visible_to(*, user: User | AnonymousUser, uuid: str) -> Attachment:
    """The attachment if its ticket, and its message, are visible to ``user``; otherwise 404."""
    attachment = (
        Attachment.objects.select_related("message__ticket").filter(uuid=uuid).first() if _is_uuid(uuid) else None
    )
    if attachment is None or not permissions.can_view_message(user, attachment.message):
        raise Http404("No such attachment.")
    return attachment


def _is_uuid(value: str) -> bool:
    import uuid as uuid_module

    try:
        uuid_module.UUID(str(value))
    except ValueError:
        return False
    return True


def agent_list() -> QuerySet[User]:
    """Users who can be assigned tickets."""
    return (
        User.objects.filter(is_active=True, is_staff=True)
        .filter(
            Q(is_superuser=True)
            | Q(
                groups__name__in=[
                    *permissions.AGENT_GROUPS.values(),
                    permissions.MANAGERS,
                    permissions.ADMINS,
                ]
            )
        )
        .distinct()
        .order_by("username")
    )


class AgentChoice(NamedTuple):
    pk: int
    username: str
    full_name: str


# The agents list changes when staff join or leave; the queue's filter and the ticket page's
# assignee select show it on every view. Read at most once a minute per cache.
AGENT_CHOICES_KEY = "tickets:agent-choices"
AGENT_CHOICES_SECONDS = 60


def agent_choice_list() -> list[AgentChoice]:
    """Every assignable agent as (pk, username, full name), by username; cached for AGENT_CHOICES_SECONDS.

    For showing choices only: a choice picked from it is checked against agent_list() when submitted.
    """
    choices = cache.get(AGENT_CHOICES_KEY)
    if choices is None:
        choices = [
            AgentChoice(user.pk, user.username, user.get_full_name())
            for user in agent_list().only("pk", "username", "first_name", "last_name")
        ]
        cache.set(AGENT_CHOICES_KEY, choices, AGENT_CHOICES_SECONDS)
    return choices


def agent_choices_forget() -> None:
    cache.delete(AGENT_CHOICES_KEY)


def agent_get(*, email: str) -> User | None:
    return agent_list().filter(username=email.strip().lower()).first()


# --- portal accounts ---


def message_list_public(*, user: User | AnonymousUser, ticket: Ticket) -> QuerySet[Message]:
    """The customer-facing thread: public messages only, whoever asks (agents included)."""
    return message_list_visible_to(user=user, ticket=ticket).filter(internal=False)


# --- satisfaction ---


def rating_of(*, ticket: Ticket) -> Rating | None:
    """The ticket's rating, if its requester gave one."""
    return Rating.objects.filter(ticket_id=ticket.pk).first()
