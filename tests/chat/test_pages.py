"""The widget's doors, its open/closed rule on the business calendar (injected time), the console pages,
and the use cases behind them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from chat import selectors, services, tokens
from chat.models import ChatSession
from notifications.models import Notification
from support import usecases
from tests.tickets.factories import make_user
from tickets.models import Ticket

pytestmark = pytest.mark.django_db

MONDAY_10 = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)  # Europe/London is on UTC in December
MONDAY_19 = datetime(2026, 12, 7, 19, 0, tzinfo=UTC)
SATURDAY_10 = datetime(2026, 12, 5, 10, 0, tzinfo=UTC)


class TestOpening:
    def test_open_in_business_hours_only_with_an_agent_available(self, agent):
        assert selectors.opening(MONDAY_10).open is False  # nobody available
        services.presence_set(agent=agent, available=True, now=MONDAY_10)
        assert selectors.opening(MONDAY_10).open is True
        assert selectors.opening(MONDAY_19).open is False  # after 18:00
        assert selectors.opening(SATURDAY_10).open is False
        services.presence_set(agent=agent, available=False, now=MONDAY_10)
        assert selectors.opening(MONDAY_10).open is False

    def test_a_customer_cannot_set_themselves_available(self, customer):
        with pytest.raises(services.NotAllowed):
            services.presence_set(agent=customer, available=True, now=MONDAY_10)

    def test_the_status_door_answers_by_the_clock(self, client, agent):
        services.presence_set(agent=agent, available=True, now=MONDAY_10)
        with time_machine.travel(MONDAY_10, tick=False):
            assert client.get(reverse("chat:status")).json()["open"] is True
        with time_machine.travel(SATURDAY_10, tick=False):
            answer = client.get(reverse("chat:status")).json()
        assert (answer["open"], answer["in_hours"], answer["signed_in"]) == (False, False, False)
        assert answer["csrf"]


class TestWidgetDoors:
    def test_the_widget_is_on_the_portal_and_the_help_centre(self, client):
        for url in ("/login/", reverse("kb:home")):
            page = client.get(url).content.decode()
            assert 'id="chat-widget"' in page, url
            assert reverse("chat:leave") in page

    def test_an_anonymous_visitor_starts_a_chat_that_is_a_chat_ticket(self, client, agent):
        services.presence_set(agent=agent, available=True, now=MONDAY_10)
        with time_machine.travel(MONDAY_10, tick=False):
            response = client.post(
                reverse("chat:start"), {"name": "Zoe", "email": "Zoe@Example.com", "body": "Where is my cover?"}
            )
        assert response.status_code == 201
        data = response.json()
        session = ChatSession.objects.select_related("ticket", "visitor").get(pk=data["session"])
        assert session.visitor.email == "zoe@example.com"
        assert session.visitor.is_active is False  # an account they can activate by signing up
        assert session.ticket.channel == Ticket.Channel.CHAT
        assert session.ticket.description == "Where is my cover?"
        assert session.state == ChatSession.State.WAITING
        assert tokens.visitor_from_token(data["token"], session_id=session.pk) == session.visitor_id

    def test_start_refuses_when_closed_and_bad_input_with_field_errors(self, client, agent):
        with time_machine.travel(SATURDAY_10, tick=False):
            closed = client.post(reverse("chat:start"), {"name": "Zoe", "email": "z@example.com", "body": "hi"})
        assert closed.status_code == 409
        assert closed.json()["closed"] is True
        services.presence_set(agent=agent, available=True, now=MONDAY_10)
        with time_machine.travel(MONDAY_10, tick=False):
            no_email = client.post(reverse("chat:start"), {"name": "Zoe", "body": "hi"})
            too_long = client.post(reverse("chat:start"), {"name": "Z", "email": "z@example.com", "body": "x" * 5000})
            as_agent = client.post(reverse("chat:start"), {"name": "T", "email": agent.email, "body": "hi"})
        assert no_email.status_code == 400
        assert "email" in no_email.json()["errors"]
        assert too_long.status_code == 400
        assert "body" in too_long.json()["errors"]
        assert as_agent.status_code == 403
        assert not Ticket.objects.exists()

    def test_outside_hours_the_widget_files_a_ticket_from_the_message(self, client):
        with time_machine.travel(SATURDAY_10, tick=False):
            response = client.post(
                reverse("chat:leave"), {"name": "Zoe", "email": "zoe@example.com", "body": "Call me on Monday"}
            )
        assert response.status_code == 201
        ticket = Ticket.objects.get(reference=response.json()["ticket"])
        assert ticket.channel == Ticket.Channel.CHAT
        assert not ChatSession.objects.exists()
        assert Notification.objects.filter(recipient="zoe@example.com").exists()  # the acknowledgment

    def test_both_doors_share_the_per_address_limit_and_say_which_was_refused(self, client, agent, monkeypatch):
        from chat import views

        monkeypatch.setattr(views, "STARTS_PER_HOUR", 2)
        services.presence_set(agent=agent, available=True, now=MONDAY_10)
        fields = {"name": "Zoe", "email": "zoe@example.com", "body": "hi"}
        with time_machine.travel(MONDAY_10, tick=False):
            started = client.post(reverse("chat:start"), fields)
            left = client.post(reverse("chat:leave"), fields)
            too_many_chats = client.post(reverse("chat:start"), fields)
            too_many_messages = client.post(reverse("chat:leave"), fields)
        assert (started.status_code, left.status_code) == (201, 201)
        assert set(started.json()) == {"session", "ticket", "token", "socket"}
        assert set(left.json()) == {"ticket"}
        assert too_many_chats.status_code == too_many_messages.status_code == 429
        assert too_many_chats.json()["errors"]["__all__"] == ["Too many chats from here: try again later."]
        assert too_many_messages.json()["errors"]["__all__"] == ["Too many messages from here: try again later."]
        assert Ticket.objects.count() == 2

    def test_the_widget_posts_need_the_csrf_token_of_the_status_door(self, agent):
        from django.test import Client

        client = Client(enforce_csrf_checks=True)
        services.presence_set(agent=agent, available=True, now=MONDAY_10)
        with time_machine.travel(MONDAY_10, tick=False):
            fields = {"name": "Zoe", "email": "zoe@example.com", "body": "hi"}
            assert client.post(reverse("chat:start"), fields).status_code == 403
            token = client.get(reverse("chat:status")).json()["csrf"]
            assert client.post(reverse("chat:start"), fields, HTTP_X_CSRFTOKEN=token).status_code == 201

    def test_a_signed_in_customer_chats_as_themselves(self, customer_client, customer, agent):
        services.presence_set(agent=agent, available=True, now=MONDAY_10)
        with time_machine.travel(MONDAY_10, tick=False):
            response = customer_client.post(reverse("chat:start"), {"body": "Hi", "email": "someone@else.com"})
        assert ChatSession.objects.get(pk=response.json()["session"]).visitor == customer


class TestUseCases:
    def test_transfer_to_a_tier_requeues_and_to_an_away_agent_is_refused(self, customer, agent, tier2_agent):
        chat = usecases.chat_start(visitor=customer, body="Complex one", now=MONDAY_10)
        usecases.chat_accept(session=chat, agent=agent, now=MONDAY_10)
        with pytest.raises(Exception, match="away"):
            usecases.chat_transfer(session=chat, by=agent, to_agent=tier2_agent, now=MONDAY_10)
        services.presence_set(agent=tier2_agent, available=True, now=MONDAY_10)
        moved = usecases.chat_transfer(session=chat, by=agent, to_agent=tier2_agent, now=MONDAY_10)
        assert moved.agent == tier2_agent
        assert Ticket.objects.get(pk=chat.ticket_id).assignee == tier2_agent
        back = usecases.chat_transfer(session=chat, by=tier2_agent, to_tier=2, now=MONDAY_19)
        assert (back.state, back.tier, back.agent, back.arrived_at) == ("waiting", 2, None, MONDAY_19)
        ticket = Ticket.objects.get(pk=chat.ticket_id)
        assert ticket.tier == 2
        assert ticket.assignee is None

    def test_escalate_and_end_resolving_sends_the_survey(self, customer, agent):
        chat = usecases.chat_start(visitor=customer, body="Checkout fails", now=MONDAY_10)
        usecases.chat_accept(session=chat, agent=agent, now=MONDAY_10)
        usecases.chat_escalate(session=chat, by=agent, priority="P1", category="payment", now=MONDAY_10)
        ticket = Ticket.objects.get(pk=chat.ticket_id)
        assert (ticket.priority, ticket.category) == ("P1", "payment")
        usecases.chat_end(session=chat, by=agent, resolve_note="Card issuer fixed it", now=MONDAY_10)
        ticket.refresh_from_db()
        assert ticket.status == Ticket.Status.RESOLVED
        assert ChatSession.objects.get(pk=chat.pk).state == "ended"
        assert Notification.objects.filter(dedupe_key__startswith="survey:", recipient=customer.email).exists()

    def test_live_lines_are_not_mailed_a_line_after_the_end_is(self, customer, agent):
        chat = usecases.chat_start(visitor=customer, body="Hi", now=MONDAY_10)
        usecases.chat_accept(session=chat, agent=agent, now=MONDAY_10)
        usecases.chat_message(session=chat, author=agent, body="Live answer", now=MONDAY_10)
        assert not Notification.objects.filter(recipient=customer.email).exists()
        usecases.chat_end(session=chat, by=customer, now=MONDAY_10)
        usecases.chat_message(session=chat, author=agent, body="One more thing", now=MONDAY_10)
        assert Notification.objects.filter(recipient=customer.email).count() == 1

    def test_the_second_accept_is_a_conflict(self, customer, agent):
        other = make_user("tier1b@sofacoverpro.com", "agent", tier=1)
        chat = usecases.chat_start(visitor=customer, body="Hi", now=MONDAY_10)
        usecases.chat_accept(session=chat, agent=agent, now=MONDAY_10)
        with pytest.raises(Exception, match="already taken"):
            usecases.chat_accept(session=chat, agent=other, now=MONDAY_10)
        assert Ticket.objects.get(pk=chat.ticket_id).assignee == agent


class TestConsole:
    def test_the_queue_lists_waiting_chats_by_arrival_and_accepting_takes_one(
        self, client, agent, customer, other_customer, django_assert_max_num_queries
    ):
        early = usecases.chat_start(visitor=other_customer, body="I was first", now=timezone.now())
        usecases.chat_start(visitor=customer, body="I came second", now=timezone.now())
        client.force_login(agent)
        with django_assert_max_num_queries(12):
            page = client.get(reverse("chat-console:queue")).content.decode()
        assert page.index("I was first") < page.index("I came second")
        client.post(reverse("chat-console:queue"), {"available": "1"})
        assert selectors.is_available(agent)
        response = client.post(reverse("chat-console:accept", args=[early.pk]))
        assert response.status_code == 302
        assert response["Location"] == reverse("chat-console:chat", args=[early.pk])
        assert ChatSession.objects.get(pk=early.pk).agent == agent
        again = client.post(reverse("chat-console:accept", args=[early.pk]), follow=True)
        assert "already taken" in again.content.decode()

    def test_the_queue_page_listens_on_its_socket_and_reloads_only_without_scripts(self, client, agent, customer):
        chat = usecases.chat_start(visitor=customer, body="Hi", now=timezone.now())
        client.force_login(agent)
        page = client.get(reverse("chat-console:queue")).content.decode()
        assert 'data-socket="/ws/chat/queue/"' in page
        assert f'data-me="{agent.pk}"' in page
        assert 'data-accept="/console/chat/0/accept/"' in page
        assert f'<tr data-chat="{chat.pk}">' in page
        assert f'data-since="{chat.arrived_at.isoformat()}"' in page
        assert 'aria-live="polite"' in page
        assert reverse("admin:jsi18n") in page  # the script's words, translated
        head = page[: page.index("</head>")]
        assert head.count('http-equiv="refresh"') == 1
        assert '<noscript><meta http-equiv="refresh" content="60"></noscript>' in head

    def test_the_chat_page_offers_canned_replies_and_articles(self, client, agent, customer):
        chat = usecases.chat_start(visitor=customer, body="Hi", now=timezone.now())
        client.force_login(agent)
        page = client.get(reverse("chat-console:chat", args=[chat.pk])).content.decode()
        assert 'id="chat-inserts"' in page
        assert "Canned replies" in page
        assert f'data-socket="/ws/chat/{chat.pk}/"' in page

    def test_customers_do_not_get_the_console(self, customer_client, customer):
        chat = usecases.chat_start(visitor=customer, body="Hi", now=timezone.now())
        for url in (reverse("chat-console:queue"), reverse("chat-console:chat", args=[chat.pk])):
            assert customer_client.get(url).status_code in {302, 404}
        assert customer_client.post(reverse("chat-console:accept", args=[chat.pk])).status_code in {302, 404}
        assert ChatSession.objects.get(pk=chat.pk).state == "waiting"
