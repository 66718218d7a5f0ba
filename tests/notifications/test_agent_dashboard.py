"""Agents' "My notifications": each journey that alerts an agent leaves an item on their dashboard, made by the
use case (support.usecases calls notifications' services), and nobody else sees it: not another agent, not a
customer. Seen through the console page the agent opens (/admin/notifications/dashboarditem/)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client

from notifications import selectors
from notifications.models import Notification, Responder
from support import usecases
from tests.tickets.factories import T0, TicketFactory, make_user
from tickets.models import Ticket

pytestmark = pytest.mark.django_db

Kind = Notification.Kind
PAGE = "/admin/notifications/dashboarditem/"


@pytest.fixture
def desk(customer, other_customer):
    return {
        "tier1": make_user("t1@sofacoverpro.com", "agent", tier=1),
        "colleague": make_user("colleague@sofacoverpro.com", "agent", tier=1),
        "tier2": make_user("t2@sofacoverpro.com", "agent", tier=2),
        "customer": customer,
        "other_customer": other_customer,
    }


def items(user, kind: str, ticket: Ticket) -> list[Notification]:
    return list(selectors.dashboard_feed_for(user=user).filter(kind=kind, ticket=ticket))


def page_of(user) -> tuple[int, str]:
    client = Client()
    client.force_login(user)
    response = client.get(PAGE)
    return response.status_code, response.content.decode()


def assert_only(ticket: Ticket, kind: str, owners: list, others: list) -> None:
    for person in owners:
        assert len(items(person, kind, ticket)) == 1, person.email
        status, html = page_of(person)
        assert status == 200
        assert ticket.reference in html
    for person in others:
        assert items(person, kind, ticket) == [], person.email


def assert_customers_see_nothing(desk) -> None:
    for who in ("customer", "other_customer"):
        assert not selectors.dashboard_feed_for(user=desk[who]).exists()
        status, _ = page_of(desk[who])
        assert status == 302  # sent to the console's login: customers have no console


class TestJourneys:
    def test_a_new_p1_reaches_the_tier_on_their_dashboards(self, desk):
        ticket = usecases.file_ticket(
            requester=desk["customer"],
            subject="Checkout broken",
            description="Payment fails.",
            priority=Ticket.Priority.P1,
            category=Ticket.Category.PAYMENT,
            channel=Ticket.Channel.PORTAL,
            now=T0,
        )
        assert_only(ticket, Kind.TICKET_CREATED, [desk["tier1"], desk["colleague"]], [desk["tier2"]])
        assert_customers_see_nothing(desk)

    def test_a_new_p0_reaches_only_the_on_call_agent(self, desk):
        Responder.objects.create(user=desk["tier1"], phone_number="+447700900123", on_call=True)
        ticket = TicketFactory(requester=desk["customer"], priority="P0", created_at=T0)
        assert_only(ticket, Kind.TICKET_CREATED, [desk["tier1"]], [desk["colleague"], desk["tier2"]])

    def test_an_escalation_reaches_the_target_tier(self, desk):
        ticket = TicketFactory(requester=desk["customer"], priority="P1", created_at=T0)
        later = T0 + timedelta(minutes=5)
        usecases.escalate(ticket=ticket, actor=desk["tier1"], reason="technical_complexity", now=later)
        assert_only(ticket, Kind.ESCALATED, [desk["tier2"]], [desk["tier1"], desk["colleague"]])
        assert_customers_see_nothing(desk)

    def test_a_customer_reply_reaches_the_assignee_only(self, desk):
        ticket = TicketFactory(requester=desk["customer"], priority="P1", created_at=T0)
        usecases.assign(ticket=ticket, assignee=desk["tier1"], actor=desk["tier1"], now=T0)
        usecases.reply(ticket=ticket, author=desk["customer"], body="Any news?", now=T0 + timedelta(minutes=10))
        assert_only(ticket, Kind.CUSTOMER_REPLY, [desk["tier1"]], [desk["colleague"], desk["tier2"]])
        assert_customers_see_nothing(desk)

    def test_a_breach_warning_reaches_the_assignee_only(self, desk):
        ticket = TicketFactory(requester=desk["customer"], priority="P1", created_at=T0)
        usecases.assign(ticket=ticket, assignee=desk["tier1"], actor=desk["tier1"], now=T0)
        ticket.refresh_from_db()
        assert ticket.first_response_warn_at is not None
        usecases.sla_sweep(now=ticket.first_response_warn_at)
        assert_only(ticket, Kind.BREACH_WARNING, [desk["tier1"]], [desk["colleague"], desk["tier2"]])
        assert_customers_see_nothing(desk)

    def test_a_breach_reaches_the_assignee_only(self, desk):
        ticket = TicketFactory(requester=desk["customer"], priority="P1", created_at=T0)
        usecases.assign(ticket=ticket, assignee=desk["tier1"], actor=desk["tier1"], now=T0)
        ticket.refresh_from_db()
        assert ticket.first_response_due_at is not None
        usecases.sla_sweep(now=ticket.first_response_due_at + timedelta(seconds=1))
        assert_only(ticket, Kind.BREACHED, [desk["tier1"]], [desk["colleague"], desk["tier2"]])

    def test_another_agents_item_is_not_on_my_page(self, desk):
        ticket = TicketFactory(requester=desk["customer"], priority="P1", created_at=T0)
        usecases.escalate(ticket=ticket, actor=desk["tier1"], reason="technical_complexity", now=T0)
        _, html = page_of(desk["tier1"])
        assert f"Escalated to Tier 2: {ticket.reference}" not in html
        _, html = page_of(desk["tier2"])
        assert f"Escalated to Tier 2: {ticket.reference}" in html
