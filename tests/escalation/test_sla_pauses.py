"""Pause segments written by status changes in one instant, through the services and the database."""

from datetime import UTC, datetime, timedelta

import pytest

from escalation import services
from escalation.models import SlaPause
from support import usecases
from tickets.models import Ticket

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # Monday 09:00 London (GMT)


class TestStatusChangesInOneInstant:
    def test_waiting_then_resolved_in_the_same_instant_keeps_the_deadlines(self, customer, agent):
        ticket = usecases.file_ticket(requester=customer, subject="Cover torn", description="d", priority="P1", now=T0)
        at = T0 + timedelta(minutes=10)
        usecases.change_status(ticket=ticket, to=Ticket.Status.PENDING_CUSTOMER, actor=agent, now=at)
        usecases.resolve(ticket=ticket, actor=agent, now=at, resolution_note="Fixed.")

        starts = list(SlaPause.objects.filter(ticket=ticket).values_list("started_at", "ended_at"))
        assert sorted(starts, key=lambda row: row[1] is None) == [(at, at), (at, None)]
        ticket.refresh_from_db()
        assert ticket.first_response_due_at is None  # the clock stood still from 09:10, 50 min short
        plan = services.sla_refresh(ticket=ticket, now=at)
        assert plan is not None
        assert usecases.sla_sweep(now=at + timedelta(hours=5)).examined == 0
