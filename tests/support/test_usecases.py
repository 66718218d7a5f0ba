"""The use cases do every effect across the apps, in one transaction."""

from __future__ import annotations

from datetime import timedelta

import pytest

from escalation.models import SlaPause
from notifications.models import Notification
from reports.models import TicketFact
from support import usecases
from tests.tickets.factories import T0
from tickets.models import Message, Ticket
from tickets.services import TicketClosed


@pytest.fixture
def filed(customer):
    return usecases.file_ticket(requester=customer, subject="Zip broke", description="Again.", priority="P1", now=T0)


class TestFileTicket:
    def test_writes_the_deadlines_the_acknowledgment_and_the_fact_with_the_ticket(self, filed):
        ticket = Ticket.objects.get(pk=filed.pk)
        assert ticket.first_response_due_at is not None
        assert ticket.sla_next_check_at is not None
        assert Notification.objects.filter(ticket=ticket, kind=Notification.Kind.ACKNOWLEDGMENT).exists()
        fact = TicketFact.objects.get(ticket_id=ticket.pk)
        assert (fact.priority, fact.first_response_due_at) == ("P1", ticket.first_response_due_at)


class TestResolveAndClose:
    def test_resolving_pauses_the_clock_and_closing_ends_the_pause_and_refreshes_the_fact(self, filed, agent):
        usecases.resolve(ticket=filed, actor=agent, now=T0 + timedelta(hours=1), resolution_note="Fixed.")
        assert SlaPause.objects.get(ticket=filed).ended_at is None
        assert TicketFact.objects.get(ticket_id=filed.pk).resolved_at == T0 + timedelta(hours=1)

        closed = usecases.close_resolved(now=T0 + timedelta(days=8), after=timedelta(days=7))

        assert closed == 1
        assert SlaPause.objects.get(ticket=filed).ended_at == T0 + timedelta(days=8)
        assert TicketFact.objects.get(ticket_id=filed.pk).active is False


class TestRefusals:
    def test_a_refused_reply_writes_nothing_in_any_app(self, filed, agent, customer):
        usecases.change_status(ticket=filed, to=Ticket.Status.CLOSED, actor=agent, now=T0 + timedelta(hours=1))
        fact_before = TicketFact.objects.filter(ticket_id=filed.pk).values().get()
        with pytest.raises(TicketClosed):
            usecases.reply(ticket=filed, author=customer, body="Hello?", now=T0 + timedelta(hours=2))
        assert not Message.objects.filter(ticket=filed, body="Hello?").exists()
        assert TicketFact.objects.filter(ticket_id=filed.pk).values().get() == fact_before
