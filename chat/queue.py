"""The console's live chat queue: ``/ws/chat/queue/``, agents only.

The queue page (``/console/chat/``) listens here instead of reloading. On joining, the socket is sent the
queue as it is (``queue``: the waiting chats by arrival, the agent's own active chats, whether the widget
is open, the agent's availability and the server's clock); then every change, as the use cases publish it
after commit (chat.services.queue_publish, to QUEUE_GROUP):
  out: queue {waiting, mine, opening, available, at} ·
       chat {change: started | accepted | transferred | ended, chat {id, state, ticket, customer, tier,
       first, since, agent_id, agent}, at} · availability {agent_id, available, opening, at}
The socket only listens: a frame in gets an error frame. Customers and anonymous sockets are closed with
4403. The origin is checked and the session signed in before this runs (sofacover.asgi), as for a chat.
"""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.contrib.auth.models import User
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts import permissions

from . import selectors, services
from .consumers import CLOSE_FORBIDDEN


def snapshot(agent: User) -> dict[str, Any]:
    """The queue as the page shows it now, for ``agent``."""
    now = timezone.now()
    return {
        "type": "queue",
        "waiting": [services.queue_row(chat) for chat in selectors.queue().select_related("agent")],
        "mine": [services.queue_row(chat) for chat in selectors.active_for(agent).select_related("agent")],
        "opening": services.queue_opening(now),
        "available": selectors.is_available(agent),
        "at": now.isoformat(),
    }


class QueueConsumer(AsyncJsonWebsocketConsumer):
    @database_sync_to_async
    def _agent(self) -> User | None:
        user = self.scope.get("user")
        if user is not None and user.is_authenticated and permissions.is_agent(user):
            return user
        return None

    async def connect(self) -> None:
        agent = await self._agent()
        if agent is None:
            await self.close(code=CLOSE_FORBIDDEN)
            return
        # In the group first, then the snapshot: a change in between arrives after it, never lost.
        await self.channel_layer.group_add(services.QUEUE_GROUP, self.channel_name)
        await self.accept()
        await self.send_json(await database_sync_to_async(snapshot)(agent))

    async def disconnect(self, code: int) -> None:
        await self.channel_layer.group_discard(services.QUEUE_GROUP, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs: Any) -> None:
        await self.send_json({"type": "error", "message": _("This socket only listens.")})

    async def queue_event(self, message: dict[str, Any]) -> None:
        await self.send_json(message["event"])
