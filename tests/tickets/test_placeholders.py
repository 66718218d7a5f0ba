"""The one placeholder sandbox behind communication templates and response templates."""

from __future__ import annotations

import pytest

from knowledge import templating
from notifications import messages
from tests.tickets.factories import T0, TicketFactory
from tickets import placeholders
from tickets.models import Ticket

ALLOWED = frozenset({"customer_name", "ticket_reference"})

pytestmark = pytest.mark.django_db


class TestSourceProblems:
    @pytest.mark.parametrize(
        "source",
        [
            "{% debug %}",
            "{% load static %}{% static 'x' %}",
            "{% include 'admin/base.html' %}",
            "{{ customer_name.password }}",
            "{{ order_number }}",
            "{{ 'literal' }}",
            "{{ customer_name|safe }}",
            "{{ customer_name|default:ticket_reference }}",
        ],
    )
    def test_anything_but_known_placeholders_and_formatting_filters_is_refused(self, source):
        assert placeholders.source_problems(source, ALLOWED, filters=True)

    def test_formatting_filters_are_accepted_only_where_filters_are_allowed(self):
        source = "Dear {{ customer_name|upper }}, {{ ticket_reference }}"
        assert placeholders.source_problems(source, ALLOWED, filters=True) == []
        assert placeholders.source_problems(source, ALLOWED, filters=False) == [
            "filters are not allowed in {{ customer_name }}."
        ]

    def test_an_unknown_placeholder_is_named_with_the_allowed_ones(self):
        [problem] = placeholders.source_problems("Hi {{ password }}", ALLOWED, filters=True)
        assert problem == "unknown placeholder {{ password }}; use one of customer_name, ticket_reference."


class TestRender:
    def test_values_are_escaped_only_in_an_html_part_and_never_rendered_as_templates(self):
        values = {"customer_name": "O'Brien <b>{{ ticket_reference }}</b>", "ticket_reference": "SCP-1"}
        source = "{{ customer_name }} / {{ ticket_reference }}"
        assert placeholders.render(source, values, html=False) == "O'Brien <b>{{ ticket_reference }}</b> / SCP-1"
        assert placeholders.render(source, values, html=True) == (
            "O&#x27;Brien &lt;b&gt;{{ ticket_reference }}&lt;/b&gt; / SCP-1"
        )


class TestOneCopyOfTheTexts:
    def test_both_kinds_of_template_say_the_same_about_a_ticket(self, customer):
        ticket = TicketFactory(requester=customer, category=Ticket.Category.PAYMENT, status=Ticket.Status.OPEN)
        notice = messages.acknowledgment_context(ticket, now=T0)
        reply = templating.ticket_context(ticket)
        for name in ("ticket_reference", "ticket_subject", "ticket_url", "service", "status"):
            assert notice[name] == reply[name], name
        assert reply["service"] == "payments"
        assert reply["status"] == "Under investigation"
