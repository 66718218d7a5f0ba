"""The chat's websocket: ``/ws/chat/<session id>/?last=<message id>[&token=…]``.

Who may join: an agent (the console session), or the chat's own visitor — signed in (the portal
session) or with the signed token the start view gave their browser. Anyone else is closed with
4403 (4404: no such chat). The origin is checked before this runs (sofacover.asgi).

Frames, JSON both ways (``type``):
  in:  message {body, internal?} · typing · read {id} · accept · transfer {agent | tier} ·
       escalate {priority, category} · end {resolve_note?}
  out: message {id, prev, side, author, body, internal, at} · typing {side} · read {side, id} ·
       state {state, agent} · error {message}
A message's ``prev`` is the id of the line its reader saw before it (0: none; the desk counts whispers,
the customer does not): a browser that has not seen ``prev`` missed a line and reconnects with the
last id it has without a gap, and the replay fills it in.
Each line is a use case (``support.usecases.chat_*``, handed in by the wiring as ``usecases``), so
a chat is a ticket like any other. Groups: every member is in ``chat-<id>``; agents are also in
``chat-<id>-desk``, the only group an internal whisper is sent to.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ParamSpec, TypeVar
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.contrib.auth.models import User
from django.core.cache import cache
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts import permissions
from sofacover.errors import DomainError
from tickets.models import Message

from . import selectors, services, tokens
from .models import ChatSession

CLOSE_FORBIDDEN = 4403
CLOSE_NOT_FOUND = 4404
CLOSE_TOO_BIG = 1009
# Frames of any kind (typing, read marks…) one connection may send per second, on average.
FRAMES_PER_SECOND = 10

# The consumers' database calls run on a few threads of their own, each with its own connection (kept
# as DJANGO_CONN_MAX_AGE says). Channels' default (thread_sensitive=True) runs every database call of
# the process on one thread, so each chat's line waited for every other chat's line in the process.
# Each call is whole on its thread: a use case is one transaction, and the consumer awaits it before
# its next frame, so one socket's lines keep their order. The tests switch this back (DB_THREAD_SENSITIVE):
# there the calls must run in the test's thread, inside its transaction.
DB_THREADS = 4
DB_THREAD_SENSITIVE = False
_db_executor = ThreadPoolExecutor(max_workers=DB_THREADS, thread_name_prefix="chat-db")

P = ParamSpec("P")
R = TypeVar("R")


def on_db_thread(function: Callable[P, R]) -> Callable[P, Awaitable[R]]:
    """``function`` as a coroutine run on the chat's database threads (old connections closed around it)."""

    @functools.wraps(function)
    async def call(*args: P.args, **kwargs: P.kwargs) -> R:
        if DB_THREAD_SENSITIVE:
            return await database_sync_to_async(function)(*args, **kwargs)
        return await database_sync_to_async(function, thread_sensitive=False, executor=_db_executor)(*args, **kwargs)

    return call


def public_group(session_id: int) -> str:
    return f"chat-{session_id}"


def desk_group(session_id: int) -> str:
    return f"chat-{session_id}-desk"


def message_event(message: Message, *, session: ChatSession, prev: int = 0) -> dict[str, Any]:
    """A line as every member of its group sees it: a customer sees the desk as "Support team"."""
    side = "agent" if message.by_agent else "customer"
    if message.internal:
        author = message.author.get_full_name() or message.author.username
    else:
        author = permissions.person_shown_to(session.visitor, message.author) or ""
    return {
        "type": "message",
        "id": message.pk,
        "prev": prev,
        "side": side,
        "author": author,
        "body": message.body,
        "internal": message.internal,
        "at": message.created_at.isoformat(),
    }


def opening_event(session: ChatSession) -> dict[str, Any]:
    ticket = session.ticket
    return {
        "type": "message",
        "id": 0,
        "side": "customer",
        "author": permissions.person_shown_to(session.visitor, session.visitor) or "",
        "body": ticket.description,
        "internal": False,
        "at": ticket.created_at.isoformat(),
    }


def state_event(session: ChatSession) -> dict[str, Any]:
    agent = permissions.person_shown_to(session.visitor, session.agent) if session.agent_id else None
    return {"type": "state", "state": session.state, "agent": agent, "ticket": session.ticket.reference}


class ChatConsumer(AsyncJsonWebsocketConsumer):
    usecases: Any = None

    def __init__(self, *args: Any, usecases: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.usecases = usecases
        self.session: ChatSession | None = None
        self.user: User | None = None
        self.side = ""
        self.allowance = float(FRAMES_PER_SECOND)
        self.allowance_at = time.monotonic()

    # --- joining ------------------------------------------------------------------------------------

    @on_db_thread
    def _join(self, session_id: int, token: str) -> tuple[ChatSession | None, User | None, str]:
        session = selectors.session_get(session_id)
        if session is None:
            return None, None, ""
        user = self.scope.get("user")
        if user is not None and user.is_authenticated:
            if permissions.is_agent(user):
                return session, user, "agent"
            if user.pk == session.visitor_id:
                return session, user, "customer"
        if token and tokens.visitor_from_token(token, session_id=session.pk) == session.visitor_id:
            return session, session.visitor, "customer"
        return session, None, ""

    async def connect(self) -> None:
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        try:
            session_id = int(self.scope["url_route"]["kwargs"]["session_id"])
            last = int((query.get("last") or ["0"])[0] or 0)
        except (KeyError, ValueError):
            await self.close(code=CLOSE_NOT_FOUND)
            return
        session, user, side = await self._join(session_id, (query.get("token") or [""])[0])
        if session is None:
            await self.close(code=CLOSE_NOT_FOUND)
            return
        if user is None:
            await self.close(code=CLOSE_FORBIDDEN)
            return
        self.session, self.user, self.side = session, user, side
        await self.channel_layer.group_add(public_group(session.pk), self.channel_name)
        if side == "agent":
            await self.channel_layer.group_add(desk_group(session.pk), self.channel_name)
        await self.accept()
        # Reconnecting: what the browser has not seen yet, from the ticket's messages.
        for event in await self._replay(last):
            await self.send_json(event)
        await self.send_json(await on_db_thread(state_event)(session))

    @on_db_thread
    def _replay(self, last: int) -> list[dict[str, Any]]:
        assert self.session is not None
        rows = selectors.transcript(self.session, after=last, internal=self.side == "agent")
        # Everything of this side's after ``last``: each line's predecessor is the one before it.
        prevs = [max(last, 0), *(m.pk for m in rows)][: len(rows)]
        events = [message_event(m, session=self.session, prev=prev) for m, prev in zip(rows, prevs, strict=True)]
        if last <= 0:  # the chat's first line is the ticket's description: line 0
            events.insert(0, opening_event(self.session))
        return events

    async def disconnect(self, code: int) -> None:
        if self.session is not None:
            await self.channel_layer.group_discard(public_group(self.session.pk), self.channel_name)
            if self.side == "agent":
                await self.channel_layer.group_discard(desk_group(self.session.pk), self.channel_name)

    # --- frames in ----------------------------------------------------------------------------------

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs: Any) -> None:
        if text_data is None or len(text_data.encode()) > settings.CHAT_FRAME_MAX_BYTES:
            await self.close(code=CLOSE_TOO_BIG)
            return
        if not self._frame_allowed():
            await self.send_json({"type": "error", "message": _("Slow down: too many messages.")})
            return
        try:
            content = json.loads(text_data)
        except ValueError:
            content = None
        if not isinstance(content, dict):
            await self.send_json({"type": "error", "message": _("Malformed frame.")})
            return
        await self.receive_json(content)

    def _frame_allowed(self) -> bool:
        """Per connection, any frame: a token bucket of FRAMES_PER_SECOND (bursts up to as many)."""
        now = time.monotonic()
        self.allowance = min(FRAMES_PER_SECOND, self.allowance + (now - self.allowance_at) * FRAMES_PER_SECOND)
        self.allowance_at = now
        if self.allowance < 1:
            return False
        self.allowance -= 1
        return True

    def _line_allowed(self) -> bool:
        """Per person, lines of chat: CHAT_RATE_MESSAGES per window, in the shared cache (in ``_say``'s thread)."""
        assert self.user is not None
        window = settings.CHAT_RATE_WINDOW_SECONDS
        key = f"chat-rate:{self.user.pk}:{int(time.time() // window)}"
        try:
            count = cache.incr(key)  # most lines: the window's counter is there (one add fewer per line)
        except ValueError:  # the window's first line
            if cache.add(key, 1, window + 1):
                count = 1
            else:  # another process's first line came in between
                try:
                    count = cache.incr(key)
                except ValueError:  # and expired at once
                    count = 1
        return count <= settings.CHAT_RATE_MESSAGES

    async def receive_json(self, content: dict[str, Any], **kwargs: Any) -> None:
        kind = content.get("type")
        handler = {
            "message": self.on_message,
            "typing": self.on_typing,
            "read": self.on_read,
            "accept": self.on_accept,
            "transfer": self.on_transfer,
            "escalate": self.on_escalate,
            "end": self.on_end,
        }.get(kind if isinstance(kind, str) else "")
        if handler is None:
            await self.send_json({"type": "error", "message": _("Unknown frame.")})
            return
        if kind in {"accept", "transfer", "escalate"} and self.side != "agent":
            await self.send_json({"type": "error", "message": _("Only support agents can do this.")})
            return
        try:
            await handler(content)
        except DomainError as exc:
            await self.send_json({"type": "error", "message": exc.message, "code": exc.code})

    async def on_message(self, content: dict[str, Any]) -> None:
        body = content.get("body")
        if not isinstance(body, str):
            raise DomainError(_("Write a message."), field="body")
        internal = bool(content.get("internal")) and self.side == "agent"
        event = await self._say(body, internal)
        group = desk_group(self.session.pk) if internal else public_group(self.session.pk)  # type: ignore[union-attr]
        await self.channel_layer.group_send(group, {"type": "chat.event", "event": event})

    @on_db_thread
    def _say(self, body: str, internal: bool) -> dict[str, Any]:
        assert self.session is not None
        if not self._line_allowed():
            raise DomainError(_("Slow down: too many messages."))
        message = self.usecases.chat_message(
            session=self.session, author=self.user, body=body, internal=internal, now=timezone.now()
        )
        before = selectors.before(message)
        # The group's event carries both sides' predecessors; chat_event sends each socket its own.
        return {**message_event(message, session=self.session, prev=before.any), "prev_public": before.public}

    async def on_typing(self, content: dict[str, Any]) -> None:
        await self.channel_layer.group_send(
            public_group(self.session.pk),  # type: ignore[union-attr]
            {"type": "chat.event", "event": {"type": "typing", "side": self.side}, "sender": self.channel_name},
        )

    async def on_read(self, content: dict[str, Any]) -> None:
        seen = content.get("id")
        if not isinstance(seen, int) or isinstance(seen, bool) or seen < 0:
            raise DomainError(_("Malformed frame."))
        assert self.session is not None  # joined: frames come only after connect() accepted
        mark = await on_db_thread(services.read_mark)(session=self.session, side=self.side, message_id=seen)
        await self.channel_layer.group_send(
            public_group(self.session.pk),
            {
                "type": "chat.event",
                "event": {"type": "read", "side": self.side, "id": mark},
                "sender": self.channel_name,
            },
        )

    async def _state_changed(self, call: Any, **kwargs: Any) -> None:
        """Run a use case that changes the session; tell every member the new state."""

        def run() -> dict[str, Any]:
            call(session=self.session, now=timezone.now(), **kwargs)
            self.session = selectors.session_get(self.session.pk)  # type: ignore[union-attr]
            assert self.session is not None
            return state_event(self.session)

        event = await on_db_thread(run)()
        await self.channel_layer.group_send(public_group(self.session.pk), {"type": "chat.event", "event": event})  # type: ignore[union-attr]

    async def on_accept(self, content: dict[str, Any]) -> None:
        await self._state_changed(self.usecases.chat_accept, agent=self.user)

    async def on_transfer(self, content: dict[str, Any]) -> None:
        agent_id, tier = content.get("agent"), content.get("tier")
        to_agent = None
        if agent_id is not None:
            if not isinstance(agent_id, int):
                raise DomainError(_("Choose an agent."), field="agent")
            to_agent = await on_db_thread(lambda: User.objects.filter(pk=agent_id).first())()
            if to_agent is None:
                raise DomainError(_("Choose an agent."), field="agent")
        if tier is not None and not isinstance(tier, int):
            raise DomainError(_("No such tier."), field="tier")
        await self._state_changed(self.usecases.chat_transfer, by=self.user, to_agent=to_agent, to_tier=tier)

    async def on_escalate(self, content: dict[str, Any]) -> None:
        priority, category = content.get("priority"), content.get("category")
        if not isinstance(priority, str) or not isinstance(category, str):
            raise DomainError(_("Choose a priority and a category."))
        await self._state_changed(self.usecases.chat_escalate, by=self.user, priority=priority, category=category)

    async def on_end(self, content: dict[str, Any]) -> None:
        note = content.get("resolve_note") if self.side == "agent" else None
        if note is not None and not isinstance(note, str):
            raise DomainError(_("Malformed frame."))
        await self._state_changed(self.usecases.chat_end, by=self.user, resolve_note=note)

    # --- events from the group ----------------------------------------------------------------------

    async def chat_event(self, message: dict[str, Any]) -> None:
        event = message["event"]
        if message.get("sender") == self.channel_name:
            return
        if event.get("internal") and self.side != "agent":  # never: whispers go to the desk's group only
            return
        if "prev_public" in event:  # a line: the desk's predecessor counts whispers, the customer's does not
            event = {key: value for key, value in event.items() if key != "prev_public"}
            if self.side != "agent":
                event["prev"] = message["event"]["prev_public"]
        await self.send_json(event)
