"""A customer asks for escalation once per ticket: one tier up, never management, and a lead reviews it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.db import IntegrityError, transaction
from django.test import Client
from django.urls import reverse

from escalation import services
from escalation.models import Escalation
from notifications.models import Notification
from support import usecases
from tests.tickets.factories import T0, TicketFactory, make_user
from tickets.models import Ticket

pytestmark = pytest.mark.django_db
M = timedelta(minutes=1)
CHANGELIST = reverse("admin:tickets_ticket_changelist")


def escalate_url(ticket: Ticket) -> str:
    return f"/api/v1/tickets/{ticket.reference}/escalate/"


def review_url(ticket: Ticket) -> str:
    return reverse("admin:tickets_ticket_escalation_review", args=[ticket.pk])


def change_url(ticket: Ticket) -> str:
    return reverse("admin:tickets_ticket_change", args=[ticket.pk])


@pytest.fixture
def desk(db):
    """Someone in every tier and a manager, so any alert has somebody to reach."""
    return {
        "tier1": make_user("t1@sofacoverpro.com", "agent", tier=1),
        "tier2": make_user("t2@sofacoverpro.com", "agent", tier=2),
        "tier3": make_user("t3@sofacoverpro.com", "agent", tier=3),
        "manager": make_user("boss@sofacoverpro.com", "manager"),
    }


class TestThreeRequests:
    def test_a_fresh_p3_goes_up_one_tier_alerts_once_and_never_reaches_management(self, api_client_for, customer, desk):
        ticket = TicketFactory(requester=customer, priority="P3")
        client = api_client_for(customer)

        answers = [client.post(escalate_url(ticket), {"reason": "customer_request"}, format="json") for _ in "abc"]

        assert [a.status_code for a in answers] == [201, 409, 409]
        assert {a.json()["code"] for a in answers[1:]} == {"escalation_already_requested"}
        ticket.refresh_from_db()
        assert ticket.tier == 2
        assert not Escalation.objects.filter(ticket=ticket, to_management=True).exists()
        alerts = Notification.objects.filter(ticket=ticket, kind=Notification.Kind.ESCALATED)
        assert list(alerts.values_list("channel", "recipient")) == [("dashboard", desk["tier2"].email)]

    def test_in_tier_3_the_request_moves_nothing_and_tells_tier_3_not_management(self, customer, desk):
        ticket = TicketFactory(requester=customer, priority="P1", tier=3)

        escalation = usecases.escalate(ticket=ticket, actor=customer, reason="customer_request", now=T0)

        assert (escalation.from_tier, escalation.to_tier, escalation.to_management) == (3, 3, False)
        people = set(
            Notification.objects.filter(kind=Notification.Kind.ESCALATED, user__isnull=False).values_list(
                "user__username", flat=True
            )
        )
        assert people == {desk["tier3"].username}
        subject = Notification.objects.filter(kind=Notification.Kind.ESCALATED).order_by("pk")[0].subject
        assert subject == f"Customer asked to escalate {ticket.reference}"

    def test_an_agent_recording_the_customers_request_counts_as_the_one_request(self, customer, desk):
        ticket = TicketFactory(requester=customer)
        usecases.escalate(ticket=ticket, actor=desk["tier1"], reason="customer_request", now=T0)

        with pytest.raises(services.EscalationAlreadyRequested):
            usecases.escalate(ticket=ticket, actor=customer, reason="customer_request", now=T0 + M)

    def test_the_database_refuses_a_second_request_whatever_the_code_does(self, customer):
        ticket = TicketFactory(requester=customer)
        fields = {"ticket": ticket, "at": T0, "reason": "customer_request", "from_tier": 1, "to_tier": 2}
        Escalation.objects.create(**fields)

        with pytest.raises(IntegrityError), transaction.atomic():
            Escalation.objects.create(**{**fields, "from_tier": 2, "to_tier": 3})


class TestLeadReview:
    @pytest.fixture
    def asked(self, customer, desk):
        ticket = TicketFactory(requester=customer)
        usecases.escalate(ticket=ticket, actor=customer, reason="customer_request", note="Urgent", now=T0)
        return ticket

    def test_the_queue_filters_the_tickets_waiting_for_a_lead(self, client, asked, desk):
        other = TicketFactory()
        client.force_login(desk["tier1"])

        response = client.get(CHANGELIST, {"lead_review": "pending"})

        shown = {ticket.pk for ticket in response.context["cl"].result_list}
        assert shown == {asked.pk}
        assert other.pk not in shown
        assert "?lead_review=pending" in client.get(CHANGELIST).content.decode()

    def test_the_ticket_page_shows_the_flag_and_only_a_lead_gets_the_button(self, client, asked, desk):
        client.force_login(desk["tier2"])
        html = client.get(change_url(asked)).content.decode()
        assert "Waiting for a lead's review" in html
        assert review_url(asked) not in html

        client.force_login(desk["manager"])
        assert review_url(asked) in client.get(change_url(asked)).content.decode()

    def test_a_lead_clears_it_and_the_ticket_leaves_the_filter(self, client, asked, desk):
        client.force_login(desk["manager"])

        response = client.post(review_url(asked))

        assert response.status_code == 302
        escalation = Escalation.objects.get(ticket=asked)
        assert (escalation.review_pending, escalation.reviewed_by) == (False, desk["manager"])
        assert escalation.reviewed_at is not None
        assert not client.get(CHANGELIST, {"lead_review": "pending"}).context["cl"].result_list
        html = client.get(change_url(asked)).content.decode()
        assert "Waiting for a lead's review" not in html
        assert "Reviewed by" in html
        assert review_url(asked) not in html

    def test_an_agent_cannot_clear_it(self, client, asked, desk):
        client.force_login(desk["tier3"])

        response = client.post(review_url(asked))

        assert Escalation.objects.get(ticket=asked).review_pending is True
        assert [str(m) for m in get_messages(response.wsgi_request)] == [
            "Only a lead (a manager or admin) can review escalation requests."
        ]

    def test_the_api_shows_the_flag(self, api_client_for, asked, customer):
        escalation = api_client_for(customer).get(f"/api/v1/tickets/{asked.reference}/").json()["escalations"][0]

        assert escalation["review_pending"] is True

    def test_agents_escalations_wait_for_no_review(self, customer, desk):
        ticket = TicketFactory(requester=customer)

        escalation = usecases.escalate(ticket=ticket, actor=desk["tier1"], reason="technical_complexity", now=T0)

        assert escalation.review_pending is False
        with pytest.raises(services.EscalationRefused):
            services.escalation_review(ticket=ticket, actor=desk["manager"], now=T0 + M)


class TestPortal:
    def test_asking_again_shows_the_same_clear_refusal(self, customer, desk):
        ticket = TicketFactory(requester=customer)
        client = Client()
        client.force_login(customer)
        url = reverse("portal-escalate", kwargs={"reference": ticket.reference})
        client.post(url, {"escalate-tier": "1"})
        usecases.change(ticket=ticket, actor=desk["manager"], now=T0 + M, tier=1)  # moved back down

        response = client.post(url, {"escalate-tier": "1"})

        assert Escalation.objects.filter(ticket=ticket).count() == 1
        assert Ticket.objects.get(pk=ticket.pk).tier == 1
        assert "You have already asked us to escalate this ticket" in str(list(get_messages(response.wsgi_request)))
