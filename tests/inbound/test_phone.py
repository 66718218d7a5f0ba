"""The console's phone intake: an agent files a ticket for a caller (support.usecases.take_call)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

from inbound.models import CallerPhone
from notifications.models import Notification
from tests.tickets.factories import make_user
from tickets.models import Ticket

pytestmark = pytest.mark.django_db
URL = "/admin/tickets/ticket/phone/"


def call(client, **fields):
    data = {"subject": "Checkout down", "description": "Caller says checkout fails.", "priority": "P0"}
    data.update(fields)
    data.setdefault("category", "payment")
    return client.post(URL, data)


class TestPhoneIntake:
    def test_the_queue_links_to_the_form(self, client, agent):
        client.force_login(agent)
        assert URL in client.get("/admin/tickets/ticket/").content.decode()
        assert client.get(URL).status_code == 200

    def test_files_a_phone_ticket_for_a_known_customer_found_by_email(self, client, agent, customer):
        client.force_login(agent)

        response = call(client, email="Alice@Example.com", phone="+447700900123")

        ticket = Ticket.objects.get()
        assert response.status_code == 302
        assert response["Location"] == f"/admin/tickets/ticket/{ticket.pk}/change/"
        assert (ticket.requester, ticket.channel, ticket.priority) == (customer, "phone", "P0")
        assert ticket.events.get(kind="created").actor == agent
        assert CallerPhone.objects.get(user=customer).number == "+447700900123"
        assert Notification.objects.filter(kind="acknowledgment", recipient="alice@example.com").exists()

    def test_finds_the_customer_by_phone_the_next_time(self, client, agent, customer):
        client.force_login(agent)
        call(client, email="alice@example.com", phone="+447700900123")

        call(client, phone="+44 7700 900123")

        assert Ticket.objects.filter(requester=customer).count() == 2

    def test_creates_an_inactive_customer_for_a_new_caller_with_an_email(self, client, agent):
        client.force_login(agent)

        call(client, email="dave@example.org", name="Dave", phone="+15551234567")

        dave = User.objects.get(username="dave@example.org")
        assert (dave.is_active, dave.is_staff, dave.first_name) == (False, False, "Dave")
        assert Ticket.objects.get().requester == dave

    def test_an_unknown_number_without_an_email_is_refused_with_a_message(self, client, agent):
        client.force_login(agent)

        response = call(client, phone="+15550000000")

        assert response.status_code == 400
        assert "give the caller" in response.content.decode()
        assert not Ticket.objects.exists()

    def test_a_number_in_another_format_is_refused_and_nothing_is_written(self, client, agent):
        client.force_login(agent)

        response = call(client, email="erin@example.org", phone="07700 900123")

        assert response.status_code == 400
        assert "international format" in response.content.decode()
        assert not User.objects.filter(username="erin@example.org").exists()

    def test_customers_cannot_use_it(self, client, customer):
        client.force_login(customer)
        assert client.get(URL).status_code in {302, 403}
        assert not Ticket.objects.exists()

    def test_a_manager_without_a_tier_can(self, client, manager, customer):
        client.force_login(manager)
        assert call(client, email="alice@example.com").status_code == 302


def test_a_number_is_one_customers(db, agent):
    from inbound.services import customer_for_caller
    from sofacover.errors import DomainError

    make_user("alice@example.com")
    customer_for_caller(email="alice@example.com", phone="+447700900123")
    with pytest.raises(DomainError):
        customer_for_caller(email="bob@example.org", phone="+447700900123")
