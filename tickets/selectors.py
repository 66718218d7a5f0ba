"""Every read of tickets, including who may see what."""

from __future__ import annotations

from collections.abc import Mapping

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import F, Prefetch, Q, QuerySet
from django.http import Http404
from django.utils.translation import gettext

from accounts import permissions as roles
from accounts import selectors as accounts
from accounts.auth import normalise_email

from . import permissions
from .filters import TicketFilter
from .models import Attachment, Message, Ticket, TicketCc, TicketEvent

# Active tickets first, then by priority (P0 first), then oldest first: the
# columns of ticket_urgency_idx, so the first page is read from the index.
URGENCY_ORDER = ("queue_rank", "priority", "created_at", "id")


def ticket_list_visible_to(
    *, user: User | AnonymousUser, filters: Mapping[str, str] | None = None, request=None
) -> QuerySet[Ticket]:
    """Tickets ``user`` may see, filtered by the declared filters only, most urgent first."""
    tickets = Ticket.objects.select_related("requester", "assignee")
    if not roles.is_agent(user):
        tickets = tickets.filter(requester_id=user.pk) if user.is_authenticated else tickets.none()
    tickets = tickets.order_by(*URGENCY_ORDER)
    if filters is None:
        return tickets
    return TicketFilter(filters, queryset=tickets, request=request).qs


def ticket_list_requested_by(
    *, user: User | AnonymousUser, filters: Mapping[str, str] | None = None
) -> QuerySet[Ticket]:
    """The portal's "my tickets": what ``user`` filed, agents included, most urgent first; ``filters`` are
    the portal's cleaned filter form (status, priority, channel, q: reference or subject)."""
    if not user.is_authenticated:
        return Ticket.objects.none()
    tickets = Ticket.objects.select_related("requester", "assignee").filter(requester_id=user.pk)
    return _portal_filtered(tickets, filters).order_by(*URGENCY_ORDER)


def ticket_list_of_organisation(
    *, user: User | AnonymousUser, filters: Mapping[str, str] | None = None
) -> QuerySet[Ticket]:
    """The portal's "my organisation": tickets filed by the members of ``user``'s organisation, when a manager
    opted it in; none otherwise (and none for staff). Read-only in the portal."""
    if not user.is_authenticated:
        return Ticket.objects.none()
    members = accounts.shared_organisation_member_ids(user=user)
    if not members:
        return Ticket.objects.none()
    tickets = Ticket.objects.select_related("requester").filter(requester_id__in=members)
    return _portal_filtered(tickets, filters).order_by(*URGENCY_ORDER)


def ticket_get_of_organisation(*, user: User | AnonymousUser, reference: str) -> Ticket:
    """One ticket of ``user``'s shared organisation, or 404 (another organisation's, an opted-out one's, or none)."""
    ticket = ticket_list_of_organisation(user=user).filter(reference=reference.upper()).first()
    if ticket is None:
        raise Http404(gettext("No such ticket."))
    return ticket


def message_list_of_organisation(*, ticket: Ticket) -> QuerySet[Message]:
    """What an organisation's members read of a colleague's ticket: its public messages, never internal notes."""
    return Message.objects.filter(ticket=ticket, internal=False).select_related("author").order_by("created_at", "id")


def _portal_filtered(tickets: QuerySet[Ticket], filters: Mapping[str, str] | None) -> QuerySet[Ticket]:
    filters = filters or {}
    for field in ("status", "priority", "channel"):
        if filters.get(field):
            tickets = tickets.filter(**{field: filters[field]})
    q = (filters.get("q") or "").strip()
    if q:
        tickets = tickets.filter(Q(reference__iexact=q) | Q(subject__icontains=q))
    return tickets


def ticket_get_visible_to(*, user: User | AnonymousUser, reference: str) -> Ticket:
    """The ticket with this reference if ``user`` may see it; otherwise 404, never 403."""
    ticket = Ticket.objects.select_related("requester", "assignee").filter(reference=reference.upper()).first()
    if ticket is None or not permissions.can_view_ticket(user, ticket):
        raise Http404(gettext("No such ticket."))
    return ticket


def ticket_resolution_count(*, ticket: Ticket) -> int:
    """How many times ``ticket`` has been resolved (a reopened ticket resolved again counts twice)."""
    return TicketEvent.objects.filter(
        ticket_id=ticket.pk, kind=TicketEvent.Kind.STATUS_CHANGED, new_value=Ticket.Status.RESOLVED
    ).count()


def message_list_visible_to(*, user: User | AnonymousUser, ticket: Ticket) -> QuerySet[Message]:
    messages = (
        Message.objects.filter(ticket=ticket)
        .select_related("author")
        .prefetch_related(Prefetch("attachments", queryset=Attachment.objects.order_by("id")))
        .order_by("created_at", "id")
    )
    if not roles.is_agent(user):
        messages = messages.filter(internal=False)
    return messages


def message_thread_visible_to(*, user: User | AnonymousUser, ticket: Ticket) -> list[tuple[Message, list[Attachment]]]:
    """The console's thread: the messages of message_list_visible_to, each with its attachments, in one read.

    Messages LEFT JOIN attachments: a message comes once per attachment (at most ATTACHMENT_MAX_FILES), once
    without any.
    """
    columns = ("id", "uuid", "file", "filename", "content_type", "size", "sha256", "created_at")
    rows = (
        message_list_visible_to(user=user, ticket=ticket)
        .prefetch_related(None)
        .annotate(**{f"attachment_{name}": F(f"attachments__{name}") for name in columns})
        .order_by("created_at", "id", "attachments__id")
    )
    thread: dict[int, tuple[Message, list[Attachment]]] = {}
    for row in rows:
        message, attachments = thread.setdefault(row.pk, (row, []))
        values = {name: getattr(row, f"attachment_{name}") for name in columns}
        if values["id"] is not None:
            attachments.append(Attachment(message=message, **values))
    return list(thread.values())


def event_list_visible_to(*, user: User | AnonymousUser, ticket: Ticket) -> QuerySet[TicketEvent]:
    events = TicketEvent.objects.filter(ticket=ticket).select_related("actor").order_by("at", "id")
    if not roles.is_agent(user):
        events = events.filter(internal=False)
    return events


def attachment_get_visible_to(*, user: User | AnonymousUser, uuid: str) -> Attachment:
    """The attachment if its ticket, and its message, are visible to ``user``; otherwise 404."""
    attachment = (
        Attachment.objects.select_related("message__ticket").filter(uuid=uuid).first() if _is_uuid(uuid) else None
    )
    if attachment is None or not permissions.can_view_message(user, attachment.message):
        raise Http404(gettext("No such attachment."))
    return attachment


def _is_uuid(value: str) -> bool:
    import uuid as uuid_module

    try:
        uuid_module.UUID(str(value))
    except ValueError:
        return False
    return True


# --- portal ---


def message_list_public(*, user: User | AnonymousUser, ticket: Ticket) -> QuerySet[Message]:
    """The customer-facing thread: public messages only, whoever asks (agents included)."""
    return message_list_visible_to(user=user, ticket=ticket).filter(internal=False)


def is_copied(*, ticket: Ticket, email: str) -> bool:
    """Whether ``email`` is on the ticket's CC list: its owner gets the public replies and may answer them."""
    return TicketCc.objects.filter(ticket_id=ticket.pk, email=normalise_email(email)).exists()


def cc_list(*, ticket: Ticket) -> QuerySet[TicketCc]:
    """Who besides the requester gets the ticket's public replies, oldest first (the desk's to see)."""
    return TicketCc.objects.filter(ticket_id=ticket.pk).order_by("added_at", "id")


def ticket_list_by_keys(*, references: list[str], ids: list[int]) -> list[Ticket]:
    """Tickets by reference or id, with their requesters (agents linking them to an incident, in bulk)."""
    return list(Ticket.objects.select_related("requester").filter(Q(reference__in=references) | Q(pk__in=ids)))


def cc_addresses(*, ticket_ids: list[int]) -> dict[int, list[str]]:
    """The CC lists of many tickets in one query (a broadcast to thousands): ticket id -> addresses, oldest first."""
    found: dict[int, list[str]] = {}
    rows = TicketCc.objects.filter(ticket_id__in=ticket_ids).order_by("added_at", "id")
    for ticket_id, email in rows.values_list("ticket_id", "email"):
        found.setdefault(ticket_id, []).append(email)
    return found


def merged_survivor(*, ticket: Ticket) -> Ticket | None:
    """The ticket ``ticket`` was merged into, following a chain of merges to the one that stands."""
    seen = {ticket.pk}
    survivor = ticket
    while survivor.merged_into_id is not None and survivor.merged_into_id not in seen:
        seen.add(survivor.merged_into_id)
        survivor = Ticket.objects.get(pk=survivor.merged_into_id)
    return None if survivor.pk == ticket.pk else survivor


# Lists count at most this many tickets: "1,000+ tickets".
COUNT_CAP = 1000


class MoreThan(int):
    """A count that stopped early: there are at least this many rows, shown as ``1,000+`` (one fewer, and a plus)."""

    def __str__(self) -> str:
        return f"{self - 1:,}+"

    __repr__ = __str__


def capped_ids(tickets: QuerySet[Ticket], cap: int = COUNT_CAP) -> list[int]:
    """The ids of at most cap + 1 of the rows, in no order: a capped count (``capped``) that also says which
    rows they are, read as the count would be."""
    return list(tickets.order_by().values_list("pk", flat=True)[: cap + 1])


def capped(found: int, cap: int = COUNT_CAP) -> int:
    """``found`` rows of a read stopped at cap + 1, as a count: past ``cap``, a ``MoreThan``."""
    return MoreThan(found) if found > cap else found


def capped_count(tickets: QuerySet[Ticket], cap: int = COUNT_CAP) -> int:
    """How many rows, counting no further than one past ``cap`` (a ``MoreThan`` then): reads at most cap + 1."""
    return capped(tickets.order_by()[: cap + 1].count(), cap)  # which rows make up the cap is no matter: no sort
