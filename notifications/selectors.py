"""Reads of the notifications app: an agent's dashboard feed."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db.models import QuerySet

from .models import Notification


def dashboard_feed_for(*, user: User) -> QuerySet[Notification]:
    """An agent's in-app notifications, newest first: delivered ones only (held ones appear when released)."""
    return (
        Notification.objects.filter(user=user, channel=Notification.Channel.DASHBOARD, status=Notification.Status.SENT)
        .select_related("ticket")
        .order_by("-created_at", "-id")
    )
