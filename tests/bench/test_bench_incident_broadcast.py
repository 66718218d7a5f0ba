"""bench_incident_broadcast's measuring parts on a few dozen customers: what it times is the broadcast."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.contrib.auth.models import User

from bench import incidents as loads
from bench.management.commands.bench_incident_broadcast import Command
from incidents.models import IncidentTicket
from notifications.models import Notification
from tickets.models import Ticket

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


def test_the_loaders_top_up_and_give_each_customer_one_open_ticket():
    first = loads.customers_bulk(20, prefix="bench-test", now=NOW)
    again = loads.customers_bulk(25, prefix="bench-test", now=NOW)
    assert [u.pk for u in again[:20]] == [u.pk for u in first]
    assert User.objects.filter(username__startswith="bench-test-", groups__name="Customers").count() == 25
    ids = loads.tickets_bulk(again, subject="Bench test", now=NOW)
    assert sorted(Ticket.objects.filter(pk__in=ids).values_list("requester_id", flat=True)) == sorted(
        u.pk for u in again
    )


def test_each_step_writes_one_mail_per_customer_and_is_timed():
    customers = loads.customers_bulk(30, prefix="bench-steps", now=NOW)
    tickets = list(Ticket.objects.filter(pk__in=loads.tickets_bulk(customers, subject="Bench steps", now=NOW)))
    command = Command()
    steps = command.run(tickets)
    assert [step.name for step in steps] == [
        "acknowledgment (link)",
        "update (status change)",
        "resolution notification",
    ]
    assert [step.rows for step in steps] == [30, 31, 31]  # the update and the resolution are posted to Slack too
    assert all(0 < step.inside_seconds <= step.total_seconds for step in steps)
    assert IncidentTicket.objects.filter(acknowledged_at__isnull=False, resolution_sent_at__isnull=False).count() == 30
    assert Notification.objects.filter(kind="incident_resolved", channel="email").count() == 30
    assert all(step.cells()[-1] == "yes" for step in steps)
