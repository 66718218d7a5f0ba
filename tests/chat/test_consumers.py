"""The chat's websocket, through the real ASGI application (origin check, session auth, routing)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from django.utils import timezone

from chat import tokens
from chat.models import ChatSession
from tests.tickets.factories import make_user
from tickets.models import Message, Ticket

from .conftest import login, receive_until, run, socket

pytestmark = pytest.mark.django_db


def path_of(chat, **query) -> str:
    qs = "&".join(f"{k}={v}" for k, v in query.items())
    return f"/ws/chat/{chat.pk}/" + (f"?{qs}" if qs else "")


class TestJoining:
    def test_the_visitor_joins_their_own_chat_and_gets_its_state_and_transcript(self, chat, customer):
        login(customer)

        async def scenario():
            ws = socket(path_of(chat), user=customer)
            connected, _ = await ws.connect()
            assert connected
            first = await ws.receive_json_from(timeout=3)
            state = await ws.receive_json_from(timeout=3)
            await ws.disconnect()
            return first, state

        first, state = run(scenario)
        assert first["type"] == "message"
        assert first["body"] == "My sofa cover order has not arrived"
        assert first["side"] == "customer"
        assert state == {"type": "state", "state": "waiting", "agent": None, "ticket": chat.ticket.reference}

    def test_another_customer_is_closed_with_4403(self, chat, other_customer):
        login(other_customer)

        async def scenario():
            ws = socket(path_of(chat), user=other_customer)
            return await ws.connect()

        assert run(scenario) == (False, 4403)

    def test_nobody_signed_in_and_no_token_is_closed_with_4403(self, chat):
        async def scenario():
            return await socket(path_of(chat)).connect()

        assert run(scenario) == (False, 4403)

    def test_an_unknown_chat_is_closed_with_4404(self, customer):
        login(customer)

        async def scenario():
            return await socket("/ws/chat/999999/", user=customer).connect()

        assert run(scenario) == (False, 4404)

    def test_an_anonymous_visitor_joins_with_the_token_of_their_chat_only(self, chat, customer):
        other = ChatSession.objects.get(pk=chat.pk)
        good = tokens.visitor_token(session_id=chat.pk, visitor_id=customer.pk)
        for_another_chat = tokens.visitor_token(session_id=other.pk + 1, visitor_id=customer.pk)

        async def scenario():
            ok = await socket(path_of(chat, token=good)).connect()
            wrong = await socket(path_of(chat, token=for_another_chat)).connect()
            forged = await socket(path_of(chat, token=good[:-2] + "xx")).connect()
            return ok[0], wrong, forged

        ok, wrong, forged = run(scenario)
        assert ok is True
        assert wrong == (False, 4403)
        assert forged == (False, 4403)

    def test_an_expired_token_is_refused(self, chat, customer, settings, time_machine):
        token = tokens.visitor_token(session_id=chat.pk, visitor_id=customer.pk)
        time_machine.move_to(timezone.now() + timedelta(seconds=settings.CHAT_TOKEN_MAX_AGE + 5))

        async def scenario():
            return await socket(path_of(chat, token=token)).connect()

        assert run(scenario) == (False, 4403)

    def test_an_origin_outside_allowed_hosts_is_refused(self, chat, customer, settings):
        settings.ALLOWED_HOSTS = ["desk.example.com"]

        login(customer)

        async def scenario():
            evil = await socket(path_of(chat), user=customer, origin="https://evil.example").connect()
            ours = await socket(path_of(chat), user=customer, origin="https://desk.example.com").connect()
            return evil[0], ours[0]

        assert run(scenario) == (False, True)


class TestConversation:
    def test_agent_accepts_and_answers_the_customer_first_response_met(self, chat, customer, available_agent):
        login(customer, available_agent)

        async def scenario():
            visitor = socket(path_of(chat), user=customer)
            desk = socket(path_of(chat), user=available_agent)
            await visitor.connect()
            await desk.connect()
            await desk.send_json_to({"type": "accept"})
            accepted = await receive_until(visitor, "state")  # the first state frame is the join's
            if accepted["state"] != "active":
                accepted = await receive_until(visitor, "state")
            await desk.send_json_to({"type": "message", "body": "Hello, let me look at <b>your order</b>."})
            line = await receive_until(visitor, "message")
            line = line if line["side"] == "agent" else await receive_until(visitor, "message")
            await visitor.send_json_to({"type": "message", "body": "Thanks!"})
            answer = await receive_until(desk, "message")
            while answer["body"] != "Thanks!":
                answer = await receive_until(desk, "message")
            await visitor.disconnect()
            await desk.disconnect()
            return accepted, line

        accepted, line = run(scenario)
        assert accepted["state"] == "active"
        assert accepted["agent"] == "Support team"
        assert line["body"] == "Hello, let me look at <b>your order</b>."  # as written: the page escapes it
        assert line["author"] == "Support team"
        ticket = Ticket.objects.get(pk=chat.ticket_id)
        assert ticket.channel == Ticket.Channel.CHAT
        assert ticket.assignee_id == available_agent.pk
        assert ticket.first_responded_at is not None
        assert ticket.first_response_due_at is not None
        assert ticket.first_responded_at <= ticket.first_response_due_at
        assert ticket.description == "My sofa cover order has not arrived"
        assert list(ticket.messages.order_by("pk").values_list("body", "by_agent", "internal")) == [
            ("Hello, let me look at <b>your order</b>.", True, False),
            ("Thanks!", False, False),
        ]

    def test_an_agent_who_has_not_accepted_cannot_write_to_the_customer(self, chat, available_agent):
        login(available_agent)

        async def scenario():
            desk = socket(path_of(chat), user=available_agent)
            await desk.connect()
            await desk.send_json_to({"type": "message", "body": "hi"})
            return await receive_until(desk, "error")

        assert "Accept the chat" in run(scenario)["message"]
        assert not Message.objects.filter(ticket=chat.ticket, by_agent=True).exists()

    def test_a_whisper_reaches_the_agents_never_the_customer(self, chat, customer, available_agent, tier2_agent):
        login(customer, available_agent, tier2_agent)

        async def scenario():
            visitor = socket(path_of(chat), user=customer)
            desk = socket(path_of(chat), user=available_agent)
            colleague = socket(path_of(chat), user=tier2_agent)
            for ws in (visitor, desk, colleague):
                await ws.connect()
            for ws in (visitor, desk, colleague):  # the transcript and the state on joining
                await receive_until(ws, "state")
            await desk.send_json_to({"type": "accept"})
            await desk.send_json_to({"type": "message", "body": "Hello"})
            await receive_until(visitor, "message")
            await desk.send_json_to({"type": "message", "body": "Refund is over my limit", "internal": True})
            heard = await receive_until(colleague, "message")
            while heard["body"] == "Hello":
                heard = await receive_until(colleague, "message")
            customer_got = await visitor.receive_nothing(timeout=0.3) or await visitor.receive_json_from()
            # and a reconnecting customer's replay leaves it out too
            again = socket(path_of(chat), user=customer)
            await again.connect()
            replay = [await again.receive_json_from(timeout=3) for _ in range(3)]
            for ws in (visitor, desk, colleague, again):
                await ws.disconnect()
            return heard, customer_got, replay

        heard, customer_got, replay = run(scenario)
        assert heard["internal"] is True
        assert heard["body"] == "Refund is over my limit"
        assert customer_got is True
        assert [frame.get("body", frame["type"]) for frame in replay] == [chat.ticket.description, "Hello", "state"]
        assert Message.objects.get(body="Refund is over my limit").internal is True

    def test_a_customer_cannot_whisper(self, chat, customer):
        login(customer)

        async def scenario():
            visitor = socket(path_of(chat), user=customer)
            await visitor.connect()
            await visitor.send_json_to({"type": "message", "body": "psst", "internal": True})
            while (await receive_until(visitor, "message"))["body"] != "psst":
                pass

        run(scenario)
        assert Message.objects.get(body="psst").internal is False

    def test_typing_and_read_marks_go_to_the_other_side(self, chat, customer, available_agent):
        from support import usecases

        first = usecases.chat_message(session=chat, author=customer, body="Hello?", now=timezone.now()).pk
        login(customer, available_agent)

        async def scenario():
            visitor = socket(path_of(chat), user=customer)
            desk = socket(path_of(chat), user=available_agent)
            await visitor.connect()
            await desk.connect()
            await receive_until(desk, "state")
            await receive_until(visitor, "state")
            await visitor.send_json_to({"type": "typing"})
            typing = await receive_until(desk, "typing")
            await desk.send_json_to({"type": "read", "id": first})
            read = await receive_until(visitor, "read")
            own_echo = await desk.receive_nothing(timeout=0.2)
            return typing, read, own_echo

        typing, read, own_echo = run(scenario)
        assert typing == {"type": "typing", "side": "customer"}
        assert read == {"type": "read", "side": "agent", "id": first}
        assert own_echo is True
        assert ChatSession.objects.get(pk=chat.pk).agent_read == first

    def test_reconnecting_replays_only_what_was_not_seen(self, chat, customer, available_agent):
        from support import usecases

        now = timezone.now()
        usecases.chat_accept(session=chat, agent=available_agent, now=now)
        seen = usecases.chat_message(session=chat, author=available_agent, body="Seen", now=now).pk
        usecases.chat_message(session=chat, author=available_agent, body="While you were away", now=now)
        usecases.chat_message(session=chat, author=customer, body="Back", now=now)

        login(customer)

        async def scenario():
            ws = socket(path_of(chat, last=seen), user=customer)
            await ws.connect()
            frames = [await ws.receive_json_from(timeout=3) for _ in range(3)]
            nothing = await ws.receive_nothing(timeout=0.1)
            return frames, nothing

        frames, nothing = run(scenario)
        assert [f.get("body", f["type"]) for f in frames] == ["While you were away", "Back", "state"]
        assert nothing is True


class TestEachLineNamesTheOneBefore:
    """A line's ``prev`` is the line its reader saw before it, so a browser can tell it missed one."""

    def test_the_desk_counts_whispers_the_customer_does_not_and_never_learns_their_ids(
        self, chat, customer, available_agent
    ):
        login(customer, available_agent)

        async def scenario():
            visitor = socket(path_of(chat), user=customer)
            desk = socket(path_of(chat), user=available_agent)
            for ws in (visitor, desk):
                await ws.connect()
                await receive_until(ws, "state")
            await desk.send_json_to({"type": "accept"})
            frames: dict[str, list[dict]] = {"visitor": [], "desk": []}
            for body, internal in (("Hello", False), ("Check the warehouse", True), ("Found it", False)):
                await desk.send_json_to({"type": "message", "body": body, "internal": internal})
                frames["desk"].append(await receive_until(desk, "message"))
                if not internal:
                    frames["visitor"].append(await receive_until(visitor, "message"))
            await visitor.send_json_to({"type": "message", "body": "Thanks"})
            frames["visitor"].append(await receive_until(visitor, "message"))
            frames["desk"].append(await receive_until(desk, "message"))
            everything_else = [await visitor.receive_nothing(timeout=0.2)]
            for ws in (visitor, desk):
                await ws.disconnect()
            return frames, everything_else

        frames, everything_else = run(scenario)
        ids = dict(Message.objects.filter(ticket=chat.ticket).values_list("body", "pk"))
        hello, whisper, found, thanks = ids["Hello"], ids["Check the warehouse"], ids["Found it"], ids["Thanks"]
        assert [(f["body"], f["prev"]) for f in frames["desk"]] == [
            ("Hello", 0),
            ("Check the warehouse", hello),
            ("Found it", whisper),
            ("Thanks", found),
        ]
        assert [(f["body"], f["prev"]) for f in frames["visitor"]] == [
            ("Hello", 0),
            ("Found it", hello),
            ("Thanks", found),
        ]
        assert everything_else == [True]
        for frame in frames["visitor"]:
            assert set(frame) == {"type", "id", "prev", "side", "author", "body", "internal", "at"}
            assert whisper not in frame.values()
        assert thanks > found

    def test_a_reply_made_on_the_ticket_page_shows_as_a_gap_and_the_replay_fills_it(
        self, chat, customer, available_agent
    ):
        """Not every message of the ticket comes through the chat: the next line names it, and a socket that
        reconnects from the last line it has gets it, in order, with the chain unbroken."""
        from support import usecases

        now = timezone.now()
        usecases.chat_accept(session=chat, agent=available_agent, now=now)
        hello = usecases.chat_message(session=chat, author=available_agent, body="Hello", now=now).pk
        login(customer, available_agent)

        async def scenario():
            visitor = socket(path_of(chat, last=hello), user=customer)
            desk = socket(path_of(chat, last=hello), user=available_agent)
            for ws in (visitor, desk):
                await ws.connect()
                await receive_until(ws, "state")
            await database_sync_to_async(usecases.reply)(
                ticket=chat.ticket, author=available_agent, body="We mailed you a label", now=now
            )
            await desk.send_json_to({"type": "message", "body": "Anything else?"})
            live = await receive_until(visitor, "message")
            await visitor.disconnect()
            again = socket(path_of(chat, last=hello), user=customer)
            await again.connect()
            replay = [await receive_until(again, "message") for _ in range(2)]
            for ws in (desk, again):
                await ws.disconnect()
            return live, replay

        live, replay = run(scenario)
        label = Message.objects.get(body="We mailed you a label").pk
        assert (live["body"], live["prev"]) == ("Anything else?", label)
        assert [(f["body"], f["prev"]) for f in replay] == [
            ("We mailed you a label", hello),
            ("Anything else?", label),
        ]


class TestLimits:
    def test_a_line_over_the_size_limit_is_refused_and_a_huge_frame_closes(self, chat, customer, settings):
        login(customer)

        async def scenario():
            ws = socket(path_of(chat), user=customer)
            await ws.connect()
            await ws.send_json_to({"type": "message", "body": "é" * (settings.CHAT_MESSAGE_MAX_BYTES // 2 + 1)})
            error = await receive_until(ws, "error")
            await ws.send_to(text_data="x" * (settings.CHAT_FRAME_MAX_BYTES + 1))
            closed = await receive_until(ws, "close") if False else await ws.receive_output()
            return error, closed

        error, closed = run(scenario)
        assert "limited" in error["message"]
        assert closed == {"type": "websocket.close", "code": 1009}
        assert not Message.objects.filter(ticket=chat.ticket).exists()

    def test_lines_are_rate_limited_per_person(self, chat, customer, settings):
        settings.CHAT_RATE_MESSAGES = 3

        login(customer)

        async def scenario():
            ws = socket(path_of(chat), user=customer)
            await ws.connect()
            for n in range(4):
                await ws.send_json_to({"type": "message", "body": f"line {n}"})
            return await receive_until(ws, "error")

        assert "Slow down" in run(scenario)["message"]
        assert Message.objects.filter(ticket=chat.ticket, body__startswith="line").count() == 3

    def test_garbage_frames_get_an_error_not_a_crash(self, chat, customer):
        login(customer)

        async def scenario():
            ws = socket(path_of(chat), user=customer)
            await ws.connect()
            await receive_until(ws, "state")
            errors = []
            for frame in ("not json", "[1]", '{"type": 5}', '{"type": "read", "id": "x"}', '{"type": "accept"}'):
                await ws.send_to(text_data=frame)
                errors.append(await receive_until(ws, "error"))
            return errors

        assert len(run(scenario)) == 5


class TestAcceptRace:
    def test_two_agents_accepting_at_once_one_gets_it(self, chat, available_agent):
        second = make_user("tier1b@sofacoverpro.com", "agent", tier=1)

        login(available_agent, second)

        async def scenario():
            a, b = socket(path_of(chat), user=available_agent), socket(path_of(chat), user=second)
            await a.connect()
            await b.connect()
            await receive_until(a, "state")
            await receive_until(b, "state")
            await asyncio.gather(a.send_json_to({"type": "accept"}), b.send_json_to({"type": "accept"}))
            frames = []
            for ws in (a, b):
                while True:
                    try:
                        frames.append(await ws.receive_json_from(timeout=0.5))
                    except TimeoutError:
                        break
            return frames

        frames = run(scenario)
        errors = [f for f in frames if f["type"] == "error"]
        assert len(errors) == 1
        assert errors[0]["code"] == "conflict"
        session = ChatSession.objects.get(pk=chat.pk)
        assert session.state == "active"
        assert session.agent_id in {available_agent.pk, second.pk}
        assert Ticket.objects.get(pk=chat.ticket_id).assignee_id == session.agent_id


async def joined(*sockets) -> None:
    """Connect each socket and read past its join (the transcript, then the state)."""
    for ws in sockets:
        connected, _ = await ws.connect()
        assert connected
        await receive_until(ws, "state")


async def state_of(ws) -> dict:
    """The next state frame (after any typing, read or message frames)."""
    return await receive_until(ws, "state")


class TestAgentFrames:
    """transfer, escalate and end as frames on the socket: the use cases behind them, and what each side hears."""

    def test_transfer_to_an_available_agent_hands_over_chat_and_ticket(
        self, chat, customer, available_agent, tier2_agent
    ):
        from support import usecases

        usecases.chat_accept(session=chat, agent=available_agent, now=timezone.now())
        usecases.chat_availability(agent=tier2_agent, available=True, now=timezone.now())
        login(customer, available_agent)

        async def scenario():
            visitor, desk = socket(path_of(chat), user=customer), socket(path_of(chat), user=available_agent)
            await joined(visitor, desk)
            await desk.send_json_to({"type": "transfer", "agent": tier2_agent.pk})
            frames = await state_of(visitor), await state_of(desk)
            return frames

        seen_by_visitor, seen_by_desk = run(scenario)
        assert seen_by_visitor == {
            "type": "state",
            "state": "active",
            "agent": "Support team",
            "ticket": chat.ticket.reference,
        }
        assert seen_by_desk["state"] == "active"  # one state for every member: the desk is "Support team"
        session = ChatSession.objects.get(pk=chat.pk)
        assert (session.state, session.agent_id) == ("active", tier2_agent.pk)
        assert Ticket.objects.get(pk=chat.ticket_id).assignee_id == tier2_agent.pk

    def test_transfer_to_a_tier_puts_the_chat_back_in_that_queue(self, chat, customer, available_agent):
        from support import usecases

        usecases.chat_accept(session=chat, agent=available_agent, now=timezone.now())
        login(customer, available_agent)

        async def scenario():
            visitor, desk = socket(path_of(chat), user=customer), socket(path_of(chat), user=available_agent)
            await joined(visitor, desk)
            await desk.send_json_to({"type": "transfer", "tier": 2})
            state = await state_of(visitor)
            return state

        assert run(scenario)["state"] == "waiting"
        session = ChatSession.objects.get(pk=chat.pk)
        assert (session.state, session.tier, session.agent_id) == ("waiting", 2, None)
        ticket = Ticket.objects.get(pk=chat.ticket_id)
        assert (ticket.tier, ticket.assignee_id) == (2, None)

    def test_bad_transfers_get_an_error_frame_and_change_nothing(self, chat, customer, available_agent):
        from support import usecases

        usecases.chat_accept(session=chat, agent=available_agent, now=timezone.now())
        login(customer, available_agent)

        async def scenario():
            visitor, desk = socket(path_of(chat), user=customer), socket(path_of(chat), user=available_agent)
            await joined(visitor, desk)
            await visitor.send_json_to({"type": "transfer", "tier": 2})  # a customer
            by_customer = await receive_until(visitor, "error")
            errors = []
            for frame in ({"tier": 9}, {"tier": "2"}, {"agent": "x"}, {"agent": 999999}, {}, {"agent": customer.pk}):
                await desk.send_json_to({"type": "transfer", **frame})
                errors.append(await receive_until(desk, "error"))
            quiet = await visitor.receive_nothing(timeout=0.2)
            return by_customer, errors, quiet

        by_customer, errors, visitor_heard_nothing = run(scenario)
        assert by_customer["message"] == "Only support agents can do this."
        assert [e["message"] for e in errors] == [
            "No such tier.",
            "No such tier.",
            "Choose an agent.",
            "Choose an agent.",
            "Transfer to an agent or to a tier.",
            "Choose another agent.",
        ]
        assert visitor_heard_nothing  # no state change went out
        session = ChatSession.objects.get(pk=chat.pk)
        assert (session.state, session.tier, session.agent_id) == ("active", 1, available_agent.pk)

    def test_escalate_changes_the_tickets_priority_and_category_bad_values_get_an_error(
        self, chat, customer, available_agent
    ):
        login(customer, available_agent)

        async def scenario():
            visitor, desk = socket(path_of(chat), user=customer), socket(path_of(chat), user=available_agent)
            await joined(visitor, desk)
            await visitor.send_json_to({"type": "escalate", "priority": "P0", "category": "payment"})
            by_customer = await receive_until(visitor, "error")
            errors = []
            for frame in (
                {"priority": "P9", "category": "payment"},
                {"priority": "P1", "category": "sofas"},
                {"priority": 1, "category": "payment"},
                {"category": "payment"},
            ):
                await desk.send_json_to({"type": "escalate", **frame})
                errors.append(await receive_until(desk, "error"))
            await desk.send_json_to({"type": "escalate", "priority": "P1", "category": "payment"})
            state = await state_of(desk)
            return by_customer, errors, state

        by_customer, errors, state = run(scenario)
        assert by_customer["message"] == "Only support agents can do this."
        assert [e["message"] for e in errors] == [
            "Value 'P9' is not a valid choice.",
            "Value 'sofas' is not a valid choice.",
            "Choose a priority and a category.",
            "Choose a priority and a category.",
        ]
        assert state["state"] == "waiting"  # the chat goes on (still unaccepted) after the refusals
        ticket = Ticket.objects.get(pk=chat.ticket_id)
        assert (ticket.priority, ticket.category) == ("P1", "payment")

    def test_the_customer_ends_the_chat_and_the_ticket_stays_open(self, chat, customer, available_agent):
        from support import usecases

        usecases.chat_accept(session=chat, agent=available_agent, now=timezone.now())
        status_before = Ticket.objects.get(pk=chat.ticket_id).status
        login(customer, available_agent)

        async def scenario():
            visitor, desk = socket(path_of(chat), user=customer), socket(path_of(chat), user=available_agent)
            await joined(visitor, desk)
            # a customer's resolve_note is not theirs to give: ignored
            await visitor.send_json_to({"type": "end", "resolve_note": "Solved by me"})
            state = await state_of(desk)
            return state

        assert run(scenario)["state"] == "ended"
        assert ChatSession.objects.get(pk=chat.pk).ended_at is not None
        ticket = Ticket.objects.get(pk=chat.ticket_id)
        assert ticket.status == status_before != Ticket.Status.RESOLVED
        assert ticket.resolution_note == ""

    def test_the_agent_ends_with_a_resolve_note_and_the_ticket_is_resolved(self, chat, customer, available_agent):
        from support import usecases

        usecases.chat_accept(session=chat, agent=available_agent, now=timezone.now())
        login(customer, available_agent)

        async def scenario():
            visitor, desk = socket(path_of(chat), user=customer), socket(path_of(chat), user=available_agent)
            await joined(visitor, desk)
            await desk.send_json_to({"type": "end", "resolve_note": 5})
            malformed = await receive_until(desk, "error")
            await desk.send_json_to({"type": "end", "resolve_note": "Sent a replacement cover"})
            state = await state_of(visitor)
            return malformed, state

        malformed, state = run(scenario)
        assert malformed["message"] == "Malformed frame."
        assert state["state"] == "ended"
        ticket = Ticket.objects.get(pk=chat.ticket_id)
        assert ticket.status == Ticket.Status.RESOLVED
        assert ticket.resolution_note == "Sent a replacement cover"
