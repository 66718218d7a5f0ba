from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts import permissions as account_permissions
from support.api import TicketSerializer
from tests.tickets.factories import T0, MessageFactory, TicketFactory, make_user
from tickets.api.serializers import CustomerTicketCreateSerializer
from tickets.models import Ticket

pytestmark = pytest.mark.django_db
CANARY = "INTERNAL-CANARY-7f3a"


def url(ticket=None, suffix=""):
    base = "/api/v1/tickets/"
    return f"{base}{ticket.reference}/{suffix}" if ticket else base


class TestTicketCreate:
    def test_customer_files_a_ticket_for_themselves(self, api_client_for, customer):
        response = api_client_for(customer).post(
            url(), {"subject": "Zip broke", "description": "On day two", "priority": "P1", "category": "orders"}
        )
        assert response.status_code == 201, response.content
        body = response.json()
        assert body["reference"].startswith("SCP-")
        assert (body["requester"], body["channel"], body["tier"], body["status"]) == (
            "alice@example.com",
            "api",
            1,
            "new",
        )

    def test_customer_cannot_set_fields_they_do_not_own(self, api_client_for, customer, agent):
        response = api_client_for(customer).post(
            url(),
            {
                "subject": "s",
                "description": "d",
                "tier": 3,
                "assignee": agent.username,
                "status": "resolved",
                "requester": "bob@example.com",
            },
        )
        assert response.status_code == 400
        assert set(response.json()) == {"tier", "assignee", "status", "requester"}
        assert Ticket.objects.count() == 0

    def test_agent_files_on_behalf_of_a_customer(self, api_client_for, agent, customer):
        response = api_client_for(agent).post(
            url(),
            {
                "subject": "Phoned in",
                "description": "d",
                "requester": "alice@example.com",
                "channel": "phone",
                "tier": 2,
                "assignee": agent.username,
                "priority": "P0",
            },
        )
        assert response.status_code == 201, response.content
        assert response.json()["requester"] == "alice@example.com"
        assert response.json()["assignee"] == agent.username
        assert response.json()["tier"] == 2

    @pytest.mark.parametrize(
        ("payload", "field"),
        [
            ({"description": "d"}, "subject"),
            ({"subject": "s", "description": "d", "priority": "P9"}, "priority"),
            ({"subject": "s", "description": "d", "category": "sofas"}, "category"),
            ({"subject": "x" * 201, "description": "d"}, "subject"),
        ],
    )
    def test_bad_input_is_a_400_with_field_messages_and_nothing_created(self, api_client_for, customer, payload, field):
        response = api_client_for(customer).post(url(), payload, format="json")
        assert response.status_code == 400
        assert field in response.json()
        assert Ticket.objects.count() == 0

    @pytest.mark.parametrize("body", ["null", "[]", '"text"', "42"])
    def test_a_body_that_is_not_an_object_is_a_400(self, api_client_for, customer, body):
        # Regression: a JSON null body was a 500 (set(None)) before the object check.
        response = api_client_for(customer).post(url(), body, content_type="application/json")
        assert response.status_code == 400
        assert Ticket.objects.count() == 0

    def test_agent_must_name_an_existing_requester(self, api_client_for, agent):
        response = api_client_for(agent).post(
            url(), {"subject": "s", "description": "d", "requester": "ghost@example.com"}
        )
        assert response.status_code == 400
        assert "requester" in response.json()

    def test_customer_filing_is_throttled(self, settings, api_client_for, customer):
        settings.RATELIMITS = {**settings.RATELIMITS, "ticket_account": "2/m"}
        client = api_client_for(customer)
        codes = [client.post(url(), {"subject": "s", "description": "d"}).status_code for _ in range(3)]
        assert codes == [201, 201, 429]
        assert Ticket.objects.count() == 2


class TestTicketVisibility:
    def test_customers_list_only_their_own_tickets(self, api_client_for, customer, other_customer):
        mine = TicketFactory(requester=customer)
        TicketFactory(requester=other_customer)
        response = api_client_for(customer).get(url())
        assert [t["reference"] for t in response.json()["results"]] == [mine.reference]

    def test_another_customers_ticket_is_a_404(self, api_client_for, customer, other_customer):
        theirs = TicketFactory(requester=other_customer)
        client = api_client_for(customer)
        assert client.get(url(theirs)).status_code == 404
        assert client.get(url(theirs, "messages/")).status_code == 404
        assert client.post(url(theirs, "messages/"), {"body": "hi"}).status_code == 404
        assert client.post(url(theirs, "resolve/")).status_code == 404
        assert client.get(url(theirs, "timeline/")).status_code == 404

    def test_agents_see_every_ticket(self, api_client_for, agent, customer, other_customer):
        TicketFactory(requester=customer)
        TicketFactory(requester=other_customer)
        assert len(api_client_for(agent).get(url()).json()["results"]) == 2


class TestFilters:
    def test_filters_by_priority_status_and_search(self, api_client_for, agent, customer):
        p0 = TicketFactory(requester=customer, priority="P0", subject="Checkout down")
        TicketFactory(requester=customer, priority="P3", subject="Typo on FAQ")
        client = api_client_for(agent)
        assert [t["reference"] for t in client.get(url(), {"priority": "P0"}).json()["results"]] == [p0.reference]
        assert len(client.get(url(), {"search": "checkout"}).json()["results"]) == 1
        assert len(client.get(url(), {"search": f"{p0.reference}".lower()}).json()["results"]) == 1
        assert len(client.get(url(), {"status": "new"}).json()["results"]) == 2

    def test_assignee_me_and_none(self, api_client_for, agent, customer):
        mine = TicketFactory(requester=customer, assignee=agent)
        TicketFactory(requester=customer)
        client = api_client_for(agent)
        assert [t["reference"] for t in client.get(url(), {"assignee": "me"}).json()["results"]] == [mine.reference]
        assert len(client.get(url(), {"assignee": "none"}).json()["results"]) == 1

    def test_created_range(self, api_client_for, agent, customer):
        TicketFactory(requester=customer, created_at=T0)
        TicketFactory(requester=customer, created_at=T0 + timedelta(days=3))
        response = api_client_for(agent).get(url(), {"created_after": (T0 + timedelta(days=1)).isoformat()})
        assert len(response.json()["results"]) == 1

    def test_odd_offsets_are_normalised_not_a_500(self, api_client_for, agent, customer):
        # Regression: PostgreSQL refused an offset of -16:13 that Python accepts.
        TicketFactory(requester=customer, created_at=T0)
        response = api_client_for(agent).get(url(), {"created_before": "2026-03-02T00:00:00-16:13"})
        assert response.status_code == 200
        assert len(response.json()["results"]) == 1
        assert api_client_for(agent).get(url(), {"created_before": "0001-01-01T00:00:00+10:00"}).status_code == 400

    def test_a_bad_page_size_is_a_400(self, api_client_for, agent):
        assert api_client_for(agent).get(url(), {"page_size": "many"}).status_code == 400
        assert api_client_for(agent).get(url(), {"page_size": "1000"}).status_code == 400

    def test_an_invalid_filter_value_is_a_400(self, api_client_for, agent):
        assert api_client_for(agent).get(url(), {"priority": "P7"}).status_code == 400
        assert api_client_for(agent).get(url(), {"created_after": "yesterday"}).status_code == 400

    @pytest.mark.parametrize(
        "params",
        [
            {"ordering": "requester__password"},
            {"ordering": "-assignee__password"},
            {"assignee__password__startswith": "md5"},
            {"requester__password__startswith": "m"},
            {"_connector": "OR"},
        ],
    )
    def test_unknown_keys_cannot_probe_other_columns(self, api_client_for, agent, customer, params):
        TicketFactory(requester=customer, subject="first")
        TicketFactory(requester=customer, subject="second")
        client = api_client_for(agent)
        baseline = [t["reference"] for t in client.get(url()).json()["results"]]
        response = client.get(url(), params)
        assert response.status_code in (200, 400)
        if response.status_code == 200:
            assert [t["reference"] for t in response.json()["results"]] == baseline

    def test_default_order_is_most_urgent_first(self, api_client_for, agent, customer):
        low = TicketFactory(requester=customer, priority="P3", created_at=T0)
        done = TicketFactory(requester=customer, priority="P0", created_at=T0, status="resolved")
        high = TicketFactory(requester=customer, priority="P0", created_at=T0 + timedelta(hours=1))
        refs = [t["reference"] for t in api_client_for(agent).get(url()).json()["results"]]
        assert refs == [high.reference, low.reference, done.reference]


class TestTicketListPages:
    """Keyset pages: ``next``/``previous`` links, no count, every ticket exactly once in each allowed order."""

    @pytest.fixture
    def desk(self, customer, agent):
        # Ties on every column but id: the order must still be total.
        tickets = []
        for i, (priority, status) in enumerate(
            [("P2", "new"), ("P0", "open"), ("P2", "new"), ("P0", "resolved"), ("P3", "closed"), ("P2", "new")] * 2
        ):
            tickets.append(
                TicketFactory(
                    requester=customer,
                    priority=priority,
                    status=status,
                    tier=1 + i % 3,
                    created_at=T0 + timedelta(hours=i % 3),
                )
            )
            Ticket.objects.filter(pk=tickets[-1].pk).update(updated_at=T0 + timedelta(hours=i % 2))
        return tickets

    @staticmethod
    def walk(client, params, *, start=None):
        pages, link = [], start or url() + "?" + "&".join(f"{k}={v}" for k, v in params.items())
        while link:
            response = client.get(link)
            assert response.status_code == 200, response.content
            body = response.json()
            pages.append(body)
            link = body["next"]
        return pages

    def test_next_links_visit_every_ticket_once_most_urgent_first_without_a_count(self, api_client_for, agent, desk):
        pages = self.walk(api_client_for(agent), {"page_size": 5})
        expected = list(
            Ticket.objects.order_by("queue_rank", "priority", "created_at", "id").values_list("reference", flat=True)
        )
        assert [t["reference"] for page in pages for t in page["results"]] == expected
        assert [len(page["results"]) for page in pages] == [5, 5, 2]
        assert pages[0]["previous"] is None
        assert all(set(page) == {"next", "previous", "results"} for page in pages)

    @pytest.mark.parametrize(
        "ordering",
        [
            "created_at",
            "-created_at",
            "updated_at",
            "-updated_at",
            "priority",
            "-priority",
            "status",
            "-status",
            "tier",
            "-tier",
            "reference",
            "-reference",
            "-priority,created_at",
        ],
    )
    def test_every_allowed_ordering_pages_without_gaps_or_repeats(self, api_client_for, agent, desk, ordering):
        pages = self.walk(api_client_for(agent), {"page_size": 5, "ordering": ordering})
        keys = ordering.split(",")
        tie_breaker = "-id" if keys[-1].startswith("-") else "id"
        expected = list(Ticket.objects.order_by(*keys, tie_breaker).values_list("reference", flat=True))
        assert [t["reference"] for page in pages for t in page["results"]] == expected

    def test_the_same_position_gives_the_same_link_at_any_time(self, api_client_for, agent, desk, time_machine):
        client = api_client_for(agent)
        time_machine.move_to(T0, tick=False)
        first = client.get(url(), {"page_size": 5}).json()["next"]
        time_machine.move_to(T0 + timedelta(seconds=61), tick=False)
        assert client.get(url(), {"page_size": 5}).json()["next"] == first

    def test_previous_links_walk_back_through_the_same_pages(self, api_client_for, agent, desk):
        client = api_client_for(agent)
        forward = self.walk(client, {"page_size": 5, "ordering": "-priority"})
        back, link = [], forward[-1]["previous"]
        while link:
            body = client.get(link).json()
            back.append([t["reference"] for t in body["results"]])
            link = body["previous"]
        assert back == [[t["reference"] for t in page["results"]] for page in reversed(forward[:-1])]
        first_again = client.get(forward[1]["previous"]).json()
        assert first_again["previous"] is None
        assert first_again["next"] == forward[0]["next"]

    def test_customers_page_through_their_own_tickets_only(self, api_client_for, customer, other_customer, desk):
        TicketFactory(requester=other_customer, priority="P0")
        pages = self.walk(api_client_for(customer), {"page_size": 4})
        assert sorted(t["reference"] for page in pages for t in page["results"]) == sorted(t.reference for t in desk)

    @pytest.mark.parametrize("cursor", ["garbage", "cD0yMDI2", "", "eyJvIjpbInBrIl19:1abc:def"])
    def test_a_garbled_or_forged_cursor_is_a_400(self, api_client_for, agent, desk, cursor):
        response = api_client_for(agent).get(url(), {"cursor": cursor})
        assert response.status_code == 400
        assert "cursor" in response.json()

    def test_a_cursor_used_with_another_ordering_is_a_400(self, api_client_for, agent, desk):
        client = api_client_for(agent)
        link = client.get(url(), {"page_size": 5}).json()["next"]
        response = client.get(link + "&ordering=-created_at")
        assert response.status_code == 400
        assert "cursor" in response.json()

    def test_the_schema_documents_links_and_no_count(self, api_client_for, agent):
        schema = api_client_for(agent).get("/api/v1/schema/", {"format": "json"}).json()
        ticket_list = schema["paths"]["/api/v1/tickets/"]["get"]
        page = schema["components"]["schemas"]["PaginatedTicketList"]
        assert set(page["properties"]) == set(page["required"]) == {"next", "previous", "results"}
        assert {"cursor", "page_size"} <= {p["name"] for p in ticket_list["parameters"]}
        assert "page" not in {p["name"] for p in ticket_list["parameters"]}

    @pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's plan")
    def test_a_later_page_seeks_the_urgency_index_at_the_cursor(self, api_client_for, agent, desk):
        client = api_client_for(agent)
        link = client.get(url(), {"page_size": 5}).json()["next"]
        with CaptureQueriesContext(connection) as captured:
            client.get(link)
        [page_sql] = [q["sql"] for q in captured.captured_queries if 'FROM "tickets_ticket"' in q["sql"]]
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_seqscan = off")  # a dozen rows: make the planner show the index plan
            # With so few rows the planner may as well read the index as a bitmap and sort after; what this
            # pins is that the index can give the order: make every alternative to it dear.
            cursor.execute("SET LOCAL enable_bitmapscan = off")
            cursor.execute("SET LOCAL enable_sort = off")
            cursor.execute(f"EXPLAIN {page_sql}")
            plan = "\n".join(row[0] for row in cursor.fetchall())
        assert "ticket_urgency_idx" in plan
        assert "Index Cond" in plan
        assert "ROW(queue_rank" in plan

    def test_the_first_page_counts_nothing(self, api_client_for, agent, desk, django_assert_max_num_queries):
        client = api_client_for(agent)
        with django_assert_max_num_queries(4) as captured:
            client.get(url(), {"page_size": 5})
        assert not [q["sql"] for q in captured.captured_queries if "COUNT(" in q["sql"].upper()]


class TestTicketUpdate:
    def test_agent_changes_priority_and_tier(self, api_client_for, agent, customer):
        ticket = TicketFactory(requester=customer)
        response = api_client_for(agent).patch(url(ticket), {"priority": "P1", "tier": 2}, format="json")
        assert response.status_code == 200, response.content
        assert (response.json()["priority"], response.json()["tier"]) == ("P1", 2)

    def test_customer_cannot_patch(self, api_client_for, customer):
        ticket = TicketFactory(requester=customer)
        response = api_client_for(customer).patch(url(ticket), {"priority": "P0"}, format="json")
        assert response.status_code == 403
        ticket.refresh_from_db()
        assert ticket.priority == "P2"

    def test_illegal_transition_is_a_409_and_half_of_nothing_is_applied(self, api_client_for, agent, customer):
        ticket = TicketFactory(requester=customer, status="closed")
        response = api_client_for(agent).patch(url(ticket), {"priority": "P0", "status": "open"}, format="json")
        assert response.status_code == 409
        assert response.json()["code"] == "ticket_closed"
        ticket.refresh_from_db()
        assert (ticket.priority, ticket.status) == ("P2", "closed")

    def test_status_new_cannot_be_set(self, api_client_for, agent, customer):
        ticket = TicketFactory(requester=customer)
        response = api_client_for(agent).patch(url(ticket), {"status": "new"}, format="json")
        assert response.status_code == 400
        assert "status" in response.json()

    def test_put_is_not_offered(self, api_client_for, agent, customer):
        ticket = TicketFactory(requester=customer)
        assert api_client_for(agent).put(url(ticket), {"priority": "P0"}, format="json").status_code == 405


class TestActions:
    def test_resolve_then_reopen(self, api_client_for, customer, agent):
        ticket = TicketFactory(requester=customer)
        response = api_client_for(agent).post(url(ticket, "resolve/"))
        assert response.status_code == 200
        assert response.json()["status"] == "resolved"
        assert response.json()["resolved_at"] is not None
        response = api_client_for(customer).post(url(ticket, "reopen/"))
        assert response.status_code == 200
        assert response.json()["status"] == "open"

    def test_resolving_twice_is_a_409(self, api_client_for, agent, customer):
        ticket = TicketFactory(requester=customer, status="resolved")
        response = api_client_for(agent).post(url(ticket, "resolve/"))
        assert response.status_code == 409
        assert response.json()["code"] == "invalid_transition"

    def test_assign_to_an_agent_and_back_to_nobody(self, api_client_for, agent, tier2_agent, customer):
        ticket = TicketFactory(requester=customer)
        client = api_client_for(agent)
        response = client.post(url(ticket, "assign/"), {"assignee": tier2_agent.username}, format="json")
        assert response.json()["assignee"] == tier2_agent.username
        response = client.post(url(ticket, "assign/"), {"assignee": None}, format="json")
        assert response.json()["assignee"] is None

    def test_assign_refuses_a_customer_as_assignee(self, api_client_for, agent, customer):
        ticket = TicketFactory(requester=customer)
        response = api_client_for(agent).post(url(ticket, "assign/"), {"assignee": customer.username}, format="json")
        assert response.status_code == 400
        assert "assignee" in response.json()

    def test_customer_cannot_assign(self, api_client_for, agent, customer):
        ticket = TicketFactory(requester=customer)
        response = api_client_for(customer).post(url(ticket, "assign/"), {"assignee": agent.username}, format="json")
        assert response.status_code == 403

    def test_actions_refuse_get(self, api_client_for, agent, customer):
        ticket = TicketFactory(requester=customer)
        assert api_client_for(agent).get(url(ticket, "resolve/")).status_code == 405
        ticket.refresh_from_db()
        assert ticket.status == "new"


class TestMessages:
    def test_customer_sees_public_replies_but_never_internal_notes(self, api_client_for, customer, agent):
        ticket = TicketFactory(requester=customer)
        MessageFactory(ticket=ticket, author=agent, body="We are on it")
        MessageFactory(ticket=ticket, author=agent, body=CANARY, internal=True)
        customer_view = api_client_for(customer).get(url(ticket, "messages/"))
        agent_view = api_client_for(agent).get(url(ticket, "messages/"))
        assert CANARY not in customer_view.content.decode()
        assert [m["body"] for m in customer_view.json()["results"]] == ["We are on it"]
        assert agent_view.json()["count"] == 2
        timeline = api_client_for(customer).get(url(ticket, "timeline/"))
        assert "note_added" not in timeline.content.decode()

    def test_customer_internal_note_is_refused(self, api_client_for, customer):
        ticket = TicketFactory(requester=customer)
        response = api_client_for(customer).post(
            url(ticket, "messages/"), {"body": "x", "internal": True}, format="json"
        )
        assert response.status_code == 403
        assert ticket.messages.count() == 0

    def test_agent_reply_sets_first_response(self, api_client_for, agent, customer):
        ticket = TicketFactory(requester=customer, created_at=timezone.now())
        response = api_client_for(agent).post(url(ticket, "messages/"), {"body": "Hello Alice"}, format="json")
        assert response.status_code == 201
        assert response.json()["by_agent"] is True
        ticket.refresh_from_db()
        assert ticket.first_responded_at is not None
        assert ticket.status == "open"

    def test_reply_with_an_attachment_and_a_refused_one(self, api_client_for, customer, tmp_path):
        from django.core.files.uploadedfile import SimpleUploadedFile

        ticket = TicketFactory(requester=customer)
        client = api_client_for(customer)
        ok = SimpleUploadedFile("notes.txt", b"order 1234 arrived torn\n", content_type="text/plain")
        response = client.post(url(ticket, "messages/"), {"body": "see file", "attachments": [ok]}, format="multipart")
        assert response.status_code == 201, response.content
        assert response.json()["attachments"][0]["filename"] == "notes.txt"
        bad = SimpleUploadedFile("page.html", b"<html><script>alert(1)</script>", content_type="text/html")
        response = client.post(url(ticket, "messages/"), {"body": "x", "attachments": [bad]}, format="multipart")
        assert response.status_code == 400
        assert "attachments" in response.json()
        assert ticket.messages.count() == 1

    def test_empty_message_is_a_400(self, api_client_for, customer):
        ticket = TicketFactory(requester=customer)
        response = api_client_for(customer).post(url(ticket, "messages/"), {"body": "   "}, format="json")
        assert response.status_code == 400
        assert "body" in response.json()

    def test_reply_on_closed_ticket_is_a_409(self, api_client_for, customer):
        ticket = TicketFactory(requester=customer, status="closed")
        response = api_client_for(customer).post(url(ticket, "messages/"), {"body": "hello"}, format="json")
        assert response.status_code == 409
        assert ticket.messages.count() == 0


class TestQueryCounts:
    @pytest.mark.parametrize("rows", [3, 25])
    def test_ticket_list_is_constant_in_rows(
        self, api_client_for, agent, customer, rows, django_assert_max_num_queries
    ):
        for _ in range(rows):
            TicketFactory(requester=customer, assignee=agent)
        client = api_client_for(agent)
        with django_assert_max_num_queries(4):
            response = client.get(url())
        assert len(response.json()["results"]) == rows

    def test_filing_a_ticket_takes_a_fixed_number_of_queries(self, api_client_for, customer, django_assert_num_queries):
        """The deadlines and the reference go into the INSERT and the acknowledgment needs no look-up.

        savepoint (the use case) + INSERT ticket (the database derives its reference) + INSERT
        timeline event + INSERT acknowledgment + UPDATE knowledge suggestions + the reports' fact
        (read the ticket's fact source, daily row, fact; a new ticket has no old fact to read) +
        release: 9. The ticket service opens no savepoint of its own inside the use case. The
        escalation history of a ticket filed in this request is known to be empty, so it is not
        read. 12 before the reference was derived by the database and the service's savepoint went.
        """
        client = api_client_for(customer)
        payload = {"subject": "Zip broke", "description": "Again.", "priority": "P2", "category": "orders"}
        client.post(url(), payload, format="json")  # warm: the policy book and the templates are cached
        with django_assert_num_queries(8):
            response = client.post(url(), payload, format="json")
        assert response.status_code == 201
        assert response.json()["escalations"] == []
        ticket = Ticket.objects.get(reference=response.json()["reference"])
        assert ticket.first_response_due_at is not None
        assert ticket.sla_next_check_at is not None
        assert response.json()["first_response_due_at"] is not None

    def test_serializers_do_not_share_field_objects(self, customer):
        """The fields are built once per class, but each serializer binds its own copies (threads)."""
        ticket = TicketFactory(requester=customer)
        first, second = TicketSerializer(ticket), TicketSerializer(ticket)
        assert set(first.fields) == set(second.fields)
        assert "sla_state" in first.fields
        assert "escalations" in first.fields
        assert first.fields["subject"] is not second.fields["subject"]
        assert first.fields["subject"].parent is first
        assert second.fields["subject"].parent is second

    def test_input_serializers_bind_their_own_field_copies(self):
        """Declared fields are copied shallowly per instance: nothing bound or refused leaks across."""
        refused = CustomerTicketCreateSerializer(data={"subject": "", "priority": "P9"})
        accepted = CustomerTicketCreateSerializer(data={"subject": "Zip", "description": "Broke."})
        assert not refused.is_valid()
        assert accepted.is_valid(), accepted.errors
        assert set(refused.errors) == {"subject", "description", "priority"}
        assert accepted.validated_data["priority"] == "P2"
        assert refused.fields["subject"] is not accepted.fields["subject"]
        assert refused.fields["subject"].parent is refused
        assert accepted.fields["subject"].parent is accepted
        assert CustomerTicketCreateSerializer._declared_fields["subject"].parent is None

    @pytest.mark.parametrize("rows", [2, 20])
    def test_message_list_is_constant_in_rows(
        self, api_client_for, agent, customer, rows, django_assert_max_num_queries
    ):
        ticket = TicketFactory(requester=customer)
        for i in range(rows):
            MessageFactory(ticket=ticket, author=agent if i % 2 else customer, body=f"m{i}")
        with django_assert_max_num_queries(6):
            response = api_client_for(customer).get(url(ticket, "messages/"))
        assert response.json()["count"] == rows


class TestSchema:
    def test_schema_and_docs_are_served(self, client):
        schema = client.get("/api/v1/schema/")
        assert schema.status_code == 200
        assert b"/api/v1/tickets/{reference}/messages/" in schema.content
        docs = client.get("/api/v1/docs/")
        assert docs.status_code == 200


def test_make_user_helper_roles():
    manager = make_user("m2@sofacoverpro.com", "manager")
    assert manager.is_staff
    assert account_permissions.is_manager(manager)  # the factory goes through the service, which gives the role
