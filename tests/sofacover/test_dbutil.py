"""The bulk write helpers: what they write must read back exactly as the ORM writes it."""

from datetime import UTC, datetime

import pytest
from django.db import IntegrityError, transaction

from escalation.models import SlaBreach
from notifications.models import Notification
from sofacover.dbutil import insert_many, update_many
from tests.tickets.factories import TicketFactory
from tickets.models import Ticket

pytestmark = pytest.mark.django_db

AT = datetime(2026, 3, 2, 9, 15, 30, 123456, tzinfo=UTC)


def _notification(key: str, ticket: Ticket, **extra) -> Notification:
    return Notification(
        channel="email",
        kind="breached",
        recipient="a@example.com",
        ticket=ticket,
        subject="Überfällig ✓",
        body="body",
        payload={"line": "x", "n": [1, 2]},
        dedupe_key=key,
        next_attempt_at=AT,
        created_at=AT,
        **extra,
    )


def test_inserted_rows_read_back_as_the_orm_writes_them(customer):
    ticket = TicketFactory(requester=customer)
    insert_many([_notification("k1", ticket), _notification("k2", ticket, sent_at=None, status="sent")])
    one, two = Notification.objects.filter(dedupe_key__in=["k1", "k2"]).order_by("dedupe_key")
    assert (one.ticket_id, one.subject, one.payload, one.next_attempt_at) == (
        ticket.pk,
        "Überfällig ✓",
        {"line": "x", "n": [1, 2]},
        AT,
    )
    assert (one.attempts, one.status, one.sent_at, one.user_id) == (0, "pending", None, None)
    assert two.status == "sent"


def test_ignore_conflicts_skips_existing_keys_and_otherwise_a_conflict_raises(customer):
    ticket = TicketFactory(requester=customer)
    insert_many([_notification("dup", ticket)])
    insert_many([_notification("dup", ticket), _notification("new", ticket)], ignore_conflicts=True)
    assert Notification.objects.filter(dedupe_key__in=["dup", "new"]).count() == 2
    with pytest.raises(IntegrityError), transaction.atomic():
        insert_many([SlaBreach(ticket=ticket, kind="resolution", due_at=AT, breached_at=AT, tier=1, priority="P1")] * 2)


def test_update_many_writes_only_the_named_columns_of_each_row(customer):
    first, second = TicketFactory(requester=customer, subject="one"), TicketFactory(requester=customer, subject="two")
    first.resolution_due_at, second.resolution_due_at = AT, None
    first.subject = "not written"
    assert update_many([first, second], ["resolution_due_at"]) == 2
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.resolution_due_at, first.subject) == (AT, "one")
    assert second.resolution_due_at is None


def test_update_conflicts_overwrites_the_other_columns_of_the_existing_row(customer):
    from reports.models import TicketFact
    from reports.rollup import _facts_of

    ticket = TicketFactory(requester=customer, priority="P1")
    fact = TicketFact.objects.get(ticket=ticket)
    fact.priority, fact.rating = "P3", 5
    insert_many([fact], update_conflicts=["ticket"])  # a primary key that is a OneToOne is written
    assert TicketFact.objects.values_list("priority", "rating").get(ticket=ticket) == ("P3", 5)
    assert TicketFact.objects.count() == 1
    assert _facts_of([ticket.pk])[ticket.pk]["priority"] == "P1"  # the source still says P1: only the row moved


def test_many_rows_take_the_bulk_path_with_the_same_conflict_rules(customer):
    """Above COPY_MIN_ROWS PostgreSQL stages the rows with COPY; conflicts behave as with small batches."""
    from datetime import timedelta

    from sofacover import dbutil

    ticket = TicketFactory(requester=customer)
    insert_many([_notification("bulk:7", ticket)])
    many = [_notification(f"bulk:{n}", ticket) for n in range(dbutil.COPY_MIN_ROWS + 10)]
    insert_many(many, ignore_conflicts=True)
    insert_many(many, ignore_conflicts=True)  # again, in the same transaction: the staging table starts empty
    assert Notification.objects.filter(dedupe_key__startswith="bulk:").count() == len(many)
    assert Notification.objects.get(dedupe_key="bulk:3").payload == {"line": "x", "n": [1, 2]}
    breaches = [
        SlaBreach(
            ticket=ticket, kind="resolution", due_at=AT + timedelta(minutes=n), breached_at=AT, tier=1, priority="P1"
        )
        for n in range(dbutil.COPY_MIN_ROWS + 10)
    ]
    insert_many(breaches)
    assert SlaBreach.objects.filter(ticket=ticket).count() == len(breaches)
    with pytest.raises(IntegrityError), transaction.atomic():
        insert_many(breaches)


def test_datetimes_in_any_zone_are_stored_as_the_orm_stores_them(customer):
    from zoneinfo import ZoneInfo

    summer = datetime(2026, 7, 1, 10, 5, 7, 891, tzinfo=ZoneInfo("Europe/London"))  # 09:05:07.000891 UTC
    first, second = TicketFactory(requester=customer), TicketFactory(requester=customer)
    first.resolution_due_at = summer
    update_many([first], ["resolution_due_at"])
    Ticket.objects.filter(pk=second.pk).update(resolution_due_at=summer)
    stored = dict(Ticket.objects.filter(pk__in=[first.pk, second.pk]).values_list("pk", "resolution_due_at"))
    assert stored[first.pk] == stored[second.pk] == summer
    assert Ticket.objects.filter(resolution_due_at=summer).count() == 2  # compared in SQL as well
