"""The console's live queue socket (/ws/chat/queue/): who may listen, and the events the use cases publish
after commit as the queue changes.

The use cases send after commit (``transaction.on_commit``), which a rolled-back test transaction never
reaches: the tests that wait for events run on a transactional database (committed for real, flushed
after), the consumer's ``database_sync_to_async`` calls in the test's own thread as in the other tests.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from channels.db import database_sync_to_async
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from chat.models import ChatSession
from support import usecases
from tests.tickets.factories import make_user

from .conftest import login, receive_until, run, socket

QUEUE = "/ws/chat/queue/"
MONDAY_10 = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)  # Europe/London is on UTC in December


class RolledBack(Exception):
    pass


def start_then_roll_back(customer) -> None:
    with transaction.atomic():
        usecases.chat_start(visitor=customer, body="Never mind", now=timezone.now())
        raise RolledBack


def at_once(call, **kwargs):
    return database_sync_to_async(call)(now=timezone.now(), **kwargs)


@pytest.mark.django_db
class TestWhoListens:
    def test_a_customer_and_an_anonymous_socket_are_refused(self, customer):
        login(customer)

        async def scenario():
            as_customer = await socket(QUEUE, user=customer).connect()
            anonymous = await socket(QUEUE).connect()
            return as_customer, anonymous

        assert run(scenario) == ((False, 4403), (False, 4403))

    def test_an_origin_outside_allowed_hosts_is_refused(self, agent, settings):
        settings.ALLOWED_HOSTS = ["desk.example.com"]
        login(agent)

        async def scenario():
            evil = await socket(QUEUE, user=agent, origin="https://evil.example").connect()
            page = socket(QUEUE, user=agent, origin="https://desk.example.com")
            ours = await page.connect()
            await page.disconnect()
            return evil[0], ours[0]

        assert run(scenario) == (False, True)

    def test_an_agent_gets_the_queue_on_joining_and_a_frame_in_gets_an_error(
        self, agent, customer, other_customer, chat
    ):
        later = usecases.chat_start(visitor=other_customer, body="Second " + "x" * 100, now=timezone.now())
        mine = usecases.chat_start(visitor=make_user("carol@example.com", "customer"), body="Mine", now=timezone.now())
        usecases.chat_accept(session=mine, agent=agent, now=timezone.now())
        login(agent)

        async def scenario():
            ws = socket(QUEUE, user=agent)
            connected, _ = await ws.connect()
            assert connected
            snapshot = await ws.receive_json_from(timeout=3)
            await ws.send_json_to({"type": "accept"})
            error = await receive_until(ws, "error")
            await ws.disconnect()
            return snapshot, error

        snapshot, error = run(scenario)
        assert snapshot["type"] == "queue"
        assert [row["id"] for row in snapshot["waiting"]] == [chat.pk, later.pk]
        first = snapshot["waiting"][0]
        assert first["customer"] == "Alice"
        assert first["ticket"] == chat.ticket.reference
        assert first["since"] == chat.arrived_at.isoformat()
        assert first["first"] == "My sofa cover order has not arrived"
        assert len(snapshot["waiting"][1]["first"]) == 80
        assert [row["id"] for row in snapshot["mine"]] == [mine.pk]
        assert snapshot["available"] is False
        assert set(snapshot["opening"]) == {"open", "in_hours", "agents"}
        assert error["message"] == "This socket only listens."


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
class TestEvents:
    def test_start_accept_transfer_end_and_availability_each_reach_the_queue_pages(
        self, customer, other_customer, agent, tier2_agent
    ):
        login(agent, tier2_agent, customer)

        async def scenario():
            page, colleague = socket(QUEUE, user=agent), socket(QUEUE, user=tier2_agent)
            for ws in (page, colleague):
                await ws.connect()
                await receive_until(ws, "queue")
            heard = []

            async def next_event(kind="chat"):
                event = await receive_until(page, kind)
                assert await receive_until(colleague, kind) == event  # one group: every agent's page hears it
                heard.append(event)
                return event

            # in business hours (a Monday morning): the widget opens with one agent available
            await database_sync_to_async(usecases.chat_availability)(agent=tier2_agent, available=True, now=MONDAY_10)
            await next_event("availability")
            session = await at_once(usecases.chat_start, visitor=customer, body="Where is my order?")
            await next_event()
            # The changes on the chat itself are frames of the chat's socket: its use cases publish too.
            desk = socket(f"/ws/chat/{session.pk}/", user=agent)
            visitor = socket(f"/ws/chat/{session.pk}/", user=customer)
            for ws in (desk, visitor):
                await ws.connect()
                await receive_until(ws, "state")
            await desk.send_json_to({"type": "accept"})
            await next_event()
            await desk.send_json_to({"type": "transfer", "agent": tier2_agent.pk})
            await next_event()
            await desk.send_json_to({"type": "transfer", "tier": 9})  # refused: no such tier
            await receive_until(desk, "error")
            await desk.send_json_to({"type": "transfer", "tier": 2})
            await next_event()
            await visitor.send_json_to({"type": "end"})
            await next_event()
            quiet = await page.receive_nothing(timeout=0.3)
            for ws in (page, colleague, desk, visitor):
                await ws.disconnect()
            return session, heard, quiet

        session, heard, quiet = run(scenario)
        availability, started, accepted, to_agent, to_tier, ended = heard
        assert availability["agent_id"] == tier2_agent.pk
        assert availability["available"] is True
        assert availability["opening"] == {"open": True, "in_hours": True, "agents": 1}
        assert started["change"] == "started"
        assert started["chat"]["id"] == session.pk
        assert started["chat"]["state"] == "waiting"
        assert started["chat"]["since"] == session.arrived_at.isoformat()  # the wait is counted from it
        assert started["chat"]["customer"] == "Alice"
        assert started["chat"]["first"] == "Where is my order?"
        assert (accepted["change"], accepted["chat"]["state"], accepted["chat"]["agent_id"]) == (
            "accepted",
            "active",
            agent.pk,
        )
        assert (to_agent["change"], to_agent["chat"]["state"], to_agent["chat"]["agent_id"]) == (
            "transferred",
            "active",
            tier2_agent.pk,
        )
        arrived_again = ChatSession.objects.get(pk=session.pk).arrived_at
        assert (to_tier["change"], to_tier["chat"]["state"], to_tier["chat"]["tier"]) == ("transferred", "waiting", 2)
        assert to_tier["chat"]["since"] == arrived_again.isoformat() != started["chat"]["since"]
        assert (ended["change"], ended["chat"]["state"]) == ("ended", "ended")
        assert quiet  # the refused transfer published nothing

    def test_a_refused_change_publishes_nothing(self, customer, agent, tier2_agent):
        session = usecases.chat_start(visitor=customer, body="Hello", now=timezone.now())
        usecases.chat_accept(session=session, agent=agent, now=timezone.now())
        login(agent)

        async def scenario():
            page = socket(QUEUE, user=agent)
            await page.connect()
            await receive_until(page, "queue")
            with pytest.raises(Exception, match="already taken"):
                await at_once(usecases.chat_accept, session=session, agent=tier2_agent)
            with pytest.raises(Exception, match="Choose another agent"):
                await at_once(usecases.chat_transfer, session=session, by=agent, to_agent=agent)
            with pytest.raises(RolledBack):  # a chat started inside a transaction rolled back after it
                await database_sync_to_async(start_then_roll_back)(customer)
            quiet = await page.receive_nothing(timeout=0.3)
            await page.disconnect()
            return quiet

        assert run(scenario) is True
        assert ChatSession.objects.count() == 1

    def test_the_availability_toggle_on_the_page_is_heard(self, client, agent):
        login(agent)
        client.force_login(agent)

        async def scenario():
            page = socket(QUEUE, user=agent)
            await page.connect()
            snapshot = await receive_until(page, "queue")
            await database_sync_to_async(client.post)(reverse("chat-console:queue"), {"available": "1"})
            event = await receive_until(page, "availability")
            await page.disconnect()
            return snapshot, event

        snapshot, event = run(scenario)
        assert snapshot["available"] is False
        assert (event["agent_id"], event["available"]) == (agent.pk, True)
