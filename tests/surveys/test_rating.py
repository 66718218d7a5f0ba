"""Ratings: the service rules and POST /api/v1/tickets/{reference}/rating/."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import IntegrityError

from sofacover.errors import DomainError
from support import usecases
from surveys import services
from surveys.models import Rating
from tests.tickets.factories import T0
from tickets.models import Ticket

pytestmark = pytest.mark.django_db
D = timedelta(days=1)


@pytest.fixture
def resolved(customer, agent):
    ticket = usecases.file_ticket(requester=customer, subject="Zip broke", description="d", now=T0)
    usecases.resolve(ticket=ticket, actor=agent, now=T0 + timedelta(hours=1))
    return Ticket.objects.get(pk=ticket.pk)


@pytest.fixture
def open_ticket(customer):
    return usecases.file_ticket(requester=customer, subject="Still broken", description="d", now=T0)


class TestRatingSubmit:
    def test_the_requester_rates_a_resolved_ticket(self, resolved, customer):
        rating, created = usecases.rate(ticket=resolved, actor=customer, score=4, comment=" ok ", now=T0)
        assert created
        assert (rating.score, rating.comment, rating.created_at) == (4, "ok", T0)

    def test_a_closed_ticket_can_be_rated(self, resolved, customer, agent):
        usecases.change_status(ticket=resolved, to=Ticket.Status.CLOSED, actor=agent, now=T0 + D)
        _, created = usecases.rate(ticket=resolved, actor=customer, score=5, now=T0 + D)
        assert created

    def test_rating_again_within_7_days_replaces_it(self, resolved, customer):
        usecases.rate(ticket=resolved, actor=customer, score=2, now=T0)
        rating, created = usecases.rate(ticket=resolved, actor=customer, score=5, now=T0 + 7 * D)
        assert not created
        assert Rating.objects.get().score == 5
        assert (rating.created_at, rating.updated_at) == (T0, T0 + 7 * D)

    def test_after_7_days_the_rating_stays(self, resolved, customer):
        usecases.rate(ticket=resolved, actor=customer, score=2, now=T0)
        with pytest.raises(services.RatingLocked):
            usecases.rate(ticket=resolved, actor=customer, score=5, now=T0 + 7 * D + timedelta(seconds=1))
        assert Rating.objects.get().score == 2

    def test_an_open_ticket_cannot_be_rated(self, open_ticket, customer):
        with pytest.raises(services.TicketNotResolved):
            usecases.rate(ticket=open_ticket, actor=customer, score=5, now=T0)

    def test_nobody_but_the_requester_may_rate(self, resolved, agent, other_customer):
        for actor in (agent, other_customer):
            with pytest.raises(services.NotAllowed):
                usecases.rate(ticket=resolved, actor=actor, score=5, now=T0)
        assert not Rating.objects.exists()

    @pytest.mark.parametrize("score", [0, 6, -1, True, "5", 4.5])
    def test_scores_outside_1_to_5_are_refused(self, resolved, customer, score):
        with pytest.raises(DomainError) as exc:
            usecases.rate(ticket=resolved, actor=customer, score=score, now=T0)
        assert exc.value.field == "score"

    def test_the_database_refuses_a_score_outside_1_to_5(self, resolved):
        with pytest.raises(IntegrityError):
            Rating.objects.create(ticket=resolved, score=6, created_at=T0, updated_at=T0)


def url(ticket: Ticket) -> str:
    return f"/api/v1/tickets/{ticket.reference}/rating/"


class TestRatingApi:
    def test_requester_rates_then_replaces(self, api_client_for, resolved, customer):
        client = api_client_for(customer)
        first = client.post(url(resolved), {"score": 3, "comment": "slow"}, format="json")
        assert first.status_code == 201, first.content
        assert first.json()["score"] == 3
        assert first.json()["ticket"] == resolved.reference
        again = client.post(url(resolved), {"score": 5}, format="json")
        assert again.status_code == 200
        assert Rating.objects.get().score == 5

    @pytest.mark.parametrize("score", [0, 6, "five", None])
    def test_a_score_outside_1_to_5_is_a_400_naming_the_field(self, api_client_for, resolved, customer, score):
        response = api_client_for(customer).post(url(resolved), {"score": score}, format="json")
        assert response.status_code == 400
        assert "score" in response.json()
        assert not Rating.objects.exists()

    def test_another_customer_gets_404(self, api_client_for, resolved, other_customer):
        assert api_client_for(other_customer).post(url(resolved), {"score": 5}, format="json").status_code == 404

    def test_agents_and_managers_get_403(self, api_client_for, resolved, agent, manager):
        for user in (agent, manager):
            assert api_client_for(user).post(url(resolved), {"score": 5}, format="json").status_code == 403
        assert not Rating.objects.exists()

    def test_anonymous_gets_401(self, api_client_for, resolved):
        assert api_client_for(None).post(url(resolved), {"score": 5}, format="json").status_code == 401

    def test_an_open_ticket_is_a_409(self, api_client_for, open_ticket, customer):
        response = api_client_for(customer).post(url(open_ticket), {"score": 5}, format="json")
        assert response.status_code == 409
        assert response.json()["code"] == "ticket_not_resolved"

    def test_documented_in_the_schema(self, api_client_for, customer):
        schema = api_client_for(customer).get("/api/v1/schema/?format=json").json()
        operation = schema["paths"]["/api/v1/tickets/{reference}/rating/"]["post"]
        assert {"201", "200", "400", "403", "404", "409"} <= set(operation["responses"])
