"""Live chat fixtures: the consumers driven by Channels' WebsocketCommunicator in the test's own thread.

Each test's coroutine runs under ``async_to_sync`` (``run``), so the consumer's
``database_sync_to_async`` calls run in the test's thread, inside its transaction: ordinary
(rolled back) database tests, no flush. Channels closes "old" connections around each call,
which inside a test transaction would close the test's own: that is switched off here. The
consumers' own database threads (chat.consumers.DB_THREAD_SENSITIVE) are switched off too: on
them the calls would not see the test's uncommitted rows.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine
from contextvars import ContextVar
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.testing import WebsocketCommunicator
from django.test import Client
from django.utils import timezone

from chat import services
from support import usecases


@pytest.fixture(autouse=True)
def _keep_test_connection(monkeypatch):
    monkeypatch.setattr("channels.db.close_old_connections", lambda: None)
    monkeypatch.setattr("chat.consumers.DB_THREAD_SENSITIVE", True)


# The sockets ``socket`` opened in the running scenario: ``run`` disconnects each before the scenario's event
# loop closes, so no consumer is left cancelled mid-receive there (on the Redis channel layer that could hang
# the loop's shutdown, and the test with it).
_opened: ContextVar[list[WebsocketCommunicator] | None] = ContextVar("opened_sockets", default=None)


def run(scenario: Callable[[], Coroutine[Any, Any, Any]]) -> Any:
    async def scenario_then_disconnect() -> Any:
        opened: list[WebsocketCommunicator] = []
        _opened.set(opened)
        try:
            return await scenario()
        finally:
            for ws in opened:
                # Closed by the server or the test already, or cancelled by a receive that timed out (asgiref
                # cancels the application then: its result is a CancelledError, not the scenario's).
                with contextlib.suppress(Exception, asyncio.CancelledError):
                    await ws.disconnect(timeout=2)

    return async_to_sync(scenario_then_disconnect)()


def cookie_for(user) -> str:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}"


def login(*users) -> None:
    """Sign ``users`` in (outside the scenario's event loop): ``socket(user=…)`` sends their cookie."""
    for user in users:
        user.chat_cookie = cookie_for(user)


def socket(path: str, *, user=None, origin: str = "http://testserver") -> WebsocketCommunicator:
    from sofacover.asgi import application

    headers = [(b"origin", origin.encode())]
    if user is not None:
        headers.append((b"cookie", user.chat_cookie.encode()))
    communicator = WebsocketCommunicator(application, path, headers=headers)
    opened = _opened.get()
    if opened is not None:
        opened.append(communicator)
    return communicator


async def receive_until(communicator: WebsocketCommunicator, kind: str, timeout: float = 3) -> dict:
    """The next frame of ``kind``, skipping others (state, typing…)."""
    while True:
        frame = await communicator.receive_json_from(timeout=timeout)
        if frame["type"] == kind:
            return frame


@pytest.fixture
def available_agent(agent):
    services.presence_set(agent=agent, available=True, now=timezone.now())
    return agent


@pytest.fixture
def chat(customer):
    return usecases.chat_start(visitor=customer, body="My sofa cover order has not arrived", now=timezone.now())
