"""Schemathesis over the whole OpenAPI schema, once per role: the document is the truth.

Every operation gets generated input, valid and invalid, as each role the desk
has (anonymous, a customer, an agent, a manager). The desk's ticket is in Tier 1,
which agents of every tier work alike, so a Tier 1 agent stands for them all;
what the tier changes (a ticket above yours is read-only) is pinned by
tests/tickets/test_queue_scoping.py and the authorization matrix. The app must
never answer 5xx, and every response must be one the document describes: its
status, content type, headers and body; input the document forbids must be
refused. Runs in-process through the WSGI app, inside the test's database,
derandomized, so a run is repeatable and the whole file stays within about
two minutes on PostgreSQL.

One default check stays off: ``positive_data_acceptance`` expects every input
the schema allows to succeed, but a rule of the desk can refuse schema-valid
input with a 400 naming the field, which no schema can express: a wrong
password, an unknown requester or template, a slug already taken, a filter
value only agents may use, a NUL character.
"""

from __future__ import annotations

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.test import Client
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core.parameters import ParameterLocation
from schemathesis.generation import GenerationMode

from incidents.api import REFERENCE_PATTERN as INCIDENT_PATTERN
from support import usecases
from tests.knowledge.factories import ArticleFactory
from tests.tickets.factories import T0, MessageFactory, TicketFactory, make_user
from tickets.api.views import REFERENCE_PATTERN

schema = schemathesis.openapi.from_wsgi("/api/v1/schema/?format=json", get_wsgi_application())

ROLES = ["anonymous", "customer", "tier1", "manager"]
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
    negative_data_rejection,
]


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
def desk(db, role):
    """A customer's ticket with a public reply and an internal note, a public article, and the caller."""
    customer = make_user("alice@example.com", "customer", first_name="Alice")
    agent = make_user("tier1@sofacoverpro.com", "agent", tier=1)
    ticket = TicketFactory(requester=customer)
    MessageFactory(ticket=ticket, author=agent, body="We are on it")
    MessageFactory(ticket=ticket, author=agent, body="internal", internal=True)
    ArticleFactory(title="How do I wash my cover?", slug="wash-cover")
    callers = {
        "anonymous": None,
        "customer": customer,
        "tier1": agent,
        "manager": lambda: make_user("manager@sofacoverpro.com", "manager"),
    }
    entry = callers[role]
    caller = entry() if callable(entry) else entry
    headers = {"Authorization": f"Token {Token.objects.create(user=caller).key}"} if caller else {}
    incident = usecases.declare_incident(
        declared_by=agent, now=T0, severity="P2", title="Storefront slow", impact="x", actions=["Look"]
    )
    usecases.incident_link(incident=incident, tickets=[ticket], by=agent, now=T0)
    return {
        "headers": headers,
        "path": {"reference": ticket.reference, "slug": "wash-cover"},
        "incident_path": {"reference": incident.reference, "action_id": str(incident.actions.get().pk)},
    }


def aim_at_the_desk(case, desk: dict) -> None:
    """Valid path parameters name the desk's ticket, article and incident, so the operation's logic
    runs rather than a 404 for a reference nobody filed; invalid ones stay as generated."""
    meta = case.meta.components.get(ParameterLocation.PATH) if case.meta else None
    path = desk["incident_path"] if case.operation.path.startswith("/api/v1/incidents/") else desk["path"]
    if case.path_parameters and (meta is None or meta.mode is GenerationMode.POSITIVE):
        case.path_parameters.update({name: path[name] for name in case.path_parameters if name in path})


@pytest.mark.django_db
@pytest.mark.parametrize("role", ROLES)
@schema.parametrize()
@settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_api_answers_every_generated_request_as_its_schema_says(case, role, desk):
    aim_at_the_desk(case, desk)
    case.call_and_validate(headers=desk["headers"], checks=CHECKS)


@pytest.fixture(scope="module")
def operations():
    document = Client().get("/api/v1/schema/?format=json").json()
    return [
        (f"{method.upper()} {path}", operation)
        for path, methods in document["paths"].items()
        for method, operation in methods.items()
    ]


class TestTheDocument:
    def test_every_operation_documents_a_malformed_request_and_bad_credentials(self, operations):
        for name, operation in operations:
            assert {"400", "401"} <= set(operation["responses"]), name
            assert operation["responses"]["400"]["content"]["application/json"]["schema"] == {
                "$ref": "#/components/schemas/ValidationError"
            }, name

    def test_every_operation_with_a_path_parameter_documents_a_404(self, operations):
        for name, operation in operations:
            if "{" in name:
                assert "404" in operation["responses"], name

    def test_every_operation_with_a_body_documents_a_415_and_reads_json(self, operations):
        for name, operation in operations:
            if "requestBody" in operation:
                assert "415" in operation["responses"], name
                assert "application/json" in operation["requestBody"]["content"], name

    def test_a_reference_in_a_path_has_the_routes_pattern(self, operations):
        for name, operation in operations:
            pattern = INCIDENT_PATTERN if name.split()[1].startswith("/api/v1/incidents/") else REFERENCE_PATTERN
            for parameter in operation.get("parameters", []):
                if parameter["name"] == "reference":
                    assert parameter["schema"]["pattern"] == f"^{pattern}$", name
