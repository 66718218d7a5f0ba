"""seed_demo (demo desk and bulk load)."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.contrib.auth import authenticate
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.models import Count

from accounts import demo as account_demo
from accounts import permissions
from tests.tickets.factories import T0, make_user
from tickets import bulk, demo
from tickets.models import Message, Ticket, TicketEvent, reference_for

pytestmark = pytest.mark.django_db
Status = Ticket.Status


def run(*args: str, **options) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO(), **options)
    return out.getvalue()


def counts() -> dict[str, int]:
    return {
        "users": User.objects.count(),
        "tickets": Ticket.objects.count(),
        "messages": Message.objects.count(),
        "events": TicketEvent.objects.count(),
    }


@pytest.fixture
def seeded():
    return run("seed_demo")


class TestSeedDemo:
    def test_a_second_run_creates_nothing_and_says_so(self, seeded):
        first = counts()
        again = run("seed_demo")

        assert counts() == first
        assert first["tickets"] == demo.DEMO_TICKET_COUNT
        assert "nothing new" in again
        assert "already exist" in again

    def test_covers_every_priority_status_category_channel_and_tier(self, seeded):
        cases: list[tuple[str, list[Any]]] = [
            ("priority", Ticket.Priority.values),
            ("status", Status.values),
            ("category", Ticket.Category.values),
            ("channel", Ticket.Channel.values),
            ("tier", Ticket.Tier.values),
        ]
        for field, choices in cases:
            present = set(Ticket.objects.values_list(field, flat=True))
            assert present == set(choices), field

    def test_tickets_come_from_several_customers(self, seeded):
        requesters = set(Ticket.objects.values_list("requester__username", flat=True))
        assert requesters == {account_demo.DEMO_CUSTOMER, *(spec.email for spec in account_demo.EXTRA_CUSTOMERS)}

    def test_demo_logins_work_with_their_roles(self, seeded):
        for spec in (*account_demo.DEMO_USERS, *account_demo.EXTRA_CUSTOMERS):
            user = authenticate(username=spec.email, password=account_demo.DEMO_PASSWORD)
            assert user is not None, spec.email
            assert permissions.is_agent(user) is (spec.role != "customer")
            assert permissions.agent_tier(user) == spec.tier
            assert permissions.is_manager(user) is (spec.role in {"manager", "admin"})

    def test_prints_the_logins_and_urls_for_the_port(self, monkeypatch):
        monkeypatch.setenv("PORT", "8123")
        out = run("seed_demo")
        for spec in account_demo.DEMO_USERS:
            assert spec.email in out
        assert "agent, tier 2" in out
        assert "demo-password-123" in out
        for url in (
            "http://127.0.0.1:8123/",
            "http://127.0.0.1:8123/admin/",
            "http://127.0.0.1:8123/api/v1/docs/",
        ):
            assert url in out

    def test_keeps_the_password_of_an_existing_user(self):
        make_user("tier1@sofacoverpro.com", "agent", tier=1)
        run("seed_demo")
        assert authenticate(username="tier1@sofacoverpro.com", password=account_demo.DEMO_PASSWORD) is None
        assert User.objects.filter(username="tier1@sofacoverpro.com").count() == 1

    def test_tickets_were_created_over_the_last_two_weeks(self, seeded):
        newest = Ticket.objects.latest("created_at").created_at
        oldest = Ticket.objects.earliest("created_at").created_at
        assert newest - oldest > timedelta(days=10)
        assert newest - oldest < timedelta(days=15)

    def test_timelines_and_first_responses_are_those_the_services_record(self, seeded):
        for ticket in Ticket.objects.all():
            events = list(ticket.events.order_by("at", "id"))
            assert events[0].kind == TicketEvent.Kind.CREATED
            assert [e.at for e in events] == sorted(e.at for e in events)
            first_reply = ticket.messages.filter(by_agent=True, internal=False).order_by("created_at").first()
            if first_reply is None:
                assert ticket.first_responded_at is None
                assert ticket.status == Status.NEW
            else:
                assert ticket.first_responded_at == first_reply.created_at
                assert ticket.status != Status.NEW
            if ticket.status in (Status.RESOLVED, Status.CLOSED):
                assert ticket.resolved_at is not None
                assert ticket.events.filter(new_value=Status.RESOLVED).exists()
            if ticket.status == Status.CLOSED:
                assert ticket.closed_at is not None

    def test_threads_have_agent_replies_internal_notes_and_customer_replies(self, seeded):
        messages = Message.objects.all()
        assert messages.filter(by_agent=True, internal=False).count() >= 20
        assert messages.filter(internal=True).count() >= 10
        assert messages.filter(by_agent=False, author_id=Ticket.objects.values("requester_id")[:1]).exists()
        assert not messages.filter(internal=True, by_agent=False).exists()
        assert TicketEvent.objects.filter(kind=TicketEvent.Kind.ASSIGNED).exists()


class TestSeedDemoBulk:
    def test_adds_n_tickets_with_three_messages_each_and_unique_references(self, seeded):
        before = set(Ticket.objects.values_list("pk", flat=True))
        out = run("seed_demo", "--tickets", "30")

        new = Ticket.objects.exclude(pk__in=before)
        assert new.count() == 30
        assert "Loaded 30 tickets" in out
        assert Ticket.objects.count() == demo.DEMO_TICKET_COUNT + 30
        assert set(new.annotate(n=Count("messages")).values_list("n", flat=True)) == {3}
        references = list(Ticket.objects.values_list("reference", flat=True))
        assert len(set(references)) == len(references)
        for ticket in new:
            assert ticket.reference == reference_for(ticket.pk)

    def test_load_tickets_respect_the_rules(self, seeded):
        run("seed_demo", "--tickets", "30")
        new = Ticket.objects.exclude(
            requester__username__in=[account_demo.DEMO_CUSTOMER, "priya.shah@example.com", "tom.baker@example.net"]
        )
        assert new.count() == 30
        for ticket in new.prefetch_related("messages", "events"):
            messages = list(ticket.messages.all())
            events = list(ticket.events.all())
            assert [e.kind for e in events].count(TicketEvent.Kind.CREATED) == 1
            assert events[0].kind == TicketEvent.Kind.CREATED
            assert all(ticket.created_at <= m.created_at <= ticket.updated_at for m in messages)
            assert messages[0].author_id == ticket.requester_id
            public_agent = [m for m in messages if m.by_agent and not m.internal]
            assert ticket.first_responded_at == (public_agent[0].created_at if public_agent else None)
            assert all(m.by_agent for m in messages if m.internal)
            assert (ticket.status == Status.RESOLVED) <= (ticket.resolved_at is not None)
            assert (ticket.status == Status.CLOSED) <= (ticket.closed_at is not None)
            if ticket.first_responded_at is None:
                assert ticket.status == Status.NEW
            if ticket.closed_at:
                assert ticket.resolved_at is not None
                assert ticket.closed_at >= ticket.resolved_at

    def test_a_larger_load_is_mostly_finished_work_with_a_live_queue(self, seeded):
        run("seed_demo", "--tickets", "400")
        statuses = dict(
            Ticket.objects.exclude(requester__username=account_demo.DEMO_CUSTOMER)
            .values_list("status")
            .annotate(n=Count("id"))
        )
        assert statuses[Status.CLOSED] + statuses[Status.RESOLVED] > 200
        assert statuses.get(Status.NEW, 0) + statuses.get(Status.OPEN, 0) > 0
        assert set(Ticket.objects.values_list("priority", flat=True)) == set(Ticket.Priority.values)

    def test_refuses_a_negative_count(self):
        with pytest.raises(CommandError, match="zero or more"):
            run("seed_demo", "--tickets", "-1")


class TestTicketsBulkLoad:
    def test_references_keep_every_digit_past_a_million(self, customer, agent):
        [item] = list(demo.load_tickets_build(1, customers=[customer], agents=[agent], now=T0))
        item.ticket.pk = 1_234_567
        bulk.tickets_bulk_load(tickets=[item])
        assert Ticket.objects.get(pk=1_234_567).reference == "SCP-1234567" == reference_for(1_234_567)

    def test_reports_each_batch(self, customer, agent):
        heard: list[int] = []
        loaded = demo.load_tickets_create(
            5, customers=[customer], agents=[agent], now=T0, batch_size=2, on_batch=heard.append
        )
        assert loaded == 5
        assert heard == [2, 2, 1]
        assert Message.objects.count() == 15

    def test_needs_customers_and_agents(self, customer):
        with pytest.raises(ValueError, match="agent"):
            list(demo.load_tickets_build(1, customers=[customer], agents=[], now=T0))
