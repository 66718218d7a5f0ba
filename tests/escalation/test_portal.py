"""The SLA engine in the customer portal: expected times in plain language and "Ask to escalate"."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from escalation import selectors
from escalation.models import Escalation
from support import usecases
from tests.tickets.factories import T0, TicketFactory
from tickets import services as ticket_services
from tickets.models import Ticket

pytestmark = pytest.mark.django_db
Priority = Ticket.Priority
Status = Ticket.Status
CANARY = "CANARY-internal-5d1e"


@pytest.fixture(autouse=True)
def _fresh_policy_book():
    selectors.policy_book_forget()
    yield
    selectors.policy_book_forget()


@pytest.fixture
def customer_client(client, customer):
    client.force_login(customer)
    return client


def page(ticket: Ticket) -> str:
    return reverse("portal:ticket-detail", kwargs={"reference": ticket.reference})


def escalate(ticket: Ticket) -> str:
    return reverse("portal-escalate", kwargs={"reference": ticket.reference})


def ask(client, ticket: Ticket, note: str = "", tier: int | None = None):
    return client.post(escalate(ticket), {"escalate-note": note, "escalate-tier": str(tier or ticket.tier)})


def flashed(response) -> list[tuple[str, str]]:
    return [(message.level_tag, str(message)) for message in get_messages(response.wsgi_request)]


class TestPanel:
    def test_says_when_to_expect_a_reply_and_a_resolution(self, customer_client, customer, time_machine):
        # P2 on business hours, filed Mon 2 Mar 09:00 (GMT): reply by 13:00, resolve by 18:00 (1 business day).
        ticket = TicketFactory(requester=customer, priority=Priority.P2)
        time_machine.move_to(T0 + timedelta(hours=1), tick=False)

        html = customer_client.get(page(ticket)).content.decode()

        assert "What happens next" in html
        assert "Expect our first reply by" in html
        assert "Monday 2 March, 13:00 GMT" in html
        assert "We aim to resolve it by" in html
        assert "Monday 2 March, 18:00 GMT" in html
        assert "aim to reply within 4 working hours and to resolve within 1 working day" in html

    def test_a_critical_ticket_is_stated_in_minutes_and_hours(self, customer_client, customer, time_machine):
        ticket = TicketFactory(requester=customer, priority=Priority.P0)
        time_machine.move_to(T0 + timedelta(minutes=5), tick=False)

        html = customer_client.get(page(ticket)).content.decode()

        assert "aim to reply within 15 minutes and to resolve within 2 hours" in html
        assert "Monday 2 March, 09:15 GMT" in html

    def test_a_late_reply_is_admitted(self, customer_client, customer, time_machine):
        ticket = TicketFactory(requester=customer, priority=Priority.P0)
        time_machine.move_to(T0 + timedelta(minutes=30), tick=False)

        html = customer_client.get(page(ticket)).content.decode()

        assert "Our first reply is late" in html

    def test_waiting_on_the_customer_says_the_clock_is_paused(self, customer_client, customer, agent):
        ticket = TicketFactory(requester=customer, priority=Priority.P2)
        usecases.reply(ticket=ticket, author=agent, body="Which size?", now=T0 + timedelta(hours=1))
        usecases.change_status(ticket=ticket, to=Status.PENDING_CUSTOMER, actor=agent, now=T0 + timedelta(hours=1))

        html = customer_client.get(page(ticket)).content.decode()

        assert "We first replied on" in html
        assert "Monday 2 March, 10:00 GMT" in html
        assert "paused while we wait for your reply" in html

    def test_shows_no_rule_names_and_no_internal_notes(self, customer_client, customer, agent, tier2_agent):
        ticket = TicketFactory(requester=customer, priority=Priority.P0)
        usecases.reply(ticket=ticket, author=agent, body=CANARY, internal=True, now=T0)
        usecases.sla_sweep(now=T0 + timedelta(minutes=40))  # "P0 to Tier 2 after 30 min" fires
        usecases.escalate(
            ticket=ticket, actor=tier2_agent, reason="technical_complexity", note=CANARY, now=T0 + timedelta(hours=1)
        )
        assert Escalation.objects.count() == 2

        html = customer_client.get(page(ticket)).content.decode()

        assert CANARY not in html
        assert "P0 to Tier 2" not in html
        assert "Tier 3" not in html
        assert "Technical complexity" not in html

    def test_a_closed_ticket_has_no_panel(self, customer_client, customer):
        ticket = TicketFactory(requester=customer, status=Status.CLOSED)

        html = customer_client.get(page(ticket)).content.decode()

        assert "What happens next" not in html
        assert escalate(ticket) not in html


class TestAskToEscalateForm:
    def test_is_shown_on_an_active_ticket_with_csrf_and_the_current_tier(self, customer_client, customer):
        ticket = TicketFactory(requester=customer)

        html = customer_client.get(page(ticket)).content.decode()

        assert f'action="{escalate(ticket)}"' in html
        assert "Ask to escalate" in html
        assert 'name="escalate-tier" value="1"' in html
        assert html.count('name="csrfmiddlewaretoken"') >= 2

    def test_is_not_shown_on_a_resolved_ticket(self, customer_client, customer):
        ticket = TicketFactory(requester=customer, status=Status.RESOLVED)

        assert escalate(ticket) not in customer_client.get(page(ticket)).content.decode()

    def test_is_replaced_by_a_note_once_asked_at_this_tier(self, customer_client, customer, agent, time_machine):
        ticket = TicketFactory(requester=customer)
        ticket_services.ticket_move_to_tier(ticket=ticket, tier=3, actor=agent, now=T0)
        time_machine.move_to(T0 + timedelta(minutes=10), tick=False)
        ask(customer_client, ticket, tier=3)

        html = customer_client.get(page(ticket)).content.decode()

        assert escalate(ticket) not in html
        assert "You asked us to escalate this ticket on" in html
        assert "Monday 2 March, 09:10 GMT" in html


class TestAskToEscalate:
    def test_escalates_with_the_customers_reason_and_note(self, customer_client, customer, time_machine):
        ticket = TicketFactory(requester=customer)
        time_machine.move_to(T0 + timedelta(hours=1), tick=False)

        response = ask(customer_client, ticket, note="The party is on Saturday")

        assert response.status_code == 302
        assert response["Location"] == page(ticket)
        escalation = Escalation.objects.get()
        assert (escalation.reason, escalation.actor, escalation.note) == (
            "customer_request",
            customer,
            "The party is on Saturday",
        )
        assert (escalation.from_tier, escalation.to_tier, escalation.at) == (1, 2, T0 + timedelta(hours=1))
        assert Ticket.objects.get(pk=ticket.pk).tier == 2
        assert flashed(response) == [("success", "Thank you. We have asked a more senior team to look at your ticket.")]

    def test_asking_again_from_a_fresh_page_is_refused_with_a_clear_message(
        self, customer_client, customer, time_machine
    ):
        ticket = TicketFactory(requester=customer)
        time_machine.move_to(T0 + timedelta(minutes=10), tick=False)
        ask(customer_client, ticket, tier=1)

        response = ask(customer_client, ticket, tier=2)  # the page shown after the first request

        assert response.status_code == 302
        assert Escalation.objects.count() == 1
        assert Ticket.objects.get(pk=ticket.pk).tier == 2
        level, text = flashed(response)[-1]
        assert level == "error"
        assert text == (
            "You have already asked us to escalate this ticket on Mon 2 Mar 2026, 09:10 GMT. "
            "A team lead reviews every request, so there is no need to ask again."
        )

    def test_a_second_click_on_a_stale_page_does_not_escalate_twice(self, customer_client, customer):
        ticket = TicketFactory(requester=customer)
        ask(customer_client, ticket, tier=1)

        response = ask(customer_client, ticket, tier=1)

        assert Escalation.objects.count() == 1
        assert Ticket.objects.get(pk=ticket.pk).tier == 2
        assert flashed(response)[-1][1].startswith("You have already asked us to escalate this ticket")

    def test_three_requests_never_walk_a_fresh_p3_to_management(self, customer_client, customer, agent, manager):
        ticket = TicketFactory(requester=customer, priority=Priority.P3)

        responses = [ask(customer_client, ticket, tier=tier) for tier in (1, 2, 3)]

        assert [flashed(r)[-1][0] for r in responses] == ["success", "error", "error"]
        assert list(Escalation.objects.values_list("from_tier", "to_tier", "to_management")) == [(1, 2, False)]
        assert Ticket.objects.get(pk=ticket.pk).tier == 2
        html = customer_client.get(page(ticket)).content.decode()
        assert escalate(ticket) not in html
        assert "You can ask once per ticket." in html

    def test_a_resolved_ticket_is_refused_with_a_message_not_a_500(self, customer_client, customer):
        ticket = TicketFactory(requester=customer, status=Status.RESOLVED)

        response = ask(customer_client, ticket)

        assert response.status_code == 302
        assert flashed(response) == [("error", "Only open tickets can be escalated.")]
        assert not Escalation.objects.exists()

    def test_a_note_over_2000_characters_is_refused_and_nothing_is_written(self, customer_client, customer):
        ticket = TicketFactory(requester=customer)

        response = ask(customer_client, ticket, note="x" * 2001)

        assert response.status_code == 302
        assert flashed(response)[0][0] == "error"
        assert not Escalation.objects.exists()

    def test_another_customers_ticket_is_404(self, client, customer, other_customer):
        ticket = TicketFactory(requester=customer)
        client.force_login(other_customer)

        response = ask(client, ticket)

        assert response.status_code == 404
        assert not Escalation.objects.exists()

    def test_an_unknown_ticket_is_404(self, customer_client):
        response = customer_client.post(
            reverse("portal-escalate", kwargs={"reference": "SCP-999999"}), {"escalate-tier": "1"}
        )

        assert response.status_code == 404

    def test_anonymous_is_sent_to_login(self, client, customer):
        ticket = TicketFactory(requester=customer)

        response = ask(client, ticket)

        assert response.status_code == 302
        assert response["Location"].startswith(reverse("portal:login"))
        assert not Escalation.objects.exists()

    def test_requires_the_csrf_token(self, customer):
        ticket = TicketFactory(requester=customer)
        client = Client(enforce_csrf_checks=True)
        client.force_login(customer)

        response = ask(client, ticket)

        assert response.status_code == 403
        assert not Escalation.objects.exists()

    def test_the_pages_form_posts_with_its_csrf_token(self, customer):
        ticket = TicketFactory(requester=customer)
        client = Client(enforce_csrf_checks=True)
        client.force_login(customer)
        html = client.get(page(ticket)).content.decode()
        token = html.split('name="csrfmiddlewaretoken" value="', 1)[1].split('"', 1)[0]

        response = client.post(escalate(ticket), {"csrfmiddlewaretoken": token, "escalate-tier": "1"})

        assert response.status_code == 302
        assert Escalation.objects.get().actor == customer

    def test_refuses_get(self, customer_client, customer):
        assert customer_client.get(escalate(TicketFactory(requester=customer))).status_code == 405


class TestQueries:
    @pytest.mark.parametrize("escalations", [0, 2])
    def test_the_panel_costs_one_query(
        self, customer_client, customer, manager, django_assert_max_num_queries, escalations
    ):
        ticket = TicketFactory(requester=customer)
        for _ in range(escalations):
            usecases.escalate(ticket=ticket, actor=manager, reason="technical_complexity", now=T0)
        selectors.policy_book()  # warm, as in any process serving pages

        # tests/tickets/test_portal.py: 5 for the page; the SLA panel adds the escalation read.
        with django_assert_max_num_queries(6):
            response = customer_client.get(page(ticket))

        assert "What happens next" in response.content.decode()
