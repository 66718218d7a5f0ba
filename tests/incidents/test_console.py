"""The console's incidents: the list, declaring, the incident page and its forms, the ticket page's
panel, the queue's "Link to incident…", and the portal's notice on the new-ticket form."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from incidents.models import Component, Incident, IncidentAction, IncidentEvent, IncidentTicket, Review, ReviewItem
from support import usecases
from tests.tickets.factories import T0, TicketFactory, make_user
from tickets.models import Ticket

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
LIST = reverse("admin:incidents_incident_changelist")
ADD = reverse("admin:incidents_incident_add")
QUEUE = reverse("admin:tickets_ticket_changelist")
# The incident page, whatever the number of linked tickets, events and actions: the user, their groups
# and permissions, the incident with its commander and declarer (and its linked count), the components
# (marked affected or not, for the header and the edit form), the actions, the timeline with its authors,
# the linked tickets with their requesters. The session and the commander choices come from the cache.
INCIDENT_PAGE_QUERIES = 7
# The list: the user, their groups and permissions, the capped count, the page (linked counts included),
# the components filter's choices.
LIST_MAX_QUERIES = 6
# Internal fields a customer must never see: planted in each, looked for in the portal's page.
CANARY = "canary-7f3a"


@pytest.fixture(autouse=True)
def _frozen(time_machine):
    time_machine.move_to(NOW, tick=False)


def page(incident: Incident, anchor: str = "") -> str:
    return reverse("admin:incidents_incident_change", args=[incident.pk]) + anchor


def post_url(incident: Incident, name: str, *args) -> str:
    return reverse(f"admin:incidents_incident_{name}", args=[incident.pk, *args])


def ticket_page(ticket: Ticket) -> str:
    return reverse("admin:tickets_ticket_change", args=[ticket.pk])


def flashed(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def declare(agent, **overrides) -> Incident:
    fields = {
        "severity": "P1",
        "title": "Checkout fails",
        "impact": "Card payments fail for about a third of customers",
        "users_affected": 400,
        "started_at": NOW - timedelta(minutes=9),
        "detected_at": NOW - timedelta(minutes=2),
        "war_room": "https://meet.example.com/checkout",
        "actions": ["Roll back release 42", "Page the payments provider"],
        "components": Component.objects.filter(slug="checkout-payments"),
    }
    fields.update(overrides)
    return usecases.declare_incident(declared_by=agent, now=NOW - timedelta(minutes=1), **fields)


def declare_form(agent, **overrides) -> dict:
    data = {
        "severity": "P0",
        "title": "Storefront down",
        "impact": "No page of the shop loads",
        "users_affected": "12000",
        "started_at": "2026-12-01T09:40",  # Europe/London is UTC in December
        "detected_at": "2026-12-01T09:44",
        "commander": str(agent.pk),
        "war_room": "https://meet.example.com/storefront",
        "actions": "Restart the web tier\n\n  Check the CDN  \n",
        "components": [str(Component.objects.get(slug="storefront").pk)],
        "public": "on",
        "public_message": "",
        "functionality": "browsing the shop",
        "expected_resolution": "within the hour",
        "ticket": "",
    }
    data.update(overrides)
    return data


class TestDeclare:
    def test_an_agent_declares_through_the_form_with_every_field(self, client: Client, agent):
        client.force_login(agent)

        response = client.post(ADD, declare_form(agent))

        incident = Incident.objects.get()
        assert response.status_code == 302
        assert response["Location"] == page(incident)
        assert (incident.severity, incident.title, incident.status) == ("P0", "Storefront down", "investigating")
        assert incident.users_affected == 12000
        assert incident.detected_at - incident.started_at == timedelta(minutes=4)
        assert incident.commander == agent
        assert incident.declared_by == agent
        assert incident.source == Incident.Source.CONSOLE
        assert incident.public
        assert incident.functionality == "browsing the shop"
        assert [a.text for a in incident.actions.all()] == ["Restart the web tier", "Check the CDN"]
        assert [c.slug for c in incident.components.all()] == ["storefront"]
        # P0: an update every 30 minutes.
        assert incident.next_update_due_at == NOW + timedelta(minutes=30)

    @pytest.mark.parametrize(
        ("overrides", "field", "message"),
        [
            ({"detected_at": "2026-12-01T09:30"}, "detected_at", "It cannot be detected before it started."),
            ({"started_at": "2026-12-01T11:00"}, "started_at", "An incident cannot start in the future."),
            ({"title": ""}, "title", "This field is required."),
            ({"severity": "P9"}, "severity", "Select a valid choice."),
        ],
    )
    def test_a_refusal_is_shown_on_the_form_and_nothing_is_declared(
        self, client: Client, agent, overrides, field, message
    ):
        client.force_login(agent)

        response = client.post(ADD, declare_form(agent, **overrides))

        assert response.status_code == 400
        assert message in response.context["form"].errors[field][0]
        assert message in response.content.decode()
        assert not Incident.objects.exists()

    def test_only_an_agent_may_command(self, client: Client, agent, customer):
        client.force_login(agent)

        response = client.post(ADD, declare_form(agent, commander=str(customer.pk)))

        assert response.status_code == 400
        assert "commander" in response.context["form"].errors
        assert not Incident.objects.exists()

    def test_from_a_ticket_the_form_is_filled_from_it(self, client: Client, agent, customer):
        ticket = TicketFactory(
            requester=customer, subject="Card declined at checkout", priority="P1", category="payment"
        )
        client.force_login(agent)

        response = client.get(f"{ADD}?ticket={ticket.reference}")

        form = response.context["form"]
        assert response.status_code == 200
        assert form.initial["severity"] == "P1"
        assert form.initial["title"] == "Card declined at checkout"
        assert form.initial["ticket"] == ticket.reference
        assert form.initial["components"] == [Component.objects.get(slug="checkout-payments").pk]
        assert f'From ticket <a href="{ticket_page(ticket)}">{ticket.reference}</a>' in response.content.decode()

    def test_declaring_from_a_ticket_links_it(self, client: Client, agent, customer):
        ticket = TicketFactory(requester=customer, category="payment")
        client.force_login(agent)

        client.post(ADD, declare_form(agent, ticket=ticket.reference))

        incident = Incident.objects.get()
        assert incident.source == Incident.Source.TICKET
        assert incident.ticket == ticket
        assert list(incident.tickets.all()) == [ticket]

    def test_an_unknown_ticket_is_a_404_on_the_form_and_an_error_when_posted(self, client: Client, agent):
        client.force_login(agent)

        assert client.get(f"{ADD}?ticket=SCP-999999").status_code == 404
        response = client.post(ADD, declare_form(agent, ticket="SCP-999999"))
        assert response.status_code == 400
        assert "No ticket SCP-999999." in response.content.decode()
        assert not Incident.objects.exists()


class TestIncidentPage:
    def test_shows_the_header_the_actions_the_timeline_and_the_linked_tickets(self, client: Client, agent, customer):
        incident = declare(agent)
        ticket = TicketFactory(requester=customer, subject="Cannot pay")
        usecases.incident_link(incident=incident, tickets=[ticket], by=agent, now=NOW)
        client.force_login(agent)

        response = client.get(page(incident))

        html = response.content.decode()
        assert response.status_code == 200
        assert f"{incident.reference} · Checkout fails" in html
        assert '<span class="console-priority console-priority-p1">P1 High</span>' in html
        assert 'id="incident-commander">Tina<' in html
        assert '<a href="https://meet.example.com/checkout" rel="noopener noreferrer"' in html
        assert 'id="incident-mttd">7 min<' in html
        # P1: the next update is due 2 h after the declaration.
        assert '<span class="incident-due">in 1 h 59 min</span>' in html
        assert "Roll back release 42" in html
        assert "About 400 users affected." in html
        assert f'<a href="{ticket_page(ticket)}">{ticket.reference}</a>' in html
        assert "Cannot pay" in html
        assert "alice@example.com" in html

    @pytest.mark.parametrize(
        "war_room",
        ['javascript:alert("x")', "data:text/html,<script>alert(1)</script>", "Room 4 <b>east</b>", "//evil.example"],
    )
    def test_a_war_room_that_is_no_http_url_is_text(self, client: Client, agent, war_room):
        incident = declare(agent, war_room=war_room)
        client.force_login(agent)

        html = client.get(page(incident)).content.decode()

        section = html[html.index('id="incident-war-room"') :][:300]
        assert "<a " not in section
        assert "<script>" not in html.split('id="incident-war-room"')[1][:300]
        assert "<b>east" not in html

    def test_an_update_overdue_is_highlighted(self, client: Client, agent, time_machine):
        incident = declare(agent)
        client.force_login(agent)
        time_machine.move_to(NOW + timedelta(hours=2, minutes=5), tick=False)

        html = client.get(page(incident)).content.decode()

        assert '<span class="incident-due incident-due-overdue">overdue by 6 min</span>' in html

    def test_an_update_moves_the_status_and_shows_on_the_timeline(self, client: Client, agent):
        incident = declare(agent)
        client.force_login(agent)

        response = client.post(
            post_url(incident, "update"),
            {"update-status": "identified", "update-body": "A bad release; rolling back.", "update-public": "on"},
        )

        assert response.status_code == 302
        assert response["Location"] == page(incident, "#timeline")
        incident.refresh_from_db()
        assert incident.status == Incident.Status.IDENTIFIED
        event = incident.events.latest("id")
        assert (event.kind, event.public, event.author) == (IncidentEvent.Kind.STATUS, True, agent)
        html = client.get(page(incident)).content.decode()
        timeline = html[html.index('id="timeline"') :]
        assert "A bad release; rolling back." in timeline
        assert timeline.index("A bad release") < timeline.index("We are investigating")  # newest first
        oldest_first = client.get(page(incident) + "?timeline=oldest").content.decode()
        timeline = oldest_first[oldest_first.index('id="timeline"') :]
        assert timeline.index("A bad release") > timeline.index("We are investigating")

    def test_an_internal_note_is_not_public(self, client: Client, agent):
        incident = declare(agent)
        client.force_login(agent)

        client.post(post_url(incident, "update"), {"update-status": "investigating", "update-body": "War room moved"})

        event = incident.events.latest("id")
        assert (event.kind, event.public) == (IncidentEvent.Kind.NOTE, False)

    def test_an_empty_update_is_a_form_error(self, client: Client, agent):
        incident = declare(agent)
        client.force_login(agent)

        response = client.post(post_url(incident, "update"), {"update-status": "identified", "update-body": "  "})

        assert response.status_code == 400
        assert "This field is required." in response.context["update_form"].errors["body"]
        incident.refresh_from_db()
        assert incident.status == Incident.Status.INVESTIGATING
        assert incident.events.count() == 1

    def test_an_update_to_a_resolved_incident_is_refused_on_the_form(self, client: Client, agent):
        incident = declare(agent, severity="P2")
        usecases.resolve_incident(incident=incident, by=agent, now=NOW)
        client.force_login(agent)

        response = client.post(post_url(incident, "update"), {"update-status": "identified", "update-body": "Again"})

        assert response.status_code == 400
        assert "This incident is resolved." in response.content.decode()

    def test_an_action_is_ticked_unticked_and_added(self, client: Client, agent):
        incident = declare(agent)
        action = incident.actions.get(text="Roll back release 42")
        client.force_login(agent)

        ticked = client.post(post_url(incident, "action_tick", action.pk), {"done": "1"})
        action.refresh_from_db()
        assert ticked.status_code == 302
        assert action.done_at == NOW
        assert "(1 of 2 done)" in client.get(page(incident)).content.decode()

        client.post(post_url(incident, "action_tick", action.pk), {"done": "0"})
        action.refresh_from_db()
        assert action.done_at is None

        added = client.post(post_url(incident, "actions_add"), {"action-text": "Tell the payments team"})
        assert added.status_code == 302
        assert incident.actions.filter(text="Tell the payments team").exists()
        bodies = list(incident.events.filter(kind=IncidentEvent.Kind.ACTION).values_list("body", flat=True))
        assert bodies == [
            "Done: Roll back release 42",
            "Not done: Roll back release 42",
            "Action added: Tell the payments team",
        ]

    def test_another_incidents_action_is_a_404(self, client: Client, agent):
        incident, other = declare(agent), declare(agent, title="Other")
        client.force_login(agent)

        response = client.post(post_url(incident, "action_tick", other.actions.all()[0].pk), {"done": "1"})

        assert response.status_code == 404
        assert not IncidentAction.objects.filter(done_at__isnull=False).exists()

    def test_tickets_are_linked_by_reference(self, client: Client, agent, customer):
        incident = declare(agent)
        first, second = TicketFactory(requester=customer), TicketFactory(requester=customer)
        client.force_login(agent)

        response = client.post(
            post_url(incident, "link"), {"link-tickets": f"{first.reference}, {second.reference.lower()}"}
        )

        assert response.status_code == 302
        assert set(incident.tickets.all()) == {first, second}
        assert "Linked 2 tickets." in flashed(response)

    @pytest.mark.parametrize(
        ("typed", "message"),
        [("SCP-999999", "No such ticket: SCP-999999."), ("order 42", "Not a ticket reference (like SCP-000042)")],
    )
    def test_an_unknown_reference_is_a_form_error_and_links_nothing(
        self, client: Client, agent, customer, typed, message
    ):
        incident = declare(agent)
        ticket = TicketFactory(requester=customer)
        client.force_login(agent)

        response = client.post(post_url(incident, "link"), {"link-tickets": f"{ticket.reference}, {typed}"})

        assert response.status_code == 400
        assert message in response.context["link_form"].errors["tickets"][0]
        assert message in response.content.decode()
        assert not IncidentTicket.objects.exists()

    def test_a_ticket_is_unlinked(self, client: Client, agent, customer):
        incident = declare(agent)
        ticket = TicketFactory(requester=customer)
        usecases.incident_link(incident=incident, tickets=[ticket], by=agent, now=NOW)
        client.force_login(agent)

        response = client.post(post_url(incident, "unlink"), {"ticket": ticket.reference})

        assert response.status_code == 302
        assert not incident.links.exists()
        assert incident.events.filter(kind=IncidentEvent.Kind.UNLINKED, ticket=ticket).exists()

    def test_resolving_a_p0_without_its_resolution_fields_is_a_form_error_and_changes_nothing(
        self, client: Client, agent, customer
    ):
        incident = declare(agent, severity="P0")
        ticket = TicketFactory(requester=customer)
        usecases.incident_link(incident=incident, tickets=[ticket], by=agent, now=NOW)
        client.force_login(agent)

        response = client.post(
            post_url(incident, "resolve"),
            {"resolve-what_happened": "A release broke payments.", "resolve-resolution": "Rolled back."},
        )

        assert response.status_code == 400
        assert "Required to resolve a P0/P1 incident" in response.context["resolve_form"].errors["prevention"][0]
        incident.refresh_from_db()
        ticket.refresh_from_db()
        assert incident.status == Incident.Status.INVESTIGATING
        assert incident.what_happened == ""
        assert ticket.status == Ticket.Status.NEW
        assert not incident.events.filter(kind=IncidentEvent.Kind.RESOLVED).exists()

    def test_resolving_resolves_the_incident_and_its_linked_tickets(self, client: Client, agent, customer):
        incident = declare(agent, severity="P0")
        ticket = TicketFactory(requester=customer)
        usecases.incident_link(incident=incident, tickets=[ticket], by=agent, now=NOW)
        client.force_login(agent)

        response = client.post(
            post_url(incident, "resolve"),
            {
                "resolve-what_happened": "A release broke payments.",
                "resolve-resolution": "Rolled back.",
                "resolve-prevention": "A payment smoke test before each release.",
                "resolve-public_message": "Payments work again.",
            },
        )

        assert response.status_code == 302
        incident.refresh_from_db()
        ticket.refresh_from_db()
        assert (incident.status, incident.resolved_at) == (Incident.Status.RESOLVED, NOW)
        assert ticket.status == Ticket.Status.RESOLVED
        assert ticket.resolution_note == "Rolled back."
        html = client.get(page(incident)).content.decode()
        assert 'id="incident-resolve-form"' not in html
        assert 'id="incident-update-form"' not in html
        assert "A payment smoke test before each release." in html

    def test_the_fields_are_edited(self, client: Client, agent, manager):
        incident = declare(agent)
        client.force_login(agent)
        orders = Component.objects.get(slug="orders")

        response = client.post(
            post_url(incident, "edit"),
            {
                "edit-title": "Checkout and orders fail",
                "edit-severity": "P0",
                "edit-impact": incident.impact,
                "edit-users_affected": "900",
                "edit-war_room": "Room 4",
                "edit-commander": str(manager.pk),
                "edit-public": "on",
                "edit-functionality": "",
                "edit-expected_resolution": "",
                "edit-components": [str(orders.pk)],
            },
        )

        assert response.status_code == 302
        incident.refresh_from_db()
        assert (incident.title, incident.severity, incident.users_affected) == ("Checkout and orders fail", "P0", 900)
        assert (incident.war_room, incident.commander) == ("Room 4", manager)
        assert list(incident.components.all()) == [orders]
        edited = incident.events.get(kind=IncidentEvent.Kind.EDITED)
        assert "title" in edited.body
        assert "components" in edited.body

    def test_an_edit_naming_a_customer_commander_is_a_form_error(self, client: Client, agent, customer):
        incident = declare(agent)
        client.force_login(agent)

        response = client.post(
            post_url(incident, "edit"),
            {"edit-title": "x", "edit-severity": "P1", "edit-impact": "y", "edit-commander": str(customer.pk)},
        )

        assert response.status_code == 400
        assert "commander" in response.context["edit_form"].errors
        incident.refresh_from_db()
        assert incident.title == "Checkout fails"

    def test_the_page_reads_a_fixed_number_of_queries_however_long_the_incident(self, client: Client, agent, customer):
        small, large = declare(agent), declare(agent, title="Large")
        usecases.incident_link(incident=small, tickets=[TicketFactory(requester=customer)], by=agent, now=NOW)
        tickets = Ticket.objects.bulk_create(
            Ticket(subject=f"Cannot pay {n}", description="d", requester=customer, created_at=T0, updated_at=T0)
            for n in range(200)
        )
        usecases.incident_link(
            incident=large, tickets=Ticket.objects.filter(subject__startswith="Cannot pay "), by=agent, now=NOW
        )
        IncidentEvent.objects.bulk_create(
            IncidentEvent(incident=large, kind="update", at=NOW, author=agent, status="investigating", body=f"u{n}")
            for n in range(100)
        )
        assert large.links.count() == len(tickets) == 200
        assert large.events.count() >= 300
        client.force_login(agent)
        client.get(page(small))  # the session and the commander choices into the cache

        counts = {}
        for incident in (small, large):
            with CaptureQueriesContext(connection) as captured:
                response = client.get(page(incident))
            assert response.status_code == 200
            counts[incident.title] = len(captured.captured_queries)

        assert counts == {"Checkout fails": INCIDENT_PAGE_QUERIES, "Large": INCIDENT_PAGE_QUERIES}
        html = response.content.decode()
        assert "Cannot pay 199" in html
        assert "u99" in html

    def test_hostile_input_is_a_4xx_never_a_500(self, client: Client, agent):
        incident = declare(agent)
        client.force_login(agent)
        big = "9" * 30

        answers = [
            client.post(f"{LIST}{incident.pk}/actions/{big}/tick/", {"done": "1"}).status_code,
            client.get(f"{LIST}{big}/change/").status_code,
            client.post(f"{LIST}{big}/update/", {}).status_code,
            client.post(
                post_url(incident, "edit"),
                {
                    "edit-title": "x",
                    "edit-severity": "P1",
                    "edit-impact": "y",
                    "edit-components": ["999", "abc"],
                    "edit-users_affected": big,
                },
            ).status_code,
            client.post(post_url(incident, "link"), {"link-tickets": f"SCP-{big}"}).status_code,
            client.post(post_url(incident, "link_ticket"), {"ticket": "x" * 5000}).status_code,
            client.get(LIST, {"q": f"INC-{big}"}).status_code,
        ]

        assert answers == [404, 404, 404, 400, 400, 404, 200]
        incident.refresh_from_db()
        assert incident.title == "Checkout fails"


class TestList:
    def test_lists_open_incidents_first_with_their_columns(self, client: Client, agent, customer, time_machine):
        older = declare(agent, title="Older and open")
        resolved = declare(agent, title="Resolved one", severity="P2")
        usecases.resolve_incident(incident=resolved, by=agent, now=NOW)
        newer = declare(agent, title="Newer and open", severity="P0")
        usecases.incident_link(
            incident=newer, tickets=[TicketFactory(requester=customer) for _ in range(3)], by=agent, now=NOW
        )
        time_machine.move_to(NOW + timedelta(minutes=40), tick=False)
        client.force_login(agent)

        response = client.get(LIST)

        rows = list(response.context["cl"].result_list)
        assert rows == [newer, older, resolved]
        html = response.content.decode()
        # P0: due 30 min after its declaration, 41 min ago.
        assert (
            '<span class="incident-due incident-due-overdue" title="1 Dec 2026, 10:29">overdue by 11 min</span>' in html
        )
        assert '<td class="field-linked_tickets">3</td>' in html
        assert '<td class="field-commander_label">Tina</td>' in html
        assert f'<a href="{ADD}" class="addlink">Declare incident</a>' in html

    def test_reads_a_fixed_number_of_queries_whatever_the_rows(self, client: Client, agent, customer):
        for n in range(30):
            incident = declare(agent, title=f"Incident {n}")
            usecases.incident_link(incident=incident, tickets=[TicketFactory(requester=customer)], by=agent, now=NOW)
        client.force_login(agent)
        client.get(LIST)

        with CaptureQueriesContext(connection) as captured:
            assert client.get(LIST).status_code == 200

        assert len(captured.captured_queries) <= LIST_MAX_QUERIES

    def test_finds_an_incident_by_reference_and_filters_by_state(self, client: Client, agent):
        first, second = declare(agent, title="First"), declare(agent, title="Second", severity="P3")
        usecases.resolve_incident(incident=second, by=agent, now=NOW)
        client.force_login(agent)

        found = client.get(LIST, {"q": first.reference.lower()})
        open_ones = client.get(LIST, {"state": "open"})
        resolved = client.get(LIST, {"state": "resolved"})

        assert list(found.context["cl"].result_list) == [first]
        assert list(open_ones.context["cl"].result_list) == [first]
        assert list(resolved.context["cl"].result_list) == [second]


class TestPermissions:
    @pytest.mark.parametrize("role", ["agent", "manager"])
    def test_the_desk_may(self, client: Client, role):
        user = make_user(f"{role}-x@sofacoverpro.com", role)
        incident = declare(user)
        client.force_login(user)

        assert client.get(LIST).status_code == 200
        assert client.get(ADD).status_code == 200
        assert client.get(page(incident)).status_code == 200
        updated = client.post(post_url(incident, "update"), {"update-status": "monitoring", "update-body": "Fixed?"})
        assert updated.status_code == 302

    def test_a_customer_never_reaches_the_console(self, client: Client, agent, customer):
        incident = declare(agent)
        client.force_login(customer)

        for response in (
            client.get(LIST),
            client.get(ADD),
            client.get(page(incident)),
            client.post(post_url(incident, "update"), {"update-status": "monitoring", "update-body": "x"}),
            client.post(ADD, declare_form(agent)),
        ):
            assert response.status_code == 302
            assert response["Location"].startswith(reverse("admin:login"))
        assert Incident.objects.count() == 1
        assert incident.events.count() == 1

    def test_anonymous_visitors_are_sent_to_log_in(self, client: Client, agent):
        incident = declare(agent)

        for response in (
            client.get(page(incident)),
            client.post(post_url(incident, "resolve"), {}),
            client.post(post_url(incident, "link-ticket".replace("-", "_")), {"ticket": "SCP-000001"}),
        ):
            assert response.status_code == 302
            assert response["Location"].startswith(reverse("admin:login"))
        incident.refresh_from_db()
        assert incident.is_open

    def test_nobody_deletes_an_incident(self, client: Client, manager):
        incident = declare(manager)
        client.force_login(manager)

        response = client.post(reverse("admin:incidents_incident_delete", args=[incident.pk]), {"post": "yes"})

        assert response.status_code == 403
        assert Incident.objects.filter(pk=incident.pk).exists()

    def test_posts_need_the_csrf_token(self, agent):
        incident = declare(agent)
        client = Client(enforce_csrf_checks=True)
        client.force_login(agent)

        response = client.post(post_url(incident, "update"), {"update-status": "identified", "update-body": "x"})

        assert response.status_code == 403
        incident.refresh_from_db()
        assert incident.status == Incident.Status.INVESTIGATING

    def test_the_forms_answer_only_posts(self, client: Client, agent):
        incident = declare(agent)
        client.force_login(agent)

        assert client.get(post_url(incident, "update")).status_code == 405
        assert client.post(page(incident), {}).status_code == 405
        assert client.get(reverse("admin:incidents_incident_change", args=[999999])).status_code == 404


class TestOpenReview:
    """The incident page's "Open post-incident review": any resolved incident, by choice."""

    def resolved(self, agent, severity: str = "P2") -> Incident:
        incident = declare(agent, severity=severity)
        return usecases.resolve_incident(
            incident=incident,
            by=agent,
            now=NOW,
            what_happened="A release broke payments.",
            resolution="Rolled back.",
            prevention="A payment smoke test before each release.",
        )

    def test_an_agent_opens_the_review_of_a_resolved_p2(self, client: Client, agent):
        incident = self.resolved(agent)
        client.force_login(agent)
        html = client.get(page(incident)).content.decode()
        assert 'id="incident-review-form"' in html
        assert post_url(incident, "review") in html
        assert 'id="incident-review-link"' not in html

        response = client.post(post_url(incident, "review"))

        assert response.status_code == 302
        assert response["Location"] == page(incident, "#review")
        review = Review.objects.get(incident=incident)
        items = list(review.items.order_by("due_at", "position"))
        assert len(items) == 12
        assert [i.phase for i in items].count("immediate") == 4
        assert all(i.due_at > NOW for i in items)
        assert flashed(response) == [f"Post-incident review opened for {incident.reference}."]
        html = client.get(page(incident)).content.decode()
        assert 'id="incident-review-form"' not in html
        assert reverse("admin:incidents_review_change", args=[review.pk]) in html
        assert client.get(reverse("admin:incidents_review_change", args=[review.pk])).status_code == 200

    def test_a_second_post_keeps_the_one_review(self, client: Client, agent):
        incident = self.resolved(agent, severity="P1")  # P0/P1: opened on resolving
        review = Review.objects.get(incident=incident)
        client.force_login(agent)
        assert 'id="incident-review-form"' not in client.get(page(incident)).content.decode()

        response = client.post(post_url(incident, "review"))

        assert response.status_code == 302
        assert flashed(response) == [f"{incident.reference} already has its review."]
        assert list(Review.objects.filter(incident=incident)) == [review]
        assert ReviewItem.objects.filter(review=review).count() == 12

    def test_an_open_incident_shows_no_button_and_a_post_is_refused(self, client: Client, agent):
        incident = declare(agent)
        client.force_login(agent)
        assert 'id="incident-review-form"' not in client.get(page(incident)).content.decode()

        response = client.post(post_url(incident, "review"))

        assert response.status_code == 302
        assert "Resolve the incident first" in flashed(response)[0]
        assert not Review.objects.exists()

    def test_it_needs_a_post_with_the_csrf_token_and_an_agent(self, agent, customer):
        incident = self.resolved(agent)
        strict = Client(enforce_csrf_checks=True)
        strict.force_login(agent)
        assert strict.post(post_url(incident, "review")).status_code == 403
        assert strict.get(post_url(incident, "review")).status_code == 405
        outsider = Client()
        outsider.force_login(customer)
        assert outsider.post(post_url(incident, "review")).status_code in (302, 403)
        assert not Review.objects.exists()


class TestTicketPanel:
    def test_suggests_the_open_incident_of_the_tickets_component_and_links_it(self, client: Client, agent, customer):
        incident = declare(agent)  # checkout and payments
        ticket = TicketFactory(requester=customer, category="payment")
        elsewhere = TicketFactory(requester=customer, category="orders")
        client.force_login(agent)

        html = client.get(ticket_page(ticket)).content.decode()
        panel = html[html.index('id="incidents"') :]
        assert "Not linked to an incident." in panel
        assert f'value="Link to {incident.reference}"' in panel
        assert "Link to INC-" not in client.get(ticket_page(elsewhere)).content.decode()

        response = client.post(post_url(incident, "link_ticket"), {"ticket": ticket.reference})

        assert response.status_code == 302
        assert response["Location"] == ticket_page(ticket) + "#incidents"
        assert list(incident.tickets.all()) == [ticket]
        html = client.get(ticket_page(ticket)).content.decode()
        panel = html[html.index('id="incidents"') :]
        assert f'<a href="{page(incident)}">{incident.reference}</a>' in panel
        assert "Link to INC-" not in panel

    def test_a_resolved_incident_is_not_suggested(self, client: Client, agent, customer):
        incident = declare(agent, severity="P2")
        usecases.resolve_incident(incident=incident, by=agent, now=NOW)
        ticket = TicketFactory(requester=customer, category="payment")
        client.force_login(agent)

        assert "Link to INC-" not in client.get(ticket_page(ticket)).content.decode()

    def test_offers_to_declare_an_incident_from_the_ticket(self, client: Client, agent, customer):
        ticket = TicketFactory(requester=customer)
        client.force_login(agent)

        html = client.get(ticket_page(ticket)).content.decode()

        assert f'href="{ADD}?ticket={ticket.reference}"' in html
        assert "Declare incident from this ticket" in html


class TestQueueBulkAction:
    def test_links_every_selected_ticket_in_one_use_case(self, client: Client, agent, customer, monkeypatch):
        incident = declare(agent)
        declare(agent, title="Another")
        tickets = [TicketFactory(requester=customer) for _ in range(3)]
        selected = [str(t.pk) for t in tickets]
        calls: list[dict] = []
        link = usecases.incident_link

        def counted(**kwargs):
            calls.append(kwargs)
            return link(**kwargs)

        monkeypatch.setattr(usecases, "incident_link", counted)
        client.force_login(agent)

        chooser = client.post(QUEUE, {"action": "link_to_incident", "_selected_action": selected, "index": "0"})
        assert chooser.status_code == 200
        assert "Link <strong>3</strong> tickets to an open incident" in chooser.content.decode()
        assert calls == []

        done = client.post(
            QUEUE,
            {"action": "link_to_incident", "_selected_action": selected, "incident": str(incident.pk), "apply": "1"},
        )

        assert done.status_code == 302
        assert len(calls) == 1
        assert set(incident.tickets.all()) == set(tickets)
        assert f"Linked 3 tickets to {incident.reference}." in flashed(done)

    def test_without_an_open_incident_says_so(self, client: Client, agent, customer):
        ticket = TicketFactory(requester=customer)
        client.force_login(agent)

        response = client.post(QUEUE, {"action": "link_to_incident", "_selected_action": [ticket.pk], "index": "0"})

        assert response.status_code == 302
        assert "No incident is open: declare one first." in flashed(response)

    def test_a_resolved_incident_cannot_be_chosen(self, client: Client, agent, customer):
        incident = declare(agent, severity="P2")
        declare(agent, title="Still open")
        usecases.resolve_incident(incident=incident, by=agent, now=NOW)
        ticket = TicketFactory(requester=customer)
        client.force_login(agent)

        response = client.post(
            QUEUE,
            {"action": "link_to_incident", "_selected_action": [ticket.pk], "incident": str(incident.pk), "apply": "1"},
        )

        assert response.status_code == 200
        assert "Select a valid choice" in response.content.decode()
        assert not IncidentTicket.objects.exists()


class TestPortalNotice:
    def test_a_customer_filing_a_ticket_sees_the_open_public_incident(self, client: Client, agent, customer):
        declare(
            agent,
            title="Card payments failing",
            impact=f"impact {CANARY}",
            war_room=f"https://meet.example.com/{CANARY}",
            actions=[f"action {CANARY}"],
            functionality=f"functionality {CANARY}",
        )
        incident = Incident.objects.get()
        usecases.incident_update(incident=incident, author=agent, body=f"note {CANARY}", public=False, now=NOW)
        usecases.incident_update(incident=incident, author=agent, body="Identified", status="identified", now=NOW)
        hidden = declare(agent, title=f"Internal only {CANARY}", public=False)
        closed = declare(agent, title=f"Over {CANARY}", severity="P2")
        usecases.resolve_incident(incident=closed, by=agent, now=NOW)
        client.force_login(customer)

        response = client.get(reverse("portal:ticket-new"))

        html = response.content.decode()
        assert response.status_code == 200
        notice = html[html.index('class="message incident-notice"') :]
        assert "<strong>Card payments failing</strong> — Identified (affects Checkout and payments)" in notice
        assert '<a href="/status/">status page</a>' in notice
        assert hidden.title not in html
        assert CANARY not in html
        assert "Tina" not in html  # the commander

    def test_no_notice_without_an_open_public_incident(self, client: Client, customer):
        client.force_login(customer)

        assert "incident-notice" not in client.get(reverse("portal:ticket-new")).content.decode()
