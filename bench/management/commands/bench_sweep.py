"""``make bench``, part two: what one SLA sweep costs as the desk grows.

Two cases per desk size: nothing due (the beat's usual run every 30 s; target
under 20 ms at 100,000 open tickets, and flat as the desk grows), and 1,000
P0 tickets due at once (each escalated to Tier 2 with its breaches recorded
and its alerts queued; target under 2 s). Like ``bench``, it never touches the
developer's database: without DATABASE_URL it re-runs itself on a separate
SQLite file (var/bench_sweep.sqlite3); with DATABASE_URL it uses that database
as given. Tickets are loaded with the bulk loader, open and not yet due; the
due set is made by moving 1,000 fresh ones into the past with one UPDATE.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import CommandError, CommandParser
from django.db import connection
from django.utils import timezone
from tqdm import tqdm

from accounts import demo as account_demo
from bench import harness
from bench.harness import OwnDatabaseCommand, Statements, percentile
from escalation import selectors, services
from escalation.models import Escalation
from notifications.models import Notification
from support import usecases
from tickets import bulk
from tickets.models import Ticket

SUBJECT = "[bench-sweep]"
IDLE_TARGET_MS = 20.0
DUE_TARGET_MS = 2000.0
DUE_COUNT = 1000
AGENTS = [account_demo.DemoUser(f"bench-sweep-tier{t}@sofacoverpro.com", "agent", tier=t) for t in (1, 2, 3)]
PRIORITIES = ("P0", "P1", "P2", "P3")
HEADER = ["open tickets", "case", "p50 ms", "p95 ms", "queries", "per due ticket", "target", "met?"]


@dataclass
class Row:
    tickets: int
    case: str
    durations_ms: list[float]
    queries: list[int]
    due: int
    target_ms: float
    notes: str = ""

    def cells(self) -> list[str]:
        p50, p95 = percentile(self.durations_ms, 50), percentile(self.durations_ms, 95)
        low, high = min(self.queries), max(self.queries)
        per_ticket = "-" if not self.due else f"{p50 / self.due:.2f} ms, {high / self.due:.1f} q"
        met = "yes" if p50 < self.target_ms else "no"
        return [
            f"{self.tickets:,}",
            self.case,
            f"{p50:.1f}",
            f"{p95:.1f}",
            str(low) if low == high else f"{low}-{high}",
            per_ticket,
            f"< {self.target_ms:.0f} ms",
            f"{met}{f' ({self.notes})' if self.notes else ''}",
        ]


def render_table(rows: Sequence[Row]) -> str:
    return harness.render_table(HEADER, [row.cells() for row in rows])


def _open_tickets(count: int, *, requester: User, now: datetime, start: int) -> Iterator[bulk.BulkTicket]:
    """Open tickets filed over the last 30 days whose next SLA look is 1-30 days ahead: nothing due."""
    for n in range(start, start + count):
        created = now - timedelta(minutes=5 + n % (30 * 24 * 60))
        yield bulk.BulkTicket(
            Ticket(
                subject=f"{SUBJECT} #{n}",
                description="Bench ticket.",
                priority=PRIORITIES[n % 4],
                status=Ticket.Status.NEW if n % 2 else Ticket.Status.OPEN,
                tier=1,
                requester=requester,
                created_at=created,
                updated_at=created,
                tier_entered_at=created,
                sla_next_check_at=now + timedelta(days=1 + n % 30),
            )
        )


def tickets_top_up(target: int, *, requester: User, now: datetime) -> int:
    have = Ticket.objects.count()
    missing = target - have
    if missing <= 0:
        return 0
    with tqdm(total=missing, unit="tickets", file=sys.stderr, disable=None) as bar:
        bulk.tickets_bulk_load(
            tickets=_open_tickets(missing, requester=requester, now=now, start=have),
            batch_size=5000,
            on_batch=bar.update,
        )
    return missing


def nothing_due(*, now: datetime) -> None:
    """Push every pending look past the bench's horizon (earlier runs left escalated tickets due later)."""
    Ticket.objects.filter(sla_next_check_at__lte=now + timedelta(hours=2)).update(
        sla_next_check_at=now + timedelta(days=1)
    )


def analyze() -> None:
    """Refresh the planner's statistics, as autovacuum would after a bulk load or a mass UPDATE.

    Without them (autovacuum off, or behind) PostgreSQL guesses that thousands of
    rows are due and reads the due query with a sequential scan: 57 ms instead of
    under 1 ms at 100,000 tickets, growing with the table.
    """
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE tickets_ticket" if connection.vendor == "postgresql" else "ANALYZE")


def make_due(count: int, *, now: datetime) -> int:
    """Turn ``count`` never-escalated tickets into P0s filed 40 min ago: the 30-min Tier 2 rule is due."""
    fresh = (
        Ticket.objects.filter(tier=1, status__in=[Ticket.Status.NEW, Ticket.Status.OPEN], first_responded_at=None)
        .exclude(pk__in=Escalation.objects.values("ticket_id"))
        .order_by("pk")
        .values_list("pk", flat=True)[:count]
    )
    ids = list(fresh)
    filed = now - timedelta(minutes=40)
    return Ticket.objects.filter(pk__in=ids).update(
        priority="P0",
        status=Ticket.Status.NEW,
        created_at=filed,
        updated_at=filed,
        tier_entered_at=filed,
        sla_next_check_at=now - timedelta(minutes=1),
    )


def timed_sweep(now: datetime) -> tuple[float, int, services.SweepResult]:
    """One sweep's wall time and query count (counted, not logged: a due sweep runs tens of thousands)."""
    statements = Statements()
    with connection.execute_wrapper(statements):
        started = time.perf_counter()
        result = usecases.sla_sweep(now=now)
        elapsed = (time.perf_counter() - started) * 1000
    return elapsed, statements.count, result


def explain_due_query(now: datetime) -> str:
    query = Ticket.objects.filter(sla_next_check_at__lte=now).order_by("sla_next_check_at").values_list("pk")[:5000]
    return query.explain()


class Command(OwnDatabaseCommand):
    help = "Benchmark the SLA sweep: nothing due and 1,000 due, as the desk grows (never the dev DB)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--sizes",
            default="10000,100000",
            help="comma-separated desk sizes, ascending (default 10000,100000)",
        )
        parser.add_argument("--million", action="store_true", help="add a 1,000,000-ticket step (slow to load)")
        parser.add_argument("--repeat", type=int, default=20, help="timed idle sweeps per size")
        parser.add_argument("--due-repeat", type=int, default=2, help="timed sweeps of 1,000 due tickets per size")
        super().add_arguments(parser)

    def handle(self, *args, **options) -> None:
        try:
            sizes = sorted(int(size) for size in options["sizes"].split(",") if size.strip())
        except ValueError as exc:
            raise CommandError("--sizes takes whole numbers separated by commas, e.g. 10000,100000.") from exc
        if options["million"]:
            sizes = sorted({*sizes, 1_000_000})
        if not sizes or sizes[0] < DUE_COUNT * 2 or options["repeat"] < 1 or options["due_repeat"] < 1:
            raise CommandError(f"Sizes must be at least {DUE_COUNT * 2}; --repeat and --due-repeat at least 1.")
        arguments = [
            "--sizes", ",".join(map(str, sizes)),
            "--repeat", str(options["repeat"]),
            "--due-repeat", str(options["due_repeat"]),
        ]  # fmt: skip
        if self.rerun_elsewhere(options, arguments):
            return
        self._run(sizes=sizes, repeat=options["repeat"], due_repeat=options["due_repeat"])

    def _run(self, *, sizes: list[int], repeat: int, due_repeat: int) -> None:
        call_command("migrate", interactive=False, verbosity=0)
        for spec in AGENTS:  # someone to alert in each tier, so alerts go to people as well as Slack
            account_demo.user_ensure(spec, password=None)
        requester = account_demo.load_customers_ensure(1)[0]
        rows: list[Row] = []
        for size in sizes:
            now = timezone.now()
            started = time.perf_counter()
            added = tickets_top_up(size, requester=requester, now=now)
            if added:
                self.stdout.write(f"Loaded {added:,} tickets in {time.perf_counter() - started:.1f} s.")
            total = Ticket.objects.count()
            self.stdout.write(f"Measuring with {total:,} tickets...")

            nothing_due(now=now)
            analyze()
            idle_ms, idle_queries = [], []
            usecases.sla_sweep(now=now)  # warm-up: policy book, connection, caches
            for _ in range(repeat):
                elapsed, queries, result = timed_sweep(timezone.now())
                assert result.examined == 0, "nothing should be due"
                idle_ms.append(elapsed)
                idle_queries.append(queries)
            rows.append(Row(total, "nothing due", idle_ms, idle_queries, 0, IDLE_TARGET_MS))

            due_ms, due_queries, outbox = [], [], []
            for _ in range(due_repeat):
                now = timezone.now()
                made = make_due(DUE_COUNT, now=now)
                before = Notification.objects.count()
                elapsed, queries, result = timed_sweep(now)
                if result.escalated != made:
                    raise CommandError(f"expected {made} escalations, the sweep made {result.escalated}: {result}")
                due_ms.append(elapsed)
                due_queries.append(queries)
                outbox.append(Notification.objects.count() - before)
                nothing_due(now=now)
            note = f"{min(outbox):,} alerts queued per run"
            rows.append(Row(total, f"{DUE_COUNT:,} due", due_ms, due_queries, DUE_COUNT, DUE_TARGET_MS, note))
        self.stdout.write("")
        self.stdout.write(render_table(rows))
        self.stdout.write("")
        self.stdout.write(f"Due-work query plan ({connection.vendor}):")
        self.stdout.write(explain_due_query(timezone.now()))
        met = sum(percentile(r.durations_ms, 50) < r.target_ms for r in rows)
        self.stdout.write("")
        self.stdout.write(f"{met} of {len(rows)} targets met.")
        selectors.policy_book_forget()
