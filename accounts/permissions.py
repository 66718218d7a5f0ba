"""The desk's roles: customers, agents of a tier, managers, admins. Groups, read once per request.

Predicates raise nothing and return booleans. What a role may do to a ticket is tickets'
question (tickets.permissions), asked with these answers.
"""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser, User
from django.utils.translation import gettext_lazy
from rest_framework import permissions

from .auth import user_access_load

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


class IsAgent(permissions.BasePermission):
    message = gettext_lazy("Only support agents may do this.")

    def has_permission(self, request, view) -> bool:
        return is_agent(request.user)
