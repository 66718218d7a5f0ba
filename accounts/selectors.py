"""Every read of accounts."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db.models import Q, QuerySet

from . import permissions
from .auth import normalise_email


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


def agent_get(*, email: str) -> User | None:
    return agent_list().filter(username=normalise_email(email)).first()
