"""Schemathesis over the whole OpenAPI schema, as an agent and as a customer.

Every operation gets generated input, valid and invalid; the app must never
answer 5xx and every response must match the schema (status, content type,
body). Runs in-process through the WSGI app, inside the test's database.
"""

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token
from schemathesis.specs.openapi.checks import positive_data_acceptance

from tests.tickets.factories import MessageFactory, TicketFactory

schema = schemathesis.openapi.from_wsgi("/api/v1/schema/?format=json", get_wsgi_application())


@pytest.fixture(autouse=True)
def _keep_the_test_connection():
    """The WSGI handler closes the database connection after each request, which would
    end the test's transaction on PostgreSQL; Django's own test client unhooks it the same way."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def tokens(customer, agent):
    ticket = TicketFactory(requester=customer)
    MessageFactory(ticket=ticket, author=agent, body="We are on it")
    MessageFactory(ticket=ticket, author=agent, body="internal", internal=True)
    return {
        "agent": Token.objects.create(user=agent).key,
        "customer": Token.objects.create(user=customer).key,
    }


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["agent", "customer"])
@schema.parametrize()
@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_api_answers_every_generated_request_within_its_schema(case, role, tokens):
    # Schema-valid input can still be refused by a rule (an unknown requester, a closed
    # ticket): that is a 4xx with field messages, which the other checks hold to the schema.
    case.call_and_validate(
        headers={"Authorization": f"Token {tokens[role]}"},
        excluded_checks=[positive_data_acceptance],
    )
