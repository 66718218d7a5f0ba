"""Every read of accounts."""

from __future__ import annotations

from typing import NamedTuple

from django.contrib.auth.models import AnonymousUser, User
from django.core.cache import cache
from django.db.models import Q, QuerySet

from . import permissions
from .auth import normalise_email
from .models import OrganisationMember


def agent_list() -> QuerySet[User]:
    """Active users who work for the desk (agents, managers, admins): those tickets can be assigned to."""
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
AGENT_CHOICES_KEY = "accounts:agent-choices"
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
    return agent_list().filter(username=normalise_email(email)).first()


def shared_organisation_member_ids(*, user: User | AnonymousUser) -> list[int]:
    """The users whose tickets ``user`` may read as their organisation's (``user`` included): the members of
    ``user``'s organisation when a manager opted it in (``shared``), else []. Customers only: staff have the
    console."""
    if not user.is_authenticated or not user.is_active or permissions.is_agent(user):
        return []
    membership = (
        OrganisationMember.objects.filter(user_id=user.pk, organisation__shared=True)
        .select_related("organisation")
        .first()
    )
    if membership is None:
        return []
    return list(
        OrganisationMember.objects.filter(organisation_id=membership.organisation_id).values_list("user_id", flat=True)
    )


def preference_time_zone(*, user_id: int) -> str:
    """The zone name ``user_id`` saved, or "" (none saved: the browser's zone, else the desk's)."""
    from .models import Preference

    return Preference.objects.filter(user_id=user_id).values_list("time_zone", flat=True).first() or ""
