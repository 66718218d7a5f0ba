"""The chat's websocket routes, given the use cases by the wiring (sofacover.asgi): chat never imports support."""

from __future__ import annotations

from typing import Any

from django.urls import path

from .consumers import ChatConsumer
from .queue import QueueConsumer


def websocket_urlpatterns(usecases: Any) -> list:
    return [
        path("ws/chat/queue/", QueueConsumer.as_asgi()),
        path("ws/chat/<int:session_id>/", ChatConsumer.as_asgi(usecases=usecases)),
    ]
