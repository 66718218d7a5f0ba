"""Who may do what. Predicates raise nothing and return booleans; views decide 403 or 404."""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser, User
from rest_framework import permissions

from .models import Message, Ticket

CUSTOMERS = "Customers"
AGENT_GROUPS = {1: "Agents Tier 1", 2: "Agents Tier 2", 3: "Agents Tier 3"}
MANAGERS = "Managers"
ADMINS = "Admins"
ROLE_CHOICES = ("customer", "agent", "manager", "admin")


def _group_names(user: User | AnonymousUser) -> frozenset[str]:
    if not user.is_authenticated:
        return frozenset()
    cached = getattr(user, "_desk_group_names", None)
    if cached is None:
        cached = frozenset(user.groups.values_list("name", flat=True))
        user._desk_group_names = cached  # type: ignore[union-attr]
    return cached


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
    """Reply as the desk, write notes, assign, change priority or tier."""
    return is_agent(user)


def can_be_assigned(user: User) -> bool:
    return is_agent(user)


class IsAgent(permissions.BasePermission):
    message = "Only support agents may do this."

    def has_permission(self, request, view) -> bool:
        return is_agent(request.user)


def can_rate_ticket(user: User | AnonymousUser, ticket: Ticket) -> bool:
    """Only the customer who filed the ticket rates it (not the desk, even for itself)."""
    return user.is_authenticated and user.is_active and ticket.requester_id == user.pk
