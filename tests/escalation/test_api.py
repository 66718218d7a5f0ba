"""SLA fields and escalation through the REST API."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from support import usecases
from tests.tickets.factories import TicketFactory

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
M = timedelta(minutes=1)


def detail(client, ticket):
    return client.get(f"/api/v1/tickets/{ticket.reference}/").json()


class TestSlaFields:
    def test_deadlines_and_state_are_on_the_ticket(self, api_client_for, agent, customer):
        ticket = TicketFactory(requester=customer, priority="P0", created_at=T0)
        with time_machine.travel(T0 + 5 * M, tick=False):
            body = detail(api_client_for(agent), ticket)
        assert body["first_response_due_at"] == "2026-03-02T09:15:00Z"
        assert body["resolution_due_at"] == "2026-03-02T11:00:00Z"
        assert body["next_update_due_at"] is None
        assert body["sla_state"] == {"response": "on_track", "resolution": "on_track"}
        assert body["escalations"] == []

    @pytest.mark.parametrize(
        ("minutes", "response"),
        [(11, "on_track"), (12, "at_risk"), (15, "breached")],
    )
    def test_response_state_moves_from_on_track_to_at_risk_to_breached(
        self, api_client_for, agent, customer, minutes, response
    ):
        ticket = TicketFactory(requester=customer, priority="P0", created_at=T0)
        with time_machine.travel(T0 + minutes * M, tick=False):
            assert detail(api_client_for(agent), ticket)["sla_state"]["response"] == response

    def test_met_once_answered_in_time(self, api_client_for, agent, customer):

        ticket = TicketFactory(requester=customer, priority="P1", created_at=T0)
        usecases.reply(ticket=ticket, author=agent, body="hi", now=T0 + 10 * M)
        with time_machine.travel(T0 + 3 * 60 * M, tick=False):
            assert detail(api_client_for(customer), ticket)["sla_state"]["response"] == "met"

    def test_escalation_history_oldest_first(self, api_client_for, agent, tier2_agent, customer):
        ticket = TicketFactory(requester=customer, priority="P0", created_at=T0)
        usecases.sla_sweep(now=T0 + 30 * M)
        usecases.escalate(ticket=ticket, actor=tier2_agent, reason="technical_complexity", note="db", now=T0 + 40 * M)
        escalations = detail(api_client_for(agent), ticket)["escalations"]
        assert [(e["reason"], e["from_tier"], e["to_tier"]) for e in escalations] == [
            ("auto", 1, 2),
            ("technical_complexity", 2, 3),
        ]
        assert escalations[0]["rule"] == "P0 to Tier 2 after 30 min"
        assert escalations[0]["actor"] is None
        assert escalations[1]["actor"] == tier2_agent.username
        assert escalations[1]["note"] == "db"
        assert escalations[1]["to_management"] is False

    @pytest.mark.parametrize("rows", [3, 20])
    def test_list_query_count_is_constant_with_escalations(
        self, api_client_for, agent, customer, rows, django_assert_max_num_queries
    ):
        for _ in range(rows):
            ticket = TicketFactory(requester=customer, priority="P2", created_at=T0)
            usecases.escalate(ticket=ticket, actor=agent, reason="technical_complexity", now=T0)
        for viewer in (agent, customer):
            with django_assert_max_num_queries(5):
                response = api_client_for(viewer).get("/api/v1/tickets/")
            assert all(len(t["escalations"]) == 1 for t in response.json()["results"])


class TestEscalateEndpoint:
    def url(self, ticket):
        return f"/api/v1/tickets/{ticket.reference}/escalate/"

    def test_customer_asks_once_per_ticket_and_a_lead_is_asked_to_review(self, api_client_for, customer):
        ticket = TicketFactory(requester=customer, priority="P2")
        client = api_client_for(customer)
        first = client.post(self.url(ticket), {"reason": "customer_request", "note": "urgent"}, format="json")
        assert first.status_code == 201, first.content
        assert (first.json()["to_tier"], first.json()["review_pending"]) == (2, True)
        assert first.json()["actor"] == customer.username  # their own request: their own address
        # The ticket is in Tier 2 now: asking again there changes nothing.
        second = client.post(self.url(ticket), {"reason": "customer_request"}, format="json")
        assert second.status_code == 409
        assert second.json()["code"] == "escalation_already_requested"
        assert "You have already asked us to escalate this ticket" in second.json()["message"]
        assert ticket.escalations.count() == 1

    def test_an_agent_naming_the_tier_they_saw_is_refused_once_it_moved(self, api_client_for, agent, customer):
        ticket = TicketFactory(requester=customer, priority="P2")
        client = api_client_for(agent)
        body = {"reason": "technical_complexity", "from_tier": 1}
        assert client.post(self.url(ticket), body, format="json").status_code == 201
        stale = client.post(self.url(ticket), body, format="json")
        assert stale.status_code == 409
        assert "Tier 2 now" in str(stale.json())
        assert ticket.escalations.count() == 1
        bad = client.post(self.url(ticket), {"reason": "technical_complexity", "from_tier": 7}, format="json")
        assert bad.status_code == 400
        assert "from_tier" in bad.json()

    def test_customer_cannot_use_agent_reasons(self, api_client_for, customer):
        ticket = TicketFactory(requester=customer)
        response = api_client_for(customer).post(self.url(ticket), {"reason": "resource_constraints"}, format="json")
        assert response.status_code == 403
        assert not ticket.escalations.exists()

    def test_customer_cannot_escalate_someone_elses_ticket(self, api_client_for, customer, other_customer):
        ticket = TicketFactory(requester=customer)
        response = api_client_for(other_customer).post(self.url(ticket), {"reason": "customer_request"}, format="json")
        assert response.status_code == 404
        assert not ticket.escalations.exists()

    def test_unknown_reason_is_a_400(self, api_client_for, agent, customer):
        ticket = TicketFactory(requester=customer)
        response = api_client_for(agent).post(self.url(ticket), {"reason": "boredom"}, format="json")
        assert response.status_code == 400
        assert "reason" in response.json()

    def test_asking_in_tier_3_stays_in_tier_3_and_asking_twice_is_a_409(self, api_client_for, agent, customer):
        ticket = TicketFactory(requester=customer, tier=3)
        client = api_client_for(customer)
        first = client.post(self.url(ticket), {"reason": "customer_request"}, format="json")
        assert first.status_code == 201
        assert (first.json()["from_tier"], first.json()["to_tier"], first.json()["to_management"]) == (3, 3, False)
        response = client.post(self.url(ticket), {"reason": "customer_request"}, format="json")
        assert response.status_code == 409
        assert response.json()["code"] == "escalation_already_requested"
        assert ticket.escalations.count() == 1

    def test_get_is_not_allowed(self, api_client_for, agent, customer):
        ticket = TicketFactory(requester=customer)
        assert api_client_for(agent).get(self.url(ticket)).status_code == 405
