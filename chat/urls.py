"""Chat's URLs, built with the use cases the URL conf hands in (chat never imports support)."""

from __future__ import annotations

from typing import Any

from django.urls import path

from . import views


def portal_urls(usecases: Any) -> tuple[list, str]:
    """The widget's doors, under ``/chat/``."""
    return [
        path("status/", views.status, name="status"),
        path("start/", views.StartView.as_view(usecases=usecases), name="start"),
        path("leave/", views.LeaveMessageView.as_view(usecases=usecases), name="leave"),
    ], "chat"


def console_urls(usecases: Any) -> tuple[list, str]:
    """The console's chat pages, under ``/console/chat/``."""
    return [
        path("", views.agent_view(views.QueueView.as_view(usecases=usecases)), name="queue"),
        path("<int:pk>/", views.agent_view(views.ChatPageView.as_view(usecases=usecases)), name="chat"),
        path("<int:pk>/accept/", views.agent_view(views.AcceptView.as_view(usecases=usecases)), name="accept"),
    ], "chat-console"
