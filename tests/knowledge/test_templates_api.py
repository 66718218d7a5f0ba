"""POST /api/v1/tickets/{reference}/messages/ with ``template``: rendered for that ticket, agents only."""

from __future__ import annotations

import pytest

from support import usecases
from tests.knowledge.factories import T0, ResponseTemplateFactory
from tickets.models import Message

pytestmark = pytest.mark.django_db


@pytest.fixture
def ticket(customer):
    return usecases.file_ticket(requester=customer, subject="Cover too small", description="d", now=T0)


@pytest.fixture
def template():
    return ResponseTemplateFactory(
        slug="sizing-ack",
        body="Dear {{ customer_name }},\n\nThank you for {{ ticket_reference }} about “{{ ticket_subject }}”.",
    )


def url(ticket) -> str:
    return f"/api/v1/tickets/{ticket.reference}/messages/"


class TestTemplateField:
    def test_an_agent_reply_from_a_template_is_rendered_for_the_ticket(self, ticket, template, agent, api_client_for):
        response = api_client_for(agent).post(url(ticket), {"template": "sizing-ack"}, format="json")

        assert response.status_code == 201
        expected = f"Dear Alice,\n\nThank you for {ticket.reference} about “Cover too small”."
        assert response.json()["body"] == expected
        assert Message.objects.get(by_agent=True).body == expected

    def test_a_body_sent_with_the_template_follows_it(self, ticket, template, agent, api_client_for):
        response = api_client_for(agent).post(
            url(ticket), {"template": "sizing-ack", "body": "Our size guide helps."}, format="json"
        )

        assert response.json()["body"] == (
            f"Dear Alice,\n\nThank you for {ticket.reference} about “Cover too small”.\n\nOur size guide helps."
        )

    def test_a_template_works_for_an_internal_note_too(self, ticket, template, agent, api_client_for):
        response = api_client_for(agent).post(url(ticket), {"template": "sizing-ack", "internal": True}, format="json")

        assert response.status_code == 201
        assert Message.objects.get(by_agent=True).internal

    @pytest.mark.parametrize("slug", ["no-such-template", "retired"])
    def test_an_unknown_or_inactive_slug_is_a_400_on_the_template_field(self, ticket, agent, api_client_for, slug):
        ResponseTemplateFactory(slug="retired", active=False)

        response = api_client_for(agent).post(url(ticket), {"template": slug, "body": "x"}, format="json")

        assert response.status_code == 400
        assert "template" in response.json()
        assert not Message.objects.filter(by_agent=True).exists()

    def test_a_customer_may_not_use_templates(self, ticket, template, customer, api_client_for):
        response = api_client_for(customer).post(url(ticket), {"template": "sizing-ack", "body": "hi"}, format="json")

        assert response.status_code == 403
        assert not Message.objects.filter(author=customer).exists()

    def test_a_customer_probing_slugs_learns_nothing(self, ticket, customer, api_client_for):
        response = api_client_for(customer).post(url(ticket), {"template": "no-such-template"}, format="json")

        assert response.status_code == 403

    def test_without_a_template_nothing_changes(self, ticket, agent, api_client_for):
        response = api_client_for(agent).post(url(ticket), {"body": "Plain reply"}, format="json")

        assert response.status_code == 201
        assert response.json()["body"] == "Plain reply"

    def test_the_schema_documents_the_field(self, api_client_for):
        schema = api_client_for(None).get("/api/v1/schema/?format=json").json()

        field = schema["components"]["schemas"]["MessageCreateRequest"]["properties"]["template"]
        assert "rendered for this ticket" in field["description"]
