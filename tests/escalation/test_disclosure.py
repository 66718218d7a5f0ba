"""What customers may know of the desk's escalations: their own requests, and "Support team" for everyone else.

An agent's escalation note carries a canary; neither the canary nor the agent's
address (nor the assignee's) may reach any surface a customer reads: the API's
ticket detail and list, its timeline and thread, the portal's ticket page and
the mail the outbox holds for the customer. The desk keeps seeing everything.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client

from accounts import permissions
from notifications.models import Notification
from support import usecases
from tests.tickets.factories import T0, TicketFactory, make_user

pytestmark = pytest.mark.django_db
CANARY = "CANARY-escalation-note-7f3a"
M = timedelta(minutes=1)


@pytest.fixture
def desk(customer, manager):
    """A P1 ticket the desk worked: assigned, answered, escalated twice with notes, one by the customer."""
    tier1 = make_user("tina.staff@sofacoverpro.com", "agent", tier=1, first_name="Tina", last_name="Quist")
    tier2 = make_user("sam.staff@sofacoverpro.com", "agent", tier=2, first_name="Sam", last_name="Rook")
    ticket = TicketFactory(requester=customer, priority="P1", created_at=T0)
    usecases.assign(ticket=ticket, assignee=tier1, actor=tier1, now=T0 + M)
    usecases.reply(ticket=ticket, author=tier1, body="Looking into it.", now=T0 + 2 * M)
    usecases.escalate(
        ticket=ticket, actor=tier1, reason="technical_complexity", note=f"{CANARY} DB locks", now=T0 + 3 * M
    )
    usecases.escalate(
        ticket=ticket, actor=customer, reason="customer_request", note="The party is on Saturday", now=T0 + 4 * M
    )
    usecases.assign(ticket=ticket, assignee=tier2, actor=manager, now=T0 + 5 * M)
    usecases.resolve(
        ticket=ticket, actor=tier2, now=T0 + 6 * M, resolution_note="Locks cleared."
    )  # the resolution mail
    return {"ticket": ticket, "staff": [tier1, tier2, manager]}


def customer_surfaces(client, api, ticket) -> dict[str, str]:
    reference = ticket.reference
    return {
        "api detail": api.get(f"/api/v1/tickets/{reference}/").content.decode(),
        "api list": api.get("/api/v1/tickets/").content.decode(),
        "api timeline": api.get(f"/api/v1/tickets/{reference}/timeline/").content.decode(),
        "api thread": api.get(f"/api/v1/tickets/{reference}/messages/").content.decode(),
        "portal ticket page": client.get(f"/tickets/{reference}/").content.decode(),
        "portal my tickets": client.get("/tickets/").content.decode(),
    }


def customer_mail(customer) -> str:
    rows = Notification.objects.filter(recipient=customer.email) | Notification.objects.filter(user=customer)
    assert rows.exists()  # the acknowledgment and the resolution notice
    return "\n".join(f"{row.subject}\n{row.body}\n{row.body_html}" for row in rows)


class TestCustomersNeverSeeTheDesksEscalationNotesOrWho:
    def test_the_canary_and_staff_addresses_reach_no_customer_surface(self, desk, customer, api_client_for):
        client = Client()
        client.force_login(customer)
        surfaces = customer_surfaces(client, api_client_for(customer), desk["ticket"])
        surfaces["outbox mail to the customer"] = customer_mail(customer)
        secrets = [CANARY] + [who for staff in desk["staff"] for who in (staff.email, staff.get_full_name()) if who]

        leaks = {(name, secret) for name, text in surfaces.items() for secret in secrets if secret in text}

        assert not leaks

    def test_the_customer_sees_their_own_request_and_a_role_for_the_desk(self, desk, customer, api_client_for):
        escalations = api_client_for(customer).get(f"/api/v1/tickets/{desk['ticket'].reference}/").json()["escalations"]

        assert [(e["reason"], e["actor"], e["note"]) for e in escalations] == [
            ("technical_complexity", permissions.SUPPORT_TEAM, ""),
            ("customer_request", customer.username, "The party is on Saturday"),
        ]

    def test_the_public_timeline_names_the_desk_by_its_role(self, desk, customer, api_client_for):
        events = api_client_for(customer).get(f"/api/v1/tickets/{desk['ticket'].reference}/timeline/").json()

        actors = {e["actor"] for e in events}
        assert actors <= {customer.username, permissions.SUPPORT_TEAM, None}
        assignments = [(e["old_value"], e["new_value"]) for e in events if e["field"] == "assignee"]
        assert assignments == [("", permissions.SUPPORT_TEAM), (permissions.SUPPORT_TEAM, permissions.SUPPORT_TEAM)]

    def test_a_reply_is_signed_as_the_portal_signs_it(self, desk, customer, api_client_for):
        page = api_client_for(customer).get(f"/api/v1/tickets/{desk['ticket'].reference}/messages/").json()

        reply = next(m for m in page["results"] if m["by_agent"])
        assert (reply["author"], reply["author_name"]) == (permissions.SUPPORT_TEAM, "Tina")

    def test_staff_keep_seeing_every_note_and_address(self, desk, customer, api_client_for):
        tier1, tier2, manager = desk["staff"]
        api = api_client_for(tier1)

        body = api.get(f"/api/v1/tickets/{desk['ticket'].reference}/").json()
        events = api.get(f"/api/v1/tickets/{desk['ticket'].reference}/timeline/").json()

        assert [(e["actor"], e["note"]) for e in body["escalations"]] == [
            (tier1.username, f"{CANARY} DB locks"),
            (customer.username, "The party is on Saturday"),
        ]
        assert body["assignee"] == tier2.username
        assert {e["actor"] for e in events} >= {tier1.username, tier2.username, manager.username}
        assert (tier1.username, tier2.username) in [(e["old_value"], e["new_value"]) for e in events]

    def test_without_a_request_a_representation_shows_the_customers_view(self, desk):
        from escalation.api import EscalationSerializer

        data = EscalationSerializer(desk["ticket"].escalations.order_by("at"), many=True).data

        assert (data[0]["actor"], data[0]["note"]) == (permissions.SUPPORT_TEAM, "")
