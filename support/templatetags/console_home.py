"""``{% console_home as home %}``: the agent home's counts and lists (support.home) for the console's index."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils import timezone

from accounts import permissions as roles

from .. import home

register = template.Library()


@register.simple_tag(takes_context=True)
def console_home(context: dict[str, Any]) -> home.Home | None:
    """The home for the signed-in agent, manager or admin; None for anyone else (they get the app list)."""
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not roles.is_agent(user):
        return None
    return home.agent_home(user=user, now=timezone.now())
