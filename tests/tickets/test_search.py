"""Queue search reads descriptions and the thread too: the console's search box and the API's ``search``.

Runs on SQLite by default and on PostgreSQL with DATABASE_URL set (`make test-pg`)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.urls import reverse

from tests.tickets.factories import T0, CustomerFactory, MessageFactory, TicketFactory
from tickets.filters import search_tickets
from tickets.models import Ticket

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:tickets_ticket_changelist")
API = "/api/v1/tickets/"
# The queue's first page with a search: the same statements as without one (tests/tickets/test_admin.py):
# the messages are searched inside the page's query, not one query per ticket.
CHANGELIST_MAX_QUERIES = 4


def found(client, term: str) -> list[Ticket]:
    return list(client.get(CHANGELIST, {"q": term}).context["cl"].result_list)


@pytest.fixture
def threads(agent, customer):
    """Three tickets of one customer; the words each can be found by are in different places."""
    by_description = TicketFactory(requester=customer, subject="Cover arrived", description="The zipper is MANGLED.")
    by_reply = TicketFactory(requester=customer, subject="Wrong colour")
    MessageFactory(ticket=by_reply, author=customer, body="It is more of a Turquoise than teal.", created_at=T0)
    by_note = TicketFactory(requester=customer, subject="Refund please")
    MessageFactory(
        ticket=by_note, author=agent, body="Warehouse says batch KX-42 was mislabelled.", internal=True, created_at=T0
    )
    return {"description": by_description, "reply": by_reply, "note": by_note}


class TestConsoleSearch:
    @pytest.mark.parametrize(
        ("term", "which"),
        [("mangled", "description"), ("turquoise", "reply"), ("kx-42", "note"), ("BATCH kx", "note")],
    )
    def test_finds_a_ticket_by_its_description_a_reply_or_an_internal_note(self, client, agent, threads, term, which):
        client.force_login(agent)
        assert found(client, term) == [threads[which]]

    def test_many_matching_messages_list_the_ticket_once(self, client, agent, customer):
        ticket = TicketFactory(requester=customer, subject="Sagging cushions", description="Cushion sags.")
        for minutes in range(4):
            MessageFactory(
                ticket=ticket, author=customer, body="Still sagging.", created_at=T0 + timedelta(minutes=minutes)
            )
        client.force_login(agent)
        assert found(client, "sagging") == [ticket]

    def test_the_search_stays_one_query_for_the_page(self, client, agent, customer, django_assert_max_num_queries):
        for n in range(30):
            ticket = TicketFactory(requester=customer, subject=f"Order {n}", created_at=T0 - timedelta(minutes=n))
            MessageFactory(ticket=ticket, author=customer, body=f"Velvet question {n}", created_at=T0)
        client.force_login(agent)
        client.get(CHANGELIST)  # warm: the assignee filter's agents are cached

        with django_assert_max_num_queries(CHANGELIST_MAX_QUERIES) as captured:
            response = client.get(CHANGELIST, {"q": "velvet"})

        assert len(response.context["cl"].result_list) == 25
        page = [q["sql"] for q in captured.captured_queries if '"tickets_message"' in q["sql"] and "UNION" in q["sql"]]
        assert page, "the messages are searched in the page's own query"

    def test_finds_nothing_for_words_nowhere(self, client, agent, threads):
        client.force_login(agent)
        assert found(client, "chesterfield") == []


class TestApiSearch:
    def test_a_customer_finds_by_description_and_replies_but_never_by_an_internal_note(
        self, api_client_for, customer, threads
    ):
        client = api_client_for(customer)

        def refs(term: str) -> list[str]:
            response = client.get(API, {"search": term})
            assert response.status_code == 200
            return [row["reference"] for row in response.json()["results"]]

        assert refs("mangled") == [threads["description"].reference]
        assert refs("turquoise") == [threads["reply"].reference]
        assert refs("kx-42") == []

    def test_an_agent_finds_by_an_internal_note(self, api_client_for, agent, threads):
        response = api_client_for(agent).get(API, {"search": "mislabelled"})
        assert [row["reference"] for row in response.json()["results"]] == [threads["note"].reference]

    def test_another_customers_thread_is_never_searched(self, api_client_for, other_customer, threads):
        response = api_client_for(other_customer).get(API, {"search": "turquoise"})
        assert response.json()["results"] == []


def test_search_tickets_leaves_out_internal_notes_unless_asked(agent, threads):
    tickets = Ticket.objects.all()
    assert list(search_tickets(tickets, "mislabelled")) == []
    assert list(search_tickets(tickets, "mislabelled", include_internal=True)) == [threads["note"]]
    assert set(search_tickets(tickets, "  ")) == set(tickets)
    unrelated = CustomerFactory()
    assert list(search_tickets(tickets, unrelated.username)) == []


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's plan and trigram indexes")
class TestSearchPlan:
    def test_each_place_is_read_from_its_trigram_index(self, customer, threads):
        """Past 3,000 tickets and as many messages, a search reads the tickets' text, the messages and the
        requesters from their trigram indexes (tickets 0017), never by reading every ticket or message: as one
        condition with an EXISTS per ticket it read all of them (334 ms of a queue page at 100,000 tickets)."""
        model = threads["reply"]
        values = {
            f.attname: getattr(model, f.attname)
            for f in Ticket._meta.concrete_fields
            if not f.primary_key and not getattr(f, "generated", False)
        }
        tickets = Ticket.objects.bulk_create(
            [Ticket(**values | {"subject": f"Order {n}", "description": "Where is it?"}) for n in range(3000)]
        )
        message = threads["reply"].messages.get()
        others = [
            {f.attname: getattr(message, f.attname) for f in message._meta.concrete_fields if not f.primary_key}
            | {"ticket_id": t.pk, "body": f"Any news on order {t.pk}?"}
            for t in tickets
        ]
        message.__class__.objects.bulk_create([message.__class__(**row) for row in others])
        with connection.cursor() as cursor:
            # New rows wait in a GIN index's pending list until (auto)vacuum merges them: merged now.
            for index in ("ticket_subject_trgm_idx", "ticket_description_trgm_idx", "message_body_trgm_idx"):
                cursor.execute("SELECT gin_clean_pending_list(%s::regclass)", [index])
            cursor.execute("ANALYZE tickets_ticket")
            cursor.execute("ANALYZE tickets_message")
            cursor.execute("ANALYZE auth_user")

        searched = search_tickets(Ticket.objects.all(), "turquoise", include_internal=True)
        assert list(searched) == [threads["reply"]]
        sql, params = searched.query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN {sql}", params)
            plan = "\n".join(row[0] for row in cursor.fetchall())
        for index in ("ticket_subject_trgm_idx", "ticket_description_trgm_idx", "message_body_trgm_idx"):
            assert index in plan, plan
        assert "Seq Scan on tickets_message" not in plan, plan
