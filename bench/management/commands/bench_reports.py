"""``manage.py bench_reports [--tickets N]``: how long the full scorecard takes for a 90-day range.

Like ``manage.py bench`` it never touches the developer's database: without
DATABASE_URL it runs itself again in a child process on a separate SQLite file
(var/bench_reports.sqlite3). With DATABASE_URL set it uses that database as given.

The desk is grown in steps (1 %, 10 % and 100 % of --tickets by default) with the
same bulk loader as ``seed_demo --tickets``; on PostgreSQL, past --load-limit, by
copying ticket rows in SQL. After each step the bulk rows get SLA deadlines,
breach records and ratings in a few set-based statements, the reports' rollup is
rebuilt (the loader bypasses the use cases that keep it current), planner
statistics are refreshed, and the scorecard, the summary API and the reports
page are timed. The desk also has 500 resolved incidents in the range, with their
timelines and reviews (bench.incident_history), for the scorecard's incident figures.
The table shows how the cost grows with the number of tickets. Not a test: numbers depend on the machine.

    python manage.py bench_reports                      # SQLite: 1k, 10k, 100k
    DATABASE_URL=postgres://... python manage.py bench_reports --tickets 1000000   # 10k, 100k, 1M
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from functools import partial

from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import CommandError, CommandParser
from django.db import connection, transaction
from django.db.models import Case, CharField, DateTimeField, ExpressionWrapper, F, IntegerField, Value, When
from django.db.models.functions import Mod
from django.test import Client
from django.test.utils import override_settings
from django.utils import timezone
from rest_framework.test import APIClient

from accounts import services as account_services
from bench.copying import tickets_copy
from bench.harness import OwnDatabaseCommand, percentile, render_table, sample_calls
from bench.incident_history import incidents_ensure
from bench.management.commands.bench import bench_data_ensure, bench_people_ensure
from escalation.models import SlaBreach
from reports import metrics
from reports.filters import ReportFilters, desk_zone
from reports.models import DailyRollup, DurationHistogram, TicketFact
from reports.rollup import rollup_rebuild
from surveys.models import Rating
from tickets.models import Ticket

TARGET_MS = 1000.0
# Resolved incidents in the 90 days (with timelines and reviews): a few a day, more than a desk has.
BENCH_INCIDENTS = 500
WARM_UP = 1
# 24x7 approximations of the policies: enough to give bulk tickets realistic deadlines.
TARGET_MINUTES = {"P0": (15, 120), "P1": (60, 480), "P2": (240, 1440), "P3": (1440, 10080)}


def _deadline(column: int) -> Case:
    return Case(
        *[
            When(
                priority=priority,
                then=ExpressionWrapper(
                    F("created_at") + Value(timedelta(minutes=minutes[column])), output_field=DateTimeField()
                ),
            )
            for priority, minutes in TARGET_MINUTES.items()
        ],
        output_field=DateTimeField(),
    )


def enrich(*, write: Callable[[str], object]) -> None:
    """Give bulk-loaded tickets what the services would have: deadlines, breach records, ratings.

    Set-based (UPDATE, INSERT ... SELECT), so a million tickets take seconds, not an hour.
    """
    started = time.perf_counter()
    with transaction.atomic():
        Ticket.objects.filter(first_response_due_at__isnull=True).update(
            first_response_due_at=_deadline(0), resolution_due_at=_deadline(1)
        )
        # The loader writes one public agent reply per answered ticket: it is also the latest.
        Ticket.objects.filter(first_responded_at__isnull=False, last_agent_reply_at__isnull=True).update(
            last_agent_reply_at=F("first_responded_at")
        )
        late = Ticket.objects.order_by().filter(
            first_responded_at__gt=F("first_response_due_at"), sla_breaches__isnull=True
        )
        breaches = _insert_select(
            SlaBreach,
            ["ticket_id", "kind", "due_at", "breached_at", "tier", "priority"],
            late.values_list(
                "pk",
                Value(SlaBreach.Kind.FIRST_RESPONSE, output_field=CharField()),
                "first_response_due_at",
                "first_response_due_at",
                "tier",
                "priority",
            ),
        )
        # About 83 % answer the survey, scoring 3, 4, 5, 5, 4 by id.
        unrated = Ticket.objects.order_by().filter(resolved_at__isnull=False, rating__isnull=True)
        unrated = unrated.annotate(answered=Mod("pk", 6), slot=Mod("pk", 5)).exclude(answered=0)
        score = Case(*[When(slot=i, then=Value(s)) for i, s in enumerate((3, 4, 5, 5, 4))], output_field=IntegerField())
        ratings = _insert_select(
            Rating,
            ["ticket_id", "score", "comment", "created_at", "updated_at"],
            unrated.values_list("pk", score, Value("", output_field=CharField()), "resolved_at", "resolved_at"),
        )
    write(f"Enriched in {time.perf_counter() - started:.1f} s: {breaches} breach records, {ratings} ratings.")


def _insert_select(model, fields: list[str], rows) -> int:
    """INSERT INTO model (fields) SELECT rows: one statement, no signals (like the bulk loader)."""
    sql, params = rows.query.sql_with_params()
    q = connection.ops.quote_name
    columns = ", ".join(q(model._meta.get_field(name).column) for name in fields)
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {q(model._meta.db_table)} ({columns}) {sql}", params)
        return cursor.rowcount


def rebuild(*, write: Callable[[str], object]) -> None:
    """The loader and enrich send no signals: recompute the reports' rollup, then refresh planner statistics."""
    started = time.perf_counter()
    counts = rollup_rebuild()
    if connection.vendor == "postgresql":
        # VACUUM (visibility maps for index-only scans) cannot run inside a transaction; ANALYZE can.
        command = "ANALYZE" if connection.in_atomic_block else "VACUUM ANALYZE"
        with connection.cursor() as cursor:
            for model in (Ticket, TicketFact, DailyRollup, DurationHistogram, Rating, SlaBreach):
                cursor.execute(f"{command} {connection.ops.quote_name(model._meta.db_table)}")
    else:
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    write(
        f"Rebuilt the reports' rollup in {time.perf_counter() - started:.1f} s: {counts['facts']} facts, "
        f"{counts['daily_rows']} daily rows, {counts['histogram_rows']} histogram rows."
    )


def _time(call: Callable[[], object], repeat: int) -> tuple[float, float, int]:
    samples = sample_calls(lambda n: call(), repeat=repeat, warm_up=WARM_UP)
    return percentile(samples.wall_ms, 50), max(samples.wall_ms), samples.statements[-1]


class Command(OwnDatabaseCommand):
    help = "Time the full reports scorecard for a 90-day range as the desk grows (never the dev DB)."
    child_options = ("tickets", "repeat", "steps", "load_limit")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tickets", type=int, default=100_000, help="tickets in the bench database at the end")
        parser.add_argument("--repeat", type=int, default=5, help="timed runs per measurement")
        parser.add_argument(
            "--steps", default="0.01,0.1,1", help="fractions of --tickets at which to measure (comma-separated)"
        )
        super().add_arguments(parser)
        parser.add_argument(
            "--load-limit",
            type=int,
            default=100_000,
            help="PostgreSQL: bulk-load at most this many tickets, copy rows in SQL beyond it",
        )

    def handle(self, *args, **options) -> None:
        if options["tickets"] < 1 or options["repeat"] < 1:
            raise CommandError("--tickets and --repeat must be at least 1.")
        if self.rerun_elsewhere(options):
            return
        self.load_limit = options["load_limit"]
        steps = sorted({max(1, int(options["tickets"] * float(s))) for s in options["steps"].split(",") if s})
        self._run(steps=steps, repeat=options["repeat"])

    def _run(self, *, steps: list[int], repeat: int) -> None:
        call_command("migrate", interactive=False, verbosity=0)
        now = timezone.now()
        customer, agent = bench_people_ensure()
        manager = self._manager()
        today = now.astimezone(desk_zone()).date()
        f = ReportFilters(start=today - timedelta(days=89), end=today)
        query = f"?from={f.start.isoformat()}&to={f.end.isoformat()}"
        lines = []
        incidents_ensure(count=BENCH_INCIDENTS, now=now, write=self.stdout.write)
        for count in steps:
            loaded = min(count, self.load_limit) if connection.vendor == "postgresql" else count
            bench_data_ensure(tickets=loaded, customer=customer, agent=agent, now=now, write=self.stdout.write)
            tickets_copy(tickets=count, write=self.stdout.write)
            enrich(write=self.stdout.write)
            rebuild(write=self.stdout.write)
            total = Ticket.objects.count()
            in_range = Ticket.objects.filter(created_at__gte=f.start_at).count()
            self.stdout.write(f"Measuring with {total} tickets ({in_range} filed in the 90-day range)...")
            with override_settings(ALLOWED_HOSTS=["*"], SECURE_SSL_REDIRECT=False, DEBUG=False):
                browser = Client()
                browser.force_login(manager)
                api = APIClient()
                api.force_authenticate(manager)
                measures: list[tuple[str, Callable[[], object]]] = [
                    ("scorecard (90 days)", lambda: metrics.scorecard(f, now=now)),
                    ("API /reports/summary/", partial(api.get, "/api/v1/reports/summary/" + query)),
                    ("reports page", partial(browser.get, "/reports/" + query)),
                ]
                for label, call in measures:
                    p50, worst, queries = _time(call, repeat)
                    met = "yes" if p50 < TARGET_MS else "no"
                    self.stdout.write(f"  {label}: p50 {p50:.0f} ms, max {worst:.0f} ms, {queries} queries")
                    lines.append(
                        [f"{total}", label, f"{p50:.0f}", f"{worst:.0f}", str(queries), f"< {TARGET_MS:.0f} ms", met]
                    )
        self.stdout.write("")
        self.stdout.write(_table(lines))

    def _manager(self) -> User:
        manager = User.objects.filter(username="bench-manager@sofacoverpro.com").first()
        return manager or account_services.user_create(
            email="bench-manager@sofacoverpro.com", password=None, role="manager"
        )


HEADER = ["tickets", "measure", "p50 ms", "max ms", "queries", "target", "met?"]


def _table(lines: list[list[str]]) -> str:
    return render_table(HEADER, lines)
