from datetime import timedelta

import pytest

from sofacover.errors import DomainError
from support import usecases
from tests.tickets.factories import T0, TicketFactory
from tickets import services
from tickets.models import Ticket, TicketEvent

pytestmark = pytest.mark.django_db
Status = Ticket.Status


class TestTicketOpen:
    def test_gives_a_reference_from_the_primary_key(self, customer):
        ticket = usecases.file_ticket(requester=customer, subject="Cover torn", description="x", now=T0)
        assert ticket.reference == f"SCP-{ticket.pk:06d}"
        assert ticket.status == Status.NEW
        assert ticket.created_at == T0
        assert list(ticket.events.values_list("kind", flat=True)) == [TicketEvent.Kind.CREATED]

    def test_refuses_an_unknown_priority_and_writes_nothing(self, customer):
        with pytest.raises(DomainError) as exc:
            usecases.file_ticket(requester=customer, subject="x", description="y", priority="P9", now=T0)
        assert exc.value.field == "priority"
        assert Ticket.objects.count() == 0

    def test_refuses_a_customer_as_assignee(self, customer, other_customer):
        with pytest.raises(DomainError):
            usecases.file_ticket(requester=customer, subject="x", description="y", assignee=other_customer, now=T0)
        assert Ticket.objects.count() == 0


class TestMessageAdd:
    def test_first_public_agent_reply_sets_first_response_and_opens(self, customer, agent):
        ticket = TicketFactory(requester=customer)
        later = T0 + timedelta(minutes=12)
        usecases.reply(ticket=ticket, author=agent, body="Looking into it", now=later)
        ticket.refresh_from_db()
        assert ticket.first_responded_at == later
        assert ticket.status == Status.OPEN

    def test_internal_note_does_not_count_as_first_response(self, customer, agent):
        ticket = TicketFactory(requester=customer)
        usecases.reply(ticket=ticket, author=agent, body="Check the CDN", internal=True, now=T0)
        ticket.refresh_from_db()
        assert ticket.first_responded_at is None
        assert ticket.status == Status.NEW

    def test_second_reply_keeps_the_first_response_time(self, customer, agent):
        ticket = TicketFactory(requester=customer)
        usecases.reply(ticket=ticket, author=agent, body="one", now=T0 + timedelta(minutes=5))
        usecases.reply(ticket=ticket, author=agent, body="two", now=T0 + timedelta(minutes=50))
        ticket.refresh_from_db()
        assert ticket.first_responded_at == T0 + timedelta(minutes=5)

    def test_customer_cannot_write_internal_notes(self, customer):
        ticket = TicketFactory(requester=customer)
        with pytest.raises(services.NotAllowed):
            usecases.reply(ticket=ticket, author=customer, body="psst", internal=True, now=T0)
        assert ticket.messages.count() == 0

    def test_customer_cannot_write_on_someone_elses_ticket(self, customer, other_customer):
        ticket = TicketFactory(requester=customer)
        with pytest.raises(services.NotAllowed):
            usecases.reply(ticket=ticket, author=other_customer, body="hi", now=T0)

    def test_customer_reply_reopens_a_resolved_ticket(self, customer, agent):
        ticket = TicketFactory(requester=customer)
        usecases.resolve(ticket=ticket, actor=agent, now=T0)
        usecases.reply(ticket=ticket, author=customer, body="Still broken", now=T0 + timedelta(hours=1))
        ticket.refresh_from_db()
        assert ticket.status == Status.OPEN
        assert ticket.resolved_at is None
        assert ticket.events.filter(kind=TicketEvent.Kind.REOPENED).count() == 1

    def test_customer_reply_answers_a_pending_ticket(self, customer, agent):
        ticket = TicketFactory(requester=customer)
        usecases.change_status(ticket=ticket, to=Status.PENDING_CUSTOMER, actor=agent, now=T0)
        usecases.reply(ticket=ticket, author=customer, body="Here it is", now=T0)
        ticket.refresh_from_db()
        assert ticket.status == Status.OPEN

    def test_nobody_writes_on_a_closed_ticket(self, customer, agent):
        ticket = TicketFactory(requester=customer)
        usecases.change_status(ticket=ticket, to=Status.CLOSED, actor=agent, now=T0)
        with pytest.raises(services.TicketClosed):
            usecases.reply(ticket=ticket, author=customer, body="hello?", now=T0)
        assert ticket.messages.count() == 0


class TestTransitions:
    @pytest.mark.parametrize(
        ("start", "to"),
        [
            (Status.CLOSED, Status.OPEN),
            (Status.OPEN, Status.NEW),
            (Status.RESOLVED, Status.PENDING_CUSTOMER),
            (Status.CLOSED, Status.RESOLVED),
        ],
    )
    def test_refuses_illegal_transitions_without_writing(self, customer, agent, start, to):
        ticket = TicketFactory(requester=customer, status=start)
        events_before = ticket.events.count()
        with pytest.raises(services.InvalidTransition):
            usecases.change_status(ticket=ticket, to=to, actor=agent, now=T0)
        ticket.refresh_from_db()
        assert ticket.status == start
        assert ticket.events.count() == events_before

    def test_resolve_records_old_and_new_status(self, customer, agent):
        ticket = TicketFactory(requester=customer)
        usecases.resolve(ticket=ticket, actor=agent, now=T0 + timedelta(hours=2))
        event = ticket.events.get(kind=TicketEvent.Kind.STATUS_CHANGED)
        assert (event.old_value, event.new_value, event.actor) == ("new", "resolved", agent)
        ticket.refresh_from_db()
        assert ticket.resolved_at == T0 + timedelta(hours=2)

    def test_reopen_refuses_a_ticket_that_is_not_resolved(self, customer):
        ticket = TicketFactory(requester=customer)
        with pytest.raises(services.InvalidTransition):
            usecases.reopen(ticket=ticket, actor=customer, now=T0)

    def test_customer_cannot_change_status_directly(self, customer):
        ticket = TicketFactory(requester=customer)
        with pytest.raises(services.NotAllowed):
            usecases.change_status(ticket=ticket, to=Status.OPEN, actor=customer, now=T0)


class TestTicketUpdate:
    def test_records_every_changed_field(self, customer, agent, tier2_agent):
        ticket = TicketFactory(requester=customer)
        ticket = usecases.change(ticket=ticket, actor=agent, now=T0, priority="P0", tier=2, assignee=tier2_agent)
        kinds = set(ticket.events.values_list("kind", flat=True))
        assert {"priority_changed", "tier_changed", "assigned"} <= kinds
        assert (ticket.priority, ticket.tier, ticket.assignee) == ("P0", 2, tier2_agent)

    def test_is_all_or_nothing(self, customer, agent):
        ticket = TicketFactory(requester=customer, status=Status.RESOLVED)
        with pytest.raises(services.InvalidTransition):
            usecases.change(ticket=ticket, actor=agent, now=T0, priority="P0", status="pending_customer")
        ticket.refresh_from_db()
        assert ticket.priority == "P2"

    def test_refuses_unknown_fields(self, customer, agent):
        ticket = TicketFactory(requester=customer)
        with pytest.raises(DomainError):
            usecases.change(ticket=ticket, actor=agent, now=T0, requester=agent)


class TestCloseResolved:
    def test_closes_only_tickets_resolved_long_enough_ago(self, customer, agent):
        old = TicketFactory(requester=customer)
        fresh = TicketFactory(requester=customer)
        usecases.resolve(ticket=old, actor=agent, now=T0)
        usecases.resolve(ticket=fresh, actor=agent, now=T0 + timedelta(days=6))
        closed = usecases.close_resolved(now=T0 + timedelta(days=7), after=timedelta(days=7))
        assert closed == 1
        old.refresh_from_db()
        fresh.refresh_from_db()
        assert (old.status, fresh.status) == (Status.CLOSED, Status.RESOLVED)
