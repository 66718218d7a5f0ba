"""Two ASGI processes on one Redis: a customer on one (uvicorn), an agent on the other (daphne), talking.

Needs REDIS_URL (the channel layer between the processes) and PostgreSQL (both servers and the test
read the same test database); CI sets both.
"""

from __future__ import annotations

import asyncio
import json
import os

import pytest
from asgiref.sync import async_to_sync
from django.utils import timezone
from websockets.asyncio.client import connect
from websockets.typing import Origin

from chat import services, tokens
from support import usecases
from tickets.models import Message, Ticket

from .conftest import cookie_for
from .servers import ON_POSTGRESQL, asgi_server

pytestmark = [
    pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs REDIS_URL: the channel layer is Redis"),
    pytest.mark.skipif(not ON_POSTGRESQL, reason="needs PostgreSQL: the servers share the test database"),
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


async def frame_of(ws, kind: str, body: str | None = None) -> dict:
    while True:
        frame = json.loads(await asyncio.wait_for(ws.recv(), timeout=10))
        if frame["type"] == kind and (body is None or frame.get("body") == body):
            return frame


def test_a_customer_and_an_agent_on_two_servers_talk(tmp_path, customer, agent):
    services.presence_set(agent=agent, available=True, now=timezone.now())
    chat = usecases.chat_start(visitor=customer, body="Is anyone there?", now=timezone.now())
    token = tokens.visitor_token(session_id=chat.pk, visitor_id=customer.pk)
    cookie = cookie_for(agent)

    async def conversation(customer_port: int, agent_port: int) -> tuple[dict, dict, dict]:
        async with (
            connect(
                f"ws://127.0.0.1:{customer_port}/ws/chat/{chat.pk}/?token={token}",
                origin=Origin(f"http://127.0.0.1:{customer_port}"),
            ) as visitor,
            connect(
                f"ws://127.0.0.1:{agent_port}/ws/chat/{chat.pk}/",
                origin=Origin(f"http://127.0.0.1:{agent_port}"),
                additional_headers={"Cookie": cookie},
            ) as desk,
        ):
            await frame_of(visitor, "state")
            await frame_of(desk, "state")
            await desk.send(json.dumps({"type": "accept"}))
            accepted = await frame_of(visitor, "state")
            await desk.send(json.dumps({"type": "message", "body": "Yes, Tina here. How can I help?"}))
            answer = await frame_of(visitor, "message", "Yes, Tina here. How can I help?")
            await visitor.send(json.dumps({"type": "message", "body": "My cover is the wrong size"}))
            heard = await frame_of(desk, "message", "My cover is the wrong size")
            return accepted, answer, heard

    with asgi_server("uvicorn", tmp_path) as customer_port, asgi_server("daphne", tmp_path) as agent_port:
        accepted, answer, heard = async_to_sync(conversation)(customer_port, agent_port)

    assert accepted["state"] == "active"
    assert answer["side"] == "agent"
    assert answer["author"] == "Support team"
    assert heard["side"] == "customer"
    ticket = Ticket.objects.get(pk=chat.ticket_id)
    assert ticket.channel == Ticket.Channel.CHAT
    assert ticket.first_responded_at is not None
    assert list(Message.objects.filter(ticket=ticket).order_by("pk").values_list("body", flat=True)) == [
        "Yes, Tina here. How can I help?",
        "My cover is the wrong size",
    ]
