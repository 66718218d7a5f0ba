"""The incidents API: the desk's (agents and managers); customers are told nothing is here.

Bad input is a 400 naming the field, a rule of the desk a 400/409 with its code, never a 500.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from incidents.models import Incident, IncidentEvent, IncidentTicket, Review, ReviewItem
from notifications.models import Notification
from support import usecases
from tests.tickets.factories import TicketFactory, make_user
from tickets.models import Ticket

pytestmark = pytest.mark.django_db
BASE = "/api/v1/incidents/"
Kind = Notification.Kind


def declare_body(**overrides) -> dict:
    body = {
        "severity": "P1",
        "title": "Sign-in loops back to the login page",
        "impact": "Customers cannot sign in",
        "users_affected": 340,
        "war_room": "https://meet.example.com/auth",
        "actions": ["Roll back the session change"],
        "components": ["accounts-authentication"],
    }
    body.update(overrides)
    return body


@pytest.fixture
def incident(agent) -> Incident:
    now = timezone.now()
    return usecases.declare_incident(
        declared_by=agent,
        now=now,
        severity="P1",
        title="Orders page slow",
        impact="Order history takes 30 s",
        started_at=now - timedelta(minutes=10),
    )


def url(incident: Incident | None = None, suffix: str = "") -> str:
    return f"{BASE}{incident.reference}/{suffix}" if incident is not None else BASE


class TestWhoMay:
    def test_anonymous_is_asked_to_sign_in(self, api_client_for, incident):
        client = api_client_for(None)
        assert client.get(url()).status_code == 401
        assert client.get(url(incident)).status_code == 401
        assert client.post(url(), declare_body()).status_code == 401

    @pytest.mark.parametrize(
        ("method", "suffix", "body"),
        [
            ("get", "", None),
            ("patch", "", {"title": "x"}),
            ("post", "updates/", {"body": "x"}),
            ("post", "link/", {"tickets": [1]}),
            ("post", "unlink/", {"ticket": 1}),
            ("post", "resolve/", {}),
            ("post", "actions/", {"text": "x"}),
            ("post", "review/", {}),
            ("get", "tickets/", None),
            ("get", "timeline/", None),
        ],
    )
    def test_a_customer_is_told_nothing_is_here(self, api_client_for, customer, incident, method, suffix, body):
        TicketFactory(requester=customer)
        client = api_client_for(customer)
        response = (
            getattr(client, method)(url(incident, suffix), body)
            if body
            else getattr(client, method)(url(incident, suffix))
        )
        assert response.status_code == 404
        assert client.get(url()).status_code == 404
        assert client.post(url(), declare_body()).status_code == 404
        incident.refresh_from_db()
        assert incident.title == "Orders page slow"
        assert not IncidentTicket.objects.exists()
        assert not Incident.objects.exclude(pk=incident.pk).exists()

    def test_a_customer_learns_nothing_from_the_answer(self, api_client_for, customer, incident):
        response = api_client_for(customer).get(url(incident))
        assert incident.title not in response.content.decode()

    def test_agents_and_managers_declare(self, api_client_for, agent, manager):
        for n, person in enumerate((agent, manager)):
            response = api_client_for(person).post(url(), declare_body(title=f"Outage {n}"))
            assert response.status_code == 201, response.content
            assert response.json()["commander"] == person.username
            assert response.json()["source"] == "api"


class TestDeclare:
    def test_answers_the_incident_with_every_field(self, api_client_for, agent, tier2_agent):
        started = timezone.now() - timedelta(minutes=7)
        response = api_client_for(agent).post(
            url(),
            declare_body(
                commander=tier2_agent.username,
                started_at=started.isoformat(),
                detected_at=(started + timedelta(minutes=2)).isoformat(),
                functionality="signing in",
            ),
        )
        assert response.status_code == 201, response.content
        body = response.json()
        assert body["reference"] == f"INC-{body['id']:06d}"
        assert (body["severity"], body["status"], body["commander"], body["declared_by"]) == (
            "P1",
            "investigating",
            tier2_agent.username,
            agent.username,
        )
        assert body["components"] == ["accounts-authentication"]
        assert [a["text"] for a in body["actions"]] == ["Roll back the session change"]
        assert body["mttd_seconds"] == 120
        assert body["users_affected"] == 340
        assert body["next_update_due_at"] is not None
        # The declaration went out, to Slack and the list.
        declared = Notification.objects.filter(kind=Kind.INCIDENT_DECLARED)
        assert sorted(declared.values_list("channel", "recipient")) == [
            ("email", "escalations@sofacoverpro.com"),
            ("slack", "#support-critical"),
        ]

    def test_from_a_ticket_links_it_and_acknowledges_its_customer(self, api_client_for, agent, customer):
        ticket = TicketFactory(requester=customer, category="authentication")
        response = api_client_for(agent).post(url(), declare_body(ticket=ticket.reference))
        assert response.status_code == 201, response.content
        assert response.json()["ticket"] == ticket.reference
        assert response.json()["linked_tickets"] == 1
        (ack,) = Notification.objects.filter(kind=Kind.INCIDENT_ACK)
        assert (ack.recipient, ack.ticket_id) == (customer.email, ticket.pk)

    @pytest.mark.parametrize(
        ("overrides", "field"),
        [
            ({"severity": "P7"}, "severity"),
            ({"severity": 0}, "severity"),
            ({"title": ""}, "title"),
            ({"title": "x" * 201}, "title"),
            ({"impact": "   "}, "impact"),
            ({"users_affected": -1}, "users_affected"),
            ({"users_affected": "many"}, "users_affected"),
            ({"commander": "alice@example.com"}, "commander"),
            ({"commander": "not-an-address"}, "commander"),
            ({"components": ["no-such-part"]}, "components"),
            ({"components": "checkout-payments"}, "components"),
            ({"actions": ["x" * 301]}, "actions"),
            ({"actions": ["a"] * 51}, "actions"),
            ({"ticket": "SCP-999999"}, "ticket"),
            ({"ticket": "42"}, "ticket"),
            ({"started_at": "yesterday"}, "started_at"),
            ({"started_at": "2999-01-01T00:00:00Z"}, "started_at"),
            ({"started_at": "0732-10-05T00:37:35Z"}, "started_at"),
            ({"detected_at": "1999-12-31T23:59:59Z"}, "detected_at"),
            ({"public": "yes"}, "public"),
        ],
    )
    def test_bad_input_is_a_400_naming_the_field(self, api_client_for, agent, customer, overrides, field):
        response = api_client_for(agent).post(url(), declare_body(**overrides))
        assert response.status_code == 400, response.content
        assert field in response.json(), response.json()
        assert not Incident.objects.exists()
        assert not Notification.objects.filter(kind=Kind.INCIDENT_DECLARED).exists()

    def test_detected_before_it_started_is_refused_on_detected_at(self, api_client_for, agent):
        now = timezone.now()
        response = api_client_for(agent).post(
            url(),
            declare_body(started_at=now.isoformat(), detected_at=(now - timedelta(hours=1)).isoformat()),
        )
        assert response.status_code == 400
        assert "detected_at" in response.json()

    @pytest.mark.parametrize("body", [[], "x", 3, None, {"severity": None}])
    def test_a_body_that_is_not_an_incident_is_a_400(self, api_client_for, agent, body):
        response = api_client_for(agent).post(url(), body, format="json")
        assert response.status_code == 400


class TestReading:
    def test_the_list_is_latest_first_filtered_and_paged(self, api_client_for, agent, django_assert_max_num_queries):
        now = timezone.now()
        made = [
            usecases.declare_incident(
                declared_by=agent,
                now=now + timedelta(seconds=n),
                severity=sev,
                title=f"I{n}",
                impact="x",
                started_at=now - timedelta(minutes=1),
                actions=["a", "b"],
            )
            for n, sev in enumerate(["P0", "P2", "P2", "P3"])
        ]
        usecases.resolve_incident(incident=made[3], by=agent, now=now + timedelta(minutes=5))
        client = api_client_for(agent)
        with django_assert_max_num_queries(8):
            response = client.get(url(), {"page_size": 2})
        body = response.json()
        assert [i["title"] for i in body["results"]] == ["I3", "I2"]
        assert body["next"]
        assert body["previous"] is None
        assert [i["title"] for i in client.get(body["next"]).json()["results"]] == ["I1", "I0"]
        assert [i["title"] for i in client.get(url(), {"severity": "P2"}).json()["results"]] == ["I2", "I1"]
        assert [i["title"] for i in client.get(url(), {"open": "false"}).json()["results"]] == ["I3"]
        assert client.get(url(), {"status": "resolved"}).json()["results"][0]["title"] == "I3"
        for bad in ({"severity": "P9"}, {"open": "maybe"}, {"status": "gone"}, {"page_size": 0}):
            response = client.get(url(), bad)
            assert response.status_code == 400, bad
            assert set(bad) <= set(response.json())

    def test_the_list_reads_the_same_few_queries_for_more_incidents(
        self, api_client_for, agent, django_assert_max_num_queries
    ):
        now = timezone.now()
        for n in range(20):
            usecases.declare_incident(
                declared_by=agent, now=now, severity="P2", title=f"I{n}", impact="x", actions=["a"]
            )
        with django_assert_max_num_queries(8):
            assert len(api_client_for(agent).get(url()).json()["results"]) == 20

    def test_an_unknown_reference_is_a_404(self, api_client_for, agent):
        assert api_client_for(agent).get(f"{BASE}INC-999999/").status_code == 404
        assert api_client_for(agent).get(f"{BASE}INC-12/").status_code == 404

    def test_timeline_and_linked_tickets(self, api_client_for, agent, incident, customer):
        tickets = [TicketFactory(requester=customer) for _ in range(3)]
        usecases.incident_link(incident=incident, tickets=tickets, by=agent, now=timezone.now())
        client = api_client_for(agent)
        linked = client.get(url(incident, "tickets/")).json()
        assert linked["count"] == 3
        assert [row["ticket"] for row in linked["results"]] == [t.reference for t in tickets]
        assert all(row["acknowledged_at"] for row in linked["results"])
        timeline = client.get(url(incident, "timeline/")).json()
        assert [e["kind"] for e in timeline["results"]] == ["declared", "linked", "linked", "linked"]


class TestUpdates:
    def test_a_status_change_is_recorded_and_told(self, api_client_for, agent, incident):
        response = api_client_for(agent).post(
            url(incident, "updates/"), {"status": "identified", "body": "A slow query on orders."}
        )
        assert response.status_code == 201, response.content
        assert response.json()["kind"] == "status"
        assert response.json()["status"] == "identified"
        assert Notification.objects.filter(kind=Kind.INCIDENT_UPDATE, channel="slack").count() == 1

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"status": "resolved", "body": "x"}, "status"),
            ({"status": "gone", "body": "x"}, "status"),
            ({"body": ""}, "body"),
            ({"body": "   "}, "body"),
            ({"body": 5}, "body"),
            ({"body": "x", "public": "true"}, "public"),
        ],
    )
    def test_bad_updates_are_400s(self, api_client_for, agent, incident, body, field):
        response = api_client_for(agent).post(url(incident, "updates/"), body)
        assert response.status_code == 400, response.content
        assert field in response.json()

    def test_a_resolved_incident_takes_no_more_updates_or_links(self, api_client_for, agent, incident, customer):
        client = api_client_for(agent)
        assert client.post(url(incident, "resolve/"), {}).status_code == 400  # P1: the notification's texts
        resolved = client.post(url(incident, "resolve/"), {"what_happened": "w", "resolution": "r", "prevention": "p"})
        assert resolved.status_code == 200, resolved.content
        assert resolved.json()["status"] == "resolved"
        assert client.post(url(incident, "updates/"), {"body": "again"}).status_code == 409
        ticket = TicketFactory(requester=customer)
        assert client.post(url(incident, "link/"), {"tickets": [ticket.reference]}).status_code == 409
        assert client.post(url(incident, "resolve/"), {}).status_code == 409


class TestLinking:
    def test_links_by_reference_and_id_in_bulk_and_skips_those_linked(self, api_client_for, agent, incident):
        tickets = [TicketFactory() for _ in range(4)]
        client = api_client_for(agent)
        keys = [tickets[0].reference, tickets[1].pk, tickets[2].reference, tickets[2].pk]
        response = client.post(url(incident, "link/"), {"tickets": keys})
        assert response.status_code == 200, response.content
        assert [row["ticket"] for row in response.json()] == [t.reference for t in tickets[:3]]
        again = client.post(url(incident, "link/"), {"tickets": [tickets[0].reference, tickets[3].pk]})
        assert [row["ticket"] for row in again.json()] == [tickets[3].reference]
        assert Notification.objects.filter(kind=Kind.INCIDENT_ACK).count() == 4

    @pytest.mark.parametrize(
        "tickets",
        [[], "SCP-000001", [True], [0], ["scp-000001"], [" SCP-000001"], [1.5], [None], [{"id": 1}], ["SCP-999999"]],
    )
    def test_bad_keys_are_a_400_on_tickets(self, api_client_for, agent, incident, tickets):
        TicketFactory()
        response = api_client_for(agent).post(url(incident, "link/"), {"tickets": tickets})
        assert response.status_code == 400, response.content
        assert "tickets" in response.json()
        assert not IncidentTicket.objects.exists()

    def test_more_than_a_request_holds_is_refused(self, api_client_for, agent, incident):
        response = api_client_for(agent).post(url(incident, "link/"), {"tickets": list(range(1, 1002))})
        assert response.status_code == 400
        assert "tickets" in response.json()

    def test_unlinking(self, api_client_for, agent, incident):
        ticket = TicketFactory()
        client = api_client_for(agent)
        client.post(url(incident, "link/"), {"tickets": [ticket.pk]})
        assert client.post(url(incident, "unlink/"), {"ticket": ticket.reference}).json() == {
            "unlinked": ticket.reference
        }
        assert client.post(url(incident, "unlink/"), {"ticket": ticket.reference}).status_code == 404
        assert client.post(url(incident, "unlink/"), {"ticket": "SCP-999999"}).status_code == 400
        assert client.post(url(incident, "unlink/"), {}).status_code == 400


class TestEditAndActions:
    def test_patch_edits_some_fields(self, api_client_for, agent, tier2_agent, incident):
        response = api_client_for(agent).patch(
            url(incident),
            {
                "severity": "P0",
                "commander": tier2_agent.username,
                "components": ["orders"],
                "expected_resolution": "1 h",
            },
        )
        assert response.status_code == 200, response.content
        body = response.json()
        assert (body["severity"], body["commander"], body["components"]) == ("P0", tier2_agent.username, ["orders"])
        assert IncidentEvent.objects.filter(incident=incident, kind="edited").count() == 1

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"title": "  "}, "title"),
            ({"severity": "P5"}, "severity"),
            ({"commander": "alice@example.com"}, "commander"),
            ({"status": "resolved"}, None),
        ],
    )
    def test_bad_edits(self, api_client_for, agent, customer, incident, body, field):
        response = api_client_for(agent).patch(url(incident), body)
        if field is None:  # not a field one may edit: ignored, nothing changes
            assert response.status_code == 200
            assert response.json()["status"] == "investigating"
            return
        assert response.status_code == 400, response.content
        assert field in response.json()

    def test_actions_are_added_and_ticked(self, api_client_for, agent, incident):
        client = api_client_for(agent)
        added = client.post(url(incident, "actions/"), {"text": "Add an index"})
        assert added.status_code == 201, added.content
        action_id = added.json()["id"]
        ticked = client.patch(url(incident, f"actions/{action_id}/"), {"done": True})
        assert ticked.status_code == 200
        assert ticked.json()["done"] is True
        assert client.patch(url(incident, f"actions/{action_id}/"), {"done": "yes"}).status_code == 400
        assert client.patch(url(incident, "actions/999999/"), {"done": True}).status_code == 404
        assert client.post(url(incident, "actions/"), {"text": ""}).status_code == 400


class TestResolve:
    def test_resolving_outside_ones_tier_is_a_403_and_resolves_nothing(self, api_client_for, agent, incident):
        tier3_ticket = TicketFactory()
        Ticket.objects.filter(pk=tier3_ticket.pk).update(tier=3)
        usecases.incident_link(incident=incident, tickets=[tier3_ticket], by=agent, now=timezone.now())
        response = api_client_for(agent).post(
            url(incident, "resolve/"), {"what_happened": "w", "resolution": "r", "prevention": "p"}
        )
        assert response.status_code == 403
        incident.refresh_from_db()
        assert incident.is_open
        manager = make_user("boss@sofacoverpro.com", "manager")
        assert (
            api_client_for(manager)
            .post(url(incident, "resolve/"), {"what_happened": "w", "resolution": "r", "prevention": "p"})
            .status_code
            == 200
        )

    def test_the_schema_documents_the_incidents_api(self, api_client_for, agent):
        schema = api_client_for(None).get("/api/v1/schema/?format=json").json()
        paths = [path for path in schema["paths"] if path.startswith("/api/v1/incidents/")]
        assert sorted(paths) == [
            "/api/v1/incidents/",
            "/api/v1/incidents/{reference}/",
            "/api/v1/incidents/{reference}/actions/",
            "/api/v1/incidents/{reference}/actions/{action_id}/",
            "/api/v1/incidents/{reference}/link/",
            "/api/v1/incidents/{reference}/resolve/",
            "/api/v1/incidents/{reference}/review/",
            "/api/v1/incidents/{reference}/tickets/",
            "/api/v1/incidents/{reference}/timeline/",
            "/api/v1/incidents/{reference}/unlink/",
            "/api/v1/incidents/{reference}/updates/",
        ]
        assert "404" in schema["paths"]["/api/v1/incidents/"]["post"]["responses"]


class TestOpenReview:
    """``POST .../review/``: a resolved incident of any severity gets its review by choice."""

    def resolved(self, agent, severity: str = "P2") -> Incident:
        now = timezone.now()
        incident = usecases.declare_incident(
            declared_by=agent,
            now=now - timedelta(hours=1),
            severity=severity,
            title="Order confirmation mails late",
            impact="Confirmations arrive an hour late",
            started_at=now - timedelta(hours=2),
        )
        return usecases.resolve_incident(
            incident=incident,
            by=agent,
            now=now - timedelta(minutes=5),
            what_happened="The mail relay queue stalled",
            resolution="Restarted the relay",
            prevention="Alert on the relay's backlog",
        )

    def test_an_agent_opens_it_then_gets_the_same_one(self, api_client_for, agent):
        incident = self.resolved(agent)
        assert not Review.objects.filter(incident=incident).exists()  # a P2 gets none on resolving
        client = api_client_for(agent)

        first = client.post(url(incident, "review/"))
        assert first.status_code == 201, first.content
        body = first.json()
        assert body["incident"] == incident.reference
        assert len(body["items"]) == 12
        assert {item["phase"] for item in body["items"]} == {"immediate", "follow_up", "long_term"}
        resolved_at = incident.resolved_at
        assert resolved_at is not None
        # Due 2 h / 48 h / 1 week after the resolution (P2: on its SLA calendar, so never before).
        assert all(item["due_at"] and item["done"] is False for item in body["items"])
        assert ReviewItem.objects.filter(review__incident=incident).count() == 12
        assert all(i.due_at > resolved_at for i in ReviewItem.objects.filter(review__incident=incident))

        second = client.post(url(incident, "review/"))
        assert second.status_code == 200
        assert second.json()["id"] == body["id"]
        assert Review.objects.filter(incident=incident).count() == 1
        assert ReviewItem.objects.filter(review__incident=incident).count() == 12

    def test_a_p1_has_its_review_from_resolving_and_the_api_returns_it(self, api_client_for, manager, agent):
        incident = self.resolved(agent, severity="P1")
        review = Review.objects.get(incident=incident)
        response = api_client_for(manager).post(url(incident, "review/"))
        assert response.status_code == 200
        assert response.json()["id"] == review.pk

    def test_an_incident_not_resolved_is_a_400_on_status(self, api_client_for, agent, incident):
        response = api_client_for(agent).post(url(incident, "review/"))
        assert response.status_code == 400
        assert "status" in response.json()
        assert "Resolve the incident first" in response.json()["status"][0]
        assert not Review.objects.exists()

    def test_customers_get_404_and_anonymous_401(self, api_client_for, agent, customer):
        incident = self.resolved(agent)
        assert api_client_for(customer).post(url(incident, "review/")).status_code == 404
        assert api_client_for(None).post(url(incident, "review/")).status_code == 401
        assert not Review.objects.exists()

    def test_only_post(self, api_client_for, agent):
        incident = self.resolved(agent)
        assert api_client_for(agent).get(url(incident, "review/")).status_code == 405
        assert api_client_for(agent).post(f"{BASE}INC-999999/review/").status_code == 404
