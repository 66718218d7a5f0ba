"""``manage.py bench_reports [--tickets N]``: how long the full scorecard takes for a 90-day range.

Like ``manage.py bench`` it never touches the developer's database: without
DATABASE_URL it runs itself again in a child process on a separate SQLite file
(var/bench_reports.sqlite3). With DATABASE_URL set it uses that database as given.

The desk is grown in steps (1 %, 10 % and 100 % of --tickets by default) with the
same bulk loader as ``seed_demo --tickets``; after each step the bulk rows get SLA
deadlines, breach records and ratings (the loader sends no signals), and the
scorecard, the summary API and the reports page are timed. The table shows how
the cost grows with the number of tickets. Not a test: numbers depend on the machine.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, transaction
from django.db.models import Case, CharField, DateTimeField, ExpressionWrapper, F, Value, When
from django.db.models.functions import Cast, Concat, LPad
from django.test import Client
from django.test.utils import CaptureQueriesContext, override_settings
from django.utils import timezone
from rest_framework.test import APIClient

from escalation.models import SlaBreach
from reports import metrics
from reports.filters import ReportFilters, desk_zone
from tickets import services as ticket_services
from tickets.management.commands.bench import bench_data_ensure, bench_people_ensure, percentile
from tickets.models import Rating, Ticket

CHILD_ENV = "SOFACOVER_BENCH_REPORTS_CHILD"
TARGET_MS = 1000.0
WARM_UP = 1
# 24x7 approximations of the policies: enough to give bulk tickets realistic deadlines.
TARGET_MINUTES = {"P0": (15, 120), "P1": (60, 480), "P2": (240, 1440), "P3": (1440, 10080)}
BATCH = 5000


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


def grow_by_copying(*, tickets: int, write: Callable[[str], None]) -> int:
    """PostgreSQL only: reach ``tickets`` by copying existing ticket rows in SQL (INSERT ... SELECT).

    The bulk loader writes a few thousand tickets a second; a million would take most
    of an hour. Copies keep every column (times, deadlines, priorities), so the
    distributions the reports aggregate stay the same; they have no messages.
    """
    have = Ticket.objects.count()
    if connection.vendor != "postgresql" or have >= tickets or have == 0:
        return 0
    columns = [
        f.column
        for f in Ticket._meta.concrete_fields
        if not f.primary_key and not getattr(f, "generated", False) and f.name != "reference"
    ]
    names = ", ".join(f'"{c}"' for c in columns)
    table = Ticket._meta.db_table
    started, added = time.perf_counter(), 0
    while have < tickets:
        batch = min(have, tickets - have, 200_000)
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table} ({names}) SELECT {names} FROM {table} ORDER BY id LIMIT %s",
                [batch],
            )
            Ticket.objects.filter(reference__isnull=True).update(
                reference=Concat(Value("SCP-"), LPad(Cast("id", output_field=CharField()), 6, Value("0")))
            )
        have += batch
        added += batch
    write(f"Copied {added} ticket rows in SQL in {time.perf_counter() - started:.1f} s.")
    return added


def enrich(*, write: Callable[[str], None]) -> None:
    """Give bulk-loaded tickets what the services would have: deadlines, breach records, ratings."""
    started = time.perf_counter()
    with transaction.atomic():
        Ticket.objects.filter(first_response_due_at__isnull=True).update(
            first_response_due_at=_deadline(0), resolution_due_at=_deadline(1)
        )
        # The loader writes one public agent reply per answered ticket: it is also the latest.
        Ticket.objects.filter(first_responded_at__isnull=False, last_agent_reply_at__isnull=True).update(
            last_agent_reply_at=F("first_responded_at")
        )
    late = Ticket.objects.filter(first_responded_at__gt=F("first_response_due_at"), sla_breaches__isnull=True)
    breaches = 0
    for chunk in _chunks(late.values_list("pk", "first_response_due_at", "tier", "priority")):
        SlaBreach.objects.bulk_create(
            [
                SlaBreach(ticket_id=pk, kind="first_response", due_at=due, breached_at=due, tier=t, priority=p)
                for pk, due, t, p in chunk
            ],
            ignore_conflicts=True,
        )
        breaches += len(chunk)
    unrated = Ticket.objects.filter(resolved_at__isnull=False, rating__isnull=True).order_by("pk")
    ratings = 0
    for chunk in _chunks(unrated.values_list("pk", "resolved_at")):
        rows = [
            Rating(ticket_id=pk, score=(3, 4, 5, 5, 4)[pk % 5], created_at=at, updated_at=at)
            for pk, at in chunk
            if pk % 6  # about 83 % answer the survey
        ]
        Rating.objects.bulk_create(rows, ignore_conflicts=True)
        ratings += len(rows)
    write(f"Enriched in {time.perf_counter() - started:.1f} s: {breaches} breach records, {ratings} ratings.")


def _chunks(rows):
    batch: list = []
    for row in rows.iterator(chunk_size=BATCH):
        batch.append(row)
        if len(batch) == BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def _time(call: Callable[[], object], repeat: int) -> tuple[float, float, int]:
    durations, queries = [], 0
    for n in range(WARM_UP + repeat):
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            call()
            elapsed = (time.perf_counter() - started) * 1000
        if n >= WARM_UP:
            durations.append(elapsed)
            queries = len(captured.captured_queries)
    return percentile(durations, 50), max(durations), queries


class Command(BaseCommand):
    help = "Time the full reports scorecard for a 90-day range as the desk grows (never the dev DB)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tickets", type=int, default=100_000, help="tickets in the bench database at the end")
        parser.add_argument("--repeat", type=int, default=5, help="timed runs per measurement")
        parser.add_argument(
            "--steps", default="0.01,0.1,1", help="fractions of --tickets at which to measure (comma-separated)"
        )
        parser.add_argument("--db-file", default="var/bench_reports.sqlite3", help="SQLite file without DATABASE_URL")
        parser.add_argument(
            "--load-limit",
            type=int,
            default=100_000,
            help="PostgreSQL: bulk-load at most this many tickets, copy rows in SQL beyond it",
        )

    def handle(self, *args, **options) -> None:
        if options["tickets"] < 1 or options["repeat"] < 1:
            raise CommandError("--tickets and --repeat must be at least 1.")
        if not os.environ.get("DATABASE_URL"):
            if os.environ.get(CHILD_ENV):
                raise CommandError("The bench child needs DATABASE_URL; refusing to use the default database.")
            self._reexec(options)
            return
        database = settings.DATABASES["default"]
        self.stdout.write(f"Bench database: {database['ENGINE'].rsplit('.', 1)[-1]} {database['NAME']}")
        self.load_limit = options["load_limit"]
        steps = sorted({max(1, int(options["tickets"] * float(s))) for s in options["steps"].split(",") if s})
        self._run(steps=steps, repeat=options["repeat"])

    def _reexec(self, options) -> None:
        db_file = Path(options["db_file"])
        if not db_file.is_absolute():
            db_file = Path(settings.BASE_DIR) / db_file
        db_file.parent.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, CHILD_ENV: "1", "DATABASE_URL": f"sqlite:///{db_file.resolve()}", "DJANGO_DEBUG": "0"}
        command = [
            sys.executable, str(Path(settings.BASE_DIR) / "manage.py"), "bench_reports",
            "--tickets", str(options["tickets"]), "--repeat", str(options["repeat"]),
            "--steps", options["steps"], "--db-file", str(db_file), "--load-limit", str(options["load_limit"]),
        ]  # fmt: skip
        self.stdout.flush()
        code = subprocess.run(command, env=env, check=False).returncode
        if code:
            raise CommandError(f"The benchmark process failed (exit status {code}).")

    def _run(self, *, steps: list[int], repeat: int) -> None:
        call_command("migrate", interactive=False, verbosity=0)
        now = timezone.now()
        customer, agent = bench_people_ensure()
        manager = self._manager()
        today = now.astimezone(desk_zone()).date()
        f = ReportFilters(start=today - timedelta(days=89), end=today)
        query = f"?from={f.start.isoformat()}&to={f.end.isoformat()}"
        lines = []
        for count in steps:
            loaded = min(count, self.load_limit) if connection.vendor == "postgresql" else count
            bench_data_ensure(tickets=loaded, customer=customer, agent=agent, now=now, write=self.stdout.write)
            grow_by_copying(tickets=count, write=self.stdout.write)
            enrich(write=self.stdout.write)
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
                    ("API /reports/summary/", lambda api=api: api.get("/api/v1/reports/summary/" + query)),
                    ("reports page", lambda browser=browser: browser.get("/reports/" + query)),
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
        return manager or ticket_services.user_create(
            email="bench-manager@sofacoverpro.com", password=None, role="manager"
        )


HEADER = ["tickets", "measure", "p50 ms", "max ms", "queries", "target", "met?"]


def _table(lines: list[list[str]]) -> str:
    rows = [HEADER, *lines]
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADER))]
    rendered = [" | ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    rendered.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(rendered)
