"""The incident's own record: declaring, updating, linking, resolving, and the refusals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from incidents import selectors, services
from incidents.models import Component, Incident, IncidentEvent
from sofacover.errors import Conflict, DomainError
from support import usecases
from tests.tickets.factories import TicketFactory
from tickets.models import Ticket

NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
pytestmark = pytest.mark.django_db


def declare(agent, **overrides):
    fields = {
        "severity": "P0",
        "title": "Checkout fails",
        "impact": "Card payments fail for every customer (about 1,200 users)",
        "users_affected": 1200,
        "started_at": NOW - timedelta(minutes=4),
        "detected_at": NOW - timedelta(minutes=1),
        "war_room": "https://meet.example.com/checkout",
        "actions": ["Roll back release 42", "  ", "Page the payments provider"],
        "components": Component.objects.filter(slug="checkout-payments"),
    }
    fields.update(overrides)
    return usecases.declare_incident(declared_by=agent, now=NOW, **fields)


def test_declaring_records_every_field_and_the_first_public_update(agent):
    incident = declare(agent)
    assert incident.reference == f"INC-{incident.pk:06d}"
    assert incident.commander == agent
    assert incident.declared_by == agent
    assert incident.detected_at - incident.started_at == timedelta(minutes=3)
    assert [a.text for a in incident.actions.all()] == ["Roll back release 42", "Page the payments provider"]
    # P0: an update every 30 minutes, on the 24x7 calendar the procedures give P0.
    assert incident.next_update_due_at == NOW + timedelta(minutes=30)
    (event,) = incident.events.all()
    assert event.kind == IncidentEvent.Kind.DECLARED
    assert event.public
    assert [c.slug for c in incident.components.all()] == ["checkout-payments"]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"severity": "P9"}, "severity"),
        ({"title": "  "}, "title"),
        ({"impact": ""}, "impact"),
        ({"started_at": NOW + timedelta(minutes=1)}, "started_at"),
        ({"detected_at": NOW - timedelta(hours=1)}, "detected_at"),
    ],
)
def test_declaring_refuses_what_cannot_be(agent, overrides, field):
    with pytest.raises(DomainError) as refused:
        declare(agent, **overrides)
    assert refused.value.field == field
    assert not Incident.objects.exists()


def test_a_customer_cannot_command(agent, customer):
    with pytest.raises(DomainError) as refused:
        declare(agent, commander=customer)
    assert refused.value.field == "commander"


def test_updates_move_the_status_and_restart_the_cadence(agent):
    incident = declare(agent)
    later = NOW + timedelta(minutes=20)
    usecases.incident_update(incident=incident, author=agent, body="Bad deploy found", status="identified", now=later)
    incident.refresh_from_db()
    assert incident.status == "identified"
    assert incident.identified_at == later
    assert incident.next_update_due_at == later + timedelta(minutes=30)
    note = usecases.incident_update(incident=incident, author=agent, body="war room moved", public=False, now=later)
    assert note.kind == IncidentEvent.Kind.NOTE
    assert not note.public
    incident.refresh_from_db()
    assert incident.next_update_due_at == later + timedelta(minutes=30)
    with pytest.raises(DomainError):
        usecases.incident_update(incident=incident, author=agent, body="done", status="resolved", now=later)


def test_linking_is_once_per_ticket_and_resolving_resolves_the_linked_tickets(agent):
    incident = declare(agent)
    first, second = TicketFactory(category="payment"), TicketFactory(category="payment")
    assert list(selectors.suggested_incidents(first)) == [incident]
    assert len(usecases.incident_link(incident=incident, tickets=[first, second], by=agent, now=NOW)) == 2
    assert usecases.incident_link(incident=incident, tickets=[first], by=agent, now=NOW) == []
    assert list(selectors.suggested_incidents(first)) == []
    assert usecases.incident_unlink(incident=incident, ticket=second, by=agent, now=NOW)
    with pytest.raises(DomainError) as refused:
        usecases.resolve_incident(incident=incident, by=agent, now=NOW + timedelta(hours=1))
    assert refused.value.field == "what_happened"
    usecases.resolve_incident(
        incident=incident,
        by=agent,
        now=NOW + timedelta(hours=1),
        what_happened="A release broke card payments.",
        resolution="Rolled back.",
        prevention="A payment smoke test before each release.",
    )
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.status == Ticket.Status.RESOLVED
    assert first.resolution_note == "Rolled back."
    assert second.status != Ticket.Status.RESOLVED
    with pytest.raises(Conflict):
        usecases.incident_update(incident=incident, author=agent, body="again", now=NOW + timedelta(hours=2))


def test_a_monitor_has_one_open_incident(agent):
    declare(agent, monitor_key="storefront-http")
    with pytest.raises(Conflict):
        declare(agent, monitor_key="storefront-http")


def test_the_commander_is_warned_once_per_due_time(agent):
    incident = declare(agent)
    lead = NOW + timedelta(minutes=25) + services.UPDATE_WARNING_LEAD
    assert list(selectors.updates_coming_due(lead_until=lead)) == [incident]
    services.update_warned(incident=incident)
    assert list(selectors.updates_coming_due(lead_until=lead)) == []
