"""What one line of chat costs the database (``support.usecases.chat_message``, what the consumer runs
per line), pinned so it cannot creep back; and that the lines which skip the SLA clock and the
reports' fact (a customer's line on an open ticket, a whisper) leave nothing for them to do."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

import escalation.services
import reports.rollup
from escalation.models import SlaPause
from reports.models import TicketFact
from support import usecases
from tickets.models import Ticket

pytestmark = pytest.mark.django_db

# Statements of one line, BEGIN/COMMIT (or the test's SAVEPOINT/RELEASE) included. The agent's public
# line (past the second, which also moves the fact's first contact): the session, the locked ticket,
# the message, one ticket update (last reply and updated_at together), its event, the SLA's pauses,
# escalations and deadlines, the fact's source and row. A customer's line on an open ticket and a whisper stop
# after updated_at: neither the clock nor the fact can move.
AGENT_LINE = 12
# The agent's first public line of a chat: the first response, which also opens the ticket (one update of
# the ticket for both, the reply's and the status's events in one insert) and moves the fact, the daily
# row and the response histogram.
FIRST_RESPONSE = 15
QUIET_LINE = 7

DEADLINES = ("first_response_due_at", "resolution_due_at", "next_update_due_at", "sla_next_check_at")


@pytest.fixture
def live(customer, agent):
    now = timezone.now()
    chat = usecases.chat_start(visitor=customer, body="Where is my order?", now=now)
    usecases.chat_accept(session=chat, agent=agent, now=now)
    usecases.chat_message(session=chat, author=agent, body="Looking now", now=now)  # the first response
    return chat


def statements(**line) -> int:
    with CaptureQueriesContext(connection) as captured:
        usecases.chat_message(now=timezone.now(), **line)
    return len(captured.captured_queries)


def nothing_left_to_do(ticket_id: int) -> bool:
    """Running the clock and the fact now changes nothing: the line that skipped them was right to."""
    ticket = Ticket.objects.get(pk=ticket_id)
    before = {name: getattr(ticket, name) for name in DEADLINES}
    escalation.services.sla_follow(ticket=ticket, now=timezone.now())
    ticket.refresh_from_db()
    return before == {name: getattr(ticket, name) for name in DEADLINES} and not reports.rollup.facts_refresh(
        ticket_ids=[ticket_id]
    )


def test_the_agents_first_response(customer, agent):
    now = timezone.now()
    chat = usecases.chat_start(visitor=customer, body="Where is my order?", now=now)
    usecases.chat_accept(session=chat, agent=agent, now=now)
    assert statements(session=chat, author=agent, body="Looking now") == FIRST_RESPONSE
    ticket = Ticket.objects.get(pk=chat.ticket_id)
    assert ticket.status == Ticket.Status.OPEN
    assert ticket.first_responded_at is not None
    assert list(ticket.events.order_by("id").values_list("kind", flat=True))[-2:] == ["replied", "status_changed"]


def test_the_agents_public_line(live, agent):
    usecases.chat_message(session=live, author=agent, body="Found it", now=timezone.now())  # first contact no more
    assert statements(session=live, author=agent, body="It ships today") == AGENT_LINE


def test_the_customers_line_on_an_open_ticket_skips_the_clock_and_the_fact(live, customer):
    assert Ticket.objects.get(pk=live.ticket_id).status == Ticket.Status.OPEN
    assert statements(session=live, author=customer, body="Thanks!") <= QUIET_LINE
    assert nothing_left_to_do(live.ticket_id)


def test_a_whisper_skips_them_too(live, agent):
    assert statements(session=live, author=agent, body="VIP customer", internal=True) <= QUIET_LINE
    assert nothing_left_to_do(live.ticket_id)


def test_the_agents_line_moves_the_fact_it_changes(live, agent):
    fact = TicketFact.objects.get(ticket_id=live.ticket_id)
    assert fact.first_contact  # one reply so far
    usecases.chat_message(session=live, author=agent, body="And one more thing", now=timezone.now())
    assert not TicketFact.objects.get(ticket_id=live.ticket_id).first_contact


def test_the_customers_line_on_a_pending_ticket_reopens_it_and_restarts_the_clock(live, customer, agent):
    ticket = Ticket.objects.get(pk=live.ticket_id)
    usecases.change_status(ticket=ticket, to=Ticket.Status.PENDING_CUSTOMER, actor=agent, now=timezone.now())
    assert SlaPause.objects.filter(ticket_id=ticket.pk, ended_at__isnull=True).exists()
    usecases.chat_message(session=live, author=customer, body="Here is the photo", now=timezone.now())
    assert Ticket.objects.get(pk=ticket.pk).status == Ticket.Status.OPEN
    assert not SlaPause.objects.filter(ticket_id=ticket.pk, ended_at__isnull=True).exists()
    assert nothing_left_to_do(ticket.pk)
