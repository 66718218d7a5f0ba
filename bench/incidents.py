"""Loaders for incident broadcasts: many customers, each with an open ticket, written in bulk.

For ``manage.py bench_incident_broadcast`` and the tests of a broadcast under real workers:
customers are inserted without the account service (unusable passwords, no hashing), and tickets
through tickets' bulk loader, so 10,000 of each take seconds, not minutes.
"""

from __future__ import annotations

from datetime import datetime

from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group, User

from accounts import permissions as roles
from tickets import bulk
from tickets.models import Ticket


def customers_bulk(count: int, *, prefix: str, now: datetime) -> list[User]:
    """``count`` customers ``{prefix}-00001@example.com`` …, created unless they exist (in the Customers group)."""
    wanted = [f"{prefix}-{n:05d}@example.com" for n in range(1, count + 1)]
    existing = set(User.objects.filter(username__in=wanted).values_list("username", flat=True))
    unusable = make_password(None)
    User.objects.bulk_create(
        [
            User(username=email, email=email, first_name=f"Customer {n}", password=unusable, date_joined=now)
            for n, email in enumerate(wanted, start=1)
            if email not in existing
        ],
        batch_size=2000,
    )
    users = list(User.objects.filter(username__in=wanted).order_by("username"))
    group = Group.objects.get(name=roles.CUSTOMERS)
    member = User.groups.through
    member.objects.bulk_create(
        [member(user_id=user.pk, group_id=group.pk) for user in users], batch_size=2000, ignore_conflicts=True
    )
    return users


def tickets_bulk(customers: list[User], *, subject: str, now: datetime) -> list[int]:
    """One open P1 payment ticket per customer, filed at ``now``; their ids in the customers' order."""
    items = (
        bulk.BulkTicket(
            Ticket(
                subject=f"{subject} #{n}",
                description="The card payment fails at checkout.",
                priority=Ticket.Priority.P1,
                category=Ticket.Category.PAYMENT,
                status=Ticket.Status.NEW,
                tier=Ticket.Tier.TIER_1,
                requester=customer,
                created_at=now,
                updated_at=now,
                tier_entered_at=now,
            )
        )
        for n, customer in enumerate(customers)
    )
    bulk.tickets_bulk_load(tickets=items)
    return list(Ticket.objects.filter(subject__startswith=f"{subject} #").order_by("id").values_list("pk", flat=True))
