"""Who may do what to a ticket. Predicates raise nothing and return booleans; views decide 403 or 404.

The roles they ask about (agent, tier, manager) are accounts'.
"""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser, User

from accounts import permissions as roles

from .models import Message, Ticket


def can_view_ticket(user: User | AnonymousUser, ticket: Ticket) -> bool:
    if not user.is_authenticated or not user.is_active:
        return False
    return roles.is_agent(user) or ticket.requester_id == user.pk


def can_view_message(user: User | AnonymousUser, message: Message) -> bool:
    if not can_view_ticket(user, message.ticket):
        return False
    return roles.is_agent(user) or not message.internal


def can_work_ticket(user: User | AnonymousUser) -> bool:
    """Work for the desk at all: read every ticket and its notes; change those in your scope (can_change_ticket)."""
    return roles.is_agent(user)


def can_change_ticket(user: User | AnonymousUser, ticket: Ticket) -> bool:
    """Change or annotate ``ticket`` as the desk: reply, note, status, priority, tier, assign, escalate, resolve.

    Queue scoping: every agent reads every ticket, but a ticket above the agent's
    tier is changed only by the agent it is assigned to, or by a manager or admin.
    The console, the API and the bulk actions all ask this one question (through
    the ticket services, which refuse what it denies).
    """
    if not roles.is_agent(user):
        return False
    if roles.is_manager(user):
        return True
    tier = roles.agent_tier(user)
    return (tier is not None and ticket.tier <= tier) or ticket.assignee_id == user.pk


def can_review_escalations(user: User | AnonymousUser) -> bool:
    """Leads (managers and admins) review the escalations customers ask for."""
    return roles.is_manager(user)


def can_read_escalation_note(viewer: User | AnonymousUser, *, author_id: int | None) -> bool:
    """The desk reads every escalation note; a customer only the notes of their own requests."""
    if roles.is_agent(viewer):
        return True
    return viewer.is_authenticated and author_id is not None and author_id == viewer.pk


def can_be_assigned(user: User) -> bool:
    return roles.is_agent(user)
