"""Who may do what. Predicates raise nothing and return booleans; views decide 403 or 404."""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser, User
from rest_framework import permissions

from .auth import user_access_load
from .models import Message, Ticket

CUSTOMERS = "Customers"
AGENT_GROUPS = {1: "Agents Tier 1", 2: "Agents Tier 2", 3: "Agents Tier 3"}
MANAGERS = "Managers"
ADMINS = "Admins"
ROLE_CHOICES = ("customer", "agent", "manager", "admin")


def _group_names(user: User | AnonymousUser) -> frozenset[str]:
    if not user.is_authenticated:
        return frozenset()
    user_access_load(user)
    return user._desk_group_names  # type: ignore[attr-defined]  # cached on the user by user_access_load


def is_agent(user: User | AnonymousUser) -> bool:
    """Agents, managers and admins work for the desk: they see every ticket and internal notes."""
    if not user.is_authenticated or not user.is_active or not user.is_staff:
        return False
    if user.is_superuser:
        return True
    names = _group_names(user)
    return bool(names & {*AGENT_GROUPS.values(), MANAGERS, ADMINS})


def is_manager(user: User | AnonymousUser) -> bool:
    if not is_agent(user):
        return False
    return user.is_superuser or bool(_group_names(user) & {MANAGERS, ADMINS})


def agent_tier(user: User | AnonymousUser) -> int | None:
    names = _group_names(user)
    tiers = [tier for tier, name in AGENT_GROUPS.items() if name in names]
    return max(tiers) if tiers else None


def can_view_ticket(user: User | AnonymousUser, ticket: Ticket) -> bool:
    if not user.is_authenticated or not user.is_active:
        return False
    return is_agent(user) or ticket.requester_id == user.pk


def can_view_message(user: User | AnonymousUser, message: Message) -> bool:
    if not can_view_ticket(user, message.ticket):
        return False
    return is_agent(user) or not message.internal


def can_work_ticket(user: User | AnonymousUser) -> bool:
    """Work for the desk at all: read every ticket and its notes; change those in your scope (can_change_ticket)."""
    return is_agent(user)


def can_change_ticket(user: User | AnonymousUser, ticket: Ticket) -> bool:
    """Change or annotate ``ticket`` as the desk: reply, note, status, priority, tier, assign, escalate, resolve.

    Queue scoping: every agent reads every ticket, but a ticket above the agent's
    tier is changed only by the agent it is assigned to, or by a manager or admin.
    The console, the API and the bulk actions all ask this one question (through
    the ticket services, which refuse what it denies).
    """
    if not is_agent(user):
        return False
    if is_manager(user):
        return True
    tier = agent_tier(user)
    return (tier is not None and ticket.tier <= tier) or ticket.assignee_id == user.pk


def can_review_escalations(user: User | AnonymousUser) -> bool:
    """Leads (managers and admins) review the escalations customers ask for."""
    return is_manager(user)


# --- what customers may know of the desk --------------------------------------

# How customers see anyone from the desk: a role, never a name or an address.
SUPPORT_TEAM = "Support team"


def person_shown_to(viewer: User | AnonymousUser, person: User | None) -> str | None:
    """Who did something, as ``viewer`` may know it.

    The desk sees addresses. A customer sees their own address and ``SUPPORT_TEAM``
    for anyone else: never a staff identity. None (the system) stays None.
    """
    if person is None:
        return None
    if is_agent(viewer) or person.pk == viewer.pk:
        return person.username
    return SUPPORT_TEAM


def can_read_escalation_note(viewer: User | AnonymousUser, *, author_id: int | None) -> bool:
    """The desk reads every escalation note; a customer only the notes of their own requests."""
    if is_agent(viewer):
        return True
    return viewer.is_authenticated and author_id is not None and author_id == viewer.pk


def can_be_assigned(user: User) -> bool:
    return is_agent(user)


class IsAgent(permissions.BasePermission):
    message = "Only support agents may do this."

    def has_permission(self, request, view) -> bool:
        return is_agent(request.user)


def can_rate_ticket(user: User | AnonymousUser, ticket: Ticket) -> bool:
    """Only the customer who filed the ticket rates it (not the desk, even for itself)."""
    return user.is_authenticated and user.is_active and ticket.requester_id == user.pk
