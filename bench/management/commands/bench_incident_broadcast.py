"""``manage.py bench_incident_broadcast``: an incident told to 10,000 linked tickets' customers.

Target (issue 13): broadcasting to 10,000 linked tickets' customers takes at most 10 s of
outbox writes. Like the other benches it never touches the developer's database: without
DATABASE_URL it runs itself again on its own SQLite file (var/bench_incident_broadcast.sqlite3);
with DATABASE_URL it uses that database as given.

The desk gets --tickets customers, each with one open P1 payment ticket (bulk loaded once:
bench/incidents.py). Each run declares a new incident and runs the three broadcasts through
their use cases, as the API does:

- acknowledgment: ``incident_link`` of every ticket at once (the queue's bulk action on all of
  them): the links and their timeline, then one Incident Acknowledgment per customer;
- update: ``incident_update``, a public status change mailed to every linked customer;
- resolution: the Resolution Notification to every linked customer. ``resolve_incident`` also
  resolves each linked ticket, one by one through tickets' services (its own cost, not a
  broadcast's); here the incident is resolved by incidents' service and the use case's
  notification step runs alone (``notifications.incidents.resolved``), so the tickets stay open
  for the next run.

For each, the table shows the time inside notifications.incidents (building the rows and
writing them to the outbox: "outbox writes", the target's measure), the whole use case with
its commit, the rows written, and the statements the step sent. Not a test: the numbers depend
on the machine.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.core.management import call_command
from django.core.management.base import CommandError, CommandParser
from django.db import connection, transaction
from django.utils import timezone

import notifications.incidents
from accounts import demo as account_demo
from bench import incidents as loads
from bench.harness import OwnDatabaseCommand, Statements, render_table
from incidents import selectors as incident_selectors
from incidents import services as incident_services
from incidents.models import IncidentEvent
from notifications.models import Notification
from support import usecases
from tickets.models import Ticket

TARGET_SECONDS = 10.0
PREFIX = "bench-broadcast"
SUBJECT = "[bench-broadcast] Card payment fails"
COMMANDER = account_demo.DemoUser("bench-commander@sofacoverpro.com", "agent", tier=3, first_name="Casey")
HEADER = ["broadcast", "recipients", "rows", "outbox writes s", "use case s", "statements", "rows/s", "target", "met?"]


@dataclass
class Step:
    name: str
    recipients: int
    rows: int
    inside_seconds: float
    total_seconds: float
    statements: int

    def cells(self) -> list[str]:
        rate = self.rows / self.inside_seconds if self.inside_seconds else 0.0
        met = "yes" if self.inside_seconds <= TARGET_SECONDS else "no"
        return [
            self.name,
            f"{self.recipients:,}",
            f"{self.rows:,}",
            f"{self.inside_seconds:.2f}",
            f"{self.total_seconds:.2f}",
            f"{self.statements:,}",
            f"{rate:,.0f}",
            f"<= {TARGET_SECONDS:.0f} s",
            met,
        ]


class Stopwatch:
    """Time spent inside one function of notifications.incidents, however the use case reaches it."""

    def __init__(self) -> None:
        self.seconds = 0.0

    @contextmanager
    def around(self, name: str) -> Iterator[None]:
        original: Callable[..., Any] = getattr(notifications.incidents, name)

        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - started

        setattr(notifications.incidents, name, timed)
        try:
            yield
        finally:
            setattr(notifications.incidents, name, original)


class Command(OwnDatabaseCommand):
    help = "Benchmark an incident broadcast to 10,000 linked tickets' customers (outbox writes)."
    child_options = ("tickets",)

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tickets", type=int, default=10_000, help="Linked tickets, one customer each.")
        super().add_arguments(parser)

    def handle(self, *args: object, **options: object) -> None:
        count = int(str(options["tickets"]))
        if count < 1:
            raise CommandError("--tickets must be at least 1.")
        if self.rerun_elsewhere(options):
            return
        call_command("migrate", interactive=False, verbosity=0)
        tickets = self._desk(count)
        steps = self.run(tickets)
        self.stdout.write(
            f"\nIncident broadcast to {count:,} linked tickets' customers on {connection.vendor} "
            f"(target: <= {TARGET_SECONDS:.0f} s of outbox writes each)\n"
        )
        self.stdout.write(render_table(HEADER, [step.cells() for step in steps]))

    def _desk(self, count: int) -> list[Ticket]:
        """``count`` customers with one open bench ticket each, topped up from earlier runs."""
        now = timezone.now()
        started = time.perf_counter()
        customers = loads.customers_bulk(count, prefix=PREFIX, now=now)
        ours = Ticket.objects.filter(subject__startswith=SUBJECT, status__in=Ticket.ACTIVE_STATUSES)
        covered = set(ours.values_list("requester_id", flat=True))
        missing = [customer for customer in customers if customer.pk not in covered]
        if missing:
            loads.tickets_bulk(missing, subject=f"{SUBJECT} {now:%Y%m%d%H%M%S}", now=now)
        first: dict[int, Ticket] = {}
        for ticket in ours.filter(requester__in=customers).select_related("requester").order_by("id"):
            first.setdefault(ticket.requester_id, ticket)
        tickets = list(first.values())
        self.stdout.write(f"Desk ready in {time.perf_counter() - started:.1f} s: {len(tickets):,} open tickets.")
        return tickets

    def run(self, tickets: list[Ticket]) -> list[Step]:
        """Declare an incident, then the three broadcasts, each timed; returns the table's rows."""
        commander, _ = account_demo.user_ensure(COMMANDER, password=None)
        now = timezone.now()
        incident = usecases.declare_incident(
            declared_by=commander,
            now=now,
            severity="P1",
            title="Card payments fail at checkout",
            impact="Card payments fail for everyone",
            users_affected=len(tickets),
            war_room="#support-critical",
            actions=["Roll back the release"],
        )
        steps = []

        def step(name: str, function: str, work: Callable[[], object]) -> None:
            before = Notification.objects.count()
            watch, statements = Stopwatch(), Statements()
            started = time.perf_counter()
            with watch.around(function), connection.execute_wrapper(statements):
                work()
            total = time.perf_counter() - started
            rows = Notification.objects.count() - before
            steps.append(Step(name, len(tickets), rows, watch.seconds, total, statements.count))
            self.stdout.write(f"{name}: {rows:,} rows, {watch.seconds:.2f} s of outbox writes, {total:.2f} s in all")

        step(
            "acknowledgment (link)",
            "acknowledge",
            lambda: usecases.incident_link(incident=incident, tickets=tickets, by=commander, now=now),
        )
        step(
            "update (status change)",
            "updated",
            lambda: usecases.incident_update(
                incident=incident,
                author=commander,
                body="We found the cause and are rolling back.",
                status="identified",
                now=now + timedelta(minutes=10),
            ),
        )

        @transaction.atomic
        def resolution() -> None:  # step 3 of resolve_incident, without resolving the tickets one by one
            resolved_at = now + timedelta(minutes=40)
            done = incident_services.resolve(
                incident=incident,
                by=commander,
                now=resolved_at,
                what_happened="A release broke card payments.",
                resolution="We rolled it back.",
                prevention="A payment smoke test gates every release.",
            )
            event = incident_selectors.last_event(done, kind=IncidentEvent.Kind.RESOLVED)
            assert event is not None
            notifications.incidents.resolved(incident=done, event=event, now=resolved_at)
            incident_services.resolution_sent(incident=done, now=resolved_at)

        step("resolution notification", "resolved", resolution)
        return steps
