"""``manage.py bench_status``: the public status page with 1,000 incidents of history.

Like ``manage.py bench`` it never touches the developer's database: without
DATABASE_URL it runs itself again in a child process on a separate SQLite file
(var/bench_status.sqlite3). With DATABASE_URL set it uses that database as given.

The child migrates, replaces the bench's incidents with --incidents resolved
public incidents spread over the page's 90 days (each with its components and
timeline: declared, identified, an internal note, resolved — as the services
record them) and one open incident, then times in process with the Django test
client: the page, the JSON and the feed as served from the snapshot (the target:
``/status/`` p50 <= 5 ms; a process asks the cache whether its copy is current once a
second, and a second row asks on every request), and the cold build of the snapshot itself, alone and
behind a page request (what the first visitor after a change waits for). The
cache is whatever CACHES says (Redis with REDIS_URL). Not a test: the numbers
depend on the machine.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.core.management import call_command
from django.core.management.base import CommandError, CommandParser
from django.db import connection, transaction
from django.test import Client
from django.test.utils import override_settings
from django.utils import timezone

from bench import harness
from bench.harness import OwnDatabaseCommand
from incidents import status
from incidents.models import Component, Incident, IncidentEvent

BENCH_PREFIX = "[bench] "
WARM_UP = 3
PAGE_TARGET_MS = 5.0
PAGE_TARGET = f"p50 <= {PAGE_TARGET_MS:.0f} ms"
SEVERITIES = ("P0", "P1", "P1", "P2", "P2", "P2", "P3", "P3")
WORDS = ("Checkout", "Sign-in", "Search", "Order history", "Card payments", "Product images", "Basket", "Returns")
PROBLEMS = ("slow", "failing for some customers", "unavailable", "timing out", "showing errors")


@dataclass
class Row:
    what: str
    target: str = ""
    p50_ms: float = 0.0
    p95_ms: float = 0.0
    db_p50_ms: float = 0.0
    queries: tuple[int, int] = (0, 0)
    size_kb: float = 0.0
    error: str = ""

    @property
    def met(self) -> str:
        if self.error:
            return "no"
        if not self.target:
            return "-"
        return "yes" if self.p50_ms <= PAGE_TARGET_MS else "no"

    def cells(self) -> list[str]:
        if self.error:
            return [self.what, self.error, "-", "-", "-", "-", self.target or "-", "no"]
        low, high = self.queries
        return [
            self.what,
            f"{self.p50_ms:.2f}",
            f"{self.p95_ms:.2f}",
            f"{self.db_p50_ms:.2f}",
            str(low) if low == high else f"{low}-{high}",
            f"{self.size_kb:.0f}",
            self.target or "-",
            self.met,
        ]


HEADER = ["measure", "p50 ms", "p95 ms", "db p50 ms", "queries", "KiB", "target", "met?"]


def render_table(rows: Sequence[Row]) -> str:
    return harness.render_table(HEADER, [row.cells() for row in rows])


def summary(rows: Sequence[Row]) -> str:
    judged = [row for row in rows if row.target]
    return f"{sum(row.met == 'yes' for row in judged)} of {len(judged)} targets met."


def timed(
    row: Row, request: Callable[[int], object], repeat: int, *, before: Callable[[], object] | None = None
) -> Row:
    """Warm up, then time ``repeat`` calls; ``before`` runs untimed ahead of each call."""
    samples = harness.timed_into(row, request, repeat=repeat, warm_up=WARM_UP, before=before)
    content = getattr(samples.last, "content", None) if samples else None
    if content is not None:
        row.size_kb = len(content) / 1024
    return row


@transaction.atomic
def bench_incidents_load(*, count: int, now: datetime) -> int:
    """Replace the bench's incidents with ``count`` resolved public ones over the page's days and one open one.

    Rows as the services write them (declare, post_update twice, resolve), without their mail.
    Returns how many incidents it wrote.
    """
    Incident.objects.filter(title__startswith=BENCH_PREFIX).delete()
    components = list(Component.objects.filter(public=True).order_by("position"))
    if not components:
        raise CommandError("No public components: migrate first.")
    span = timedelta(days=status.HISTORY_DAYS) - timedelta(hours=6)
    rows, plans = [], []
    for n in range(count + 1):
        is_open = n == count
        severity = "P1" if is_open else SEVERITIES[n % len(SEVERITIES)]
        started = now - timedelta(minutes=20) if is_open else now - span + span * n / max(count, 1)
        lasting = timedelta(minutes=20 + (n * 37) % 220)
        resolved = None if is_open else started + lasting
        title = f"{BENCH_PREFIX}{WORDS[n % len(WORDS)]} {PROBLEMS[n % len(PROBLEMS)]}"
        rows.append(
            Incident(
                severity=severity,
                title=title,
                status=Incident.Status.IDENTIFIED if is_open else Incident.Status.RESOLVED,
                impact="Customers cannot complete the step; about 300 affected.",
                users_affected=300,
                war_room="https://meet.example.com/bench",
                started_at=started,
                detected_at=started + timedelta(minutes=3),
                declared_at=started + timedelta(minutes=5),
                identified_at=started + timedelta(minutes=15),
                resolved_at=resolved,
                updated_at=resolved or now,
                what_happened="A release broke it.",
                resolution="Rolled back.",
                prevention="A smoke test before each release.",
            )
        )
        plans.append((started, resolved, [components[n % len(components)], components[(n * 3 + 1) % len(components)]]))
    created = Incident.objects.bulk_create(rows, batch_size=500)
    links, events = [], []
    through = Incident.components.through
    for incident, (started, resolved, affected) in zip(created, plans, strict=True):
        for component in {c.pk: c for c in affected}.values():
            links.append(through(incident_id=incident.pk, component_id=component.pk))
        timeline = [
            (
                IncidentEvent.Kind.DECLARED,
                started + timedelta(minutes=5),
                "investigating",
                True,
                "We are investigating.",
            ),
            (IncidentEvent.Kind.STATUS, started + timedelta(minutes=15), "identified", True, "We found the cause."),
            (IncidentEvent.Kind.NOTE, started + timedelta(minutes=16), "identified", False, "Rolling back build 42."),
        ]
        if resolved is not None:
            timeline.append((IncidentEvent.Kind.RESOLVED, resolved, "resolved", True, "This incident is resolved."))
        events += [
            IncidentEvent(incident=incident, kind=kind, at=at, status=state, public=public, body=body)
            for kind, at, state, public, body in timeline
        ]
    through.objects.bulk_create(links, batch_size=1000)
    IncidentEvent.objects.bulk_create(events, batch_size=1000)
    with connection.cursor() as cursor:
        for model in (Incident, IncidentEvent, through):
            cursor.execute(f"ANALYZE {model._meta.db_table}")
    status.snapshot_forget()
    return len(created)


def measure(*, repeat: int) -> list[Row]:
    """Time the status page's doors against the current database and cache."""
    if repeat < 1:
        raise ValueError("repeat must be at least 1")
    rows: list[Row] = []
    with override_settings(ALLOWED_HOSTS=["*"], SECURE_SSL_REDIRECT=False, DEBUG=False):
        client = Client(raise_request_exception=False)

        def get(path: str) -> Callable[[int], object]:
            return lambda n: client.get(path)

        cache.delete(status.SNAPSHOT_KEY)
        rows.append(timed(Row("/status/ (from the snapshot)", target=PAGE_TARGET), get("/status/"), repeat))
        rows.append(
            timed(
                Row("/status/ asking the cache every time"),
                get("/status/"),
                repeat,
                before=lambda: setattr(status._Local, "trusted_until", None),
            )
        )
        rows.append(timed(Row("/api/v1/status/ (from the snapshot)"), get("/api/v1/status/"), repeat))
        rows.append(timed(Row("/status/feed.atom (from the snapshot)"), get("/status/feed.atom"), repeat))
        cold = max(3, repeat // 10)
        rows.append(timed(Row("snapshot cold build"), lambda n: status.snapshot_build(now=timezone.now()), cold))
        rows.append(
            timed(Row("/status/ after a change (build + render)"), get("/status/"), cold, before=status._forget_now)
        )
    return rows


class Command(OwnDatabaseCommand):
    help = "Benchmark the public status page with 1,000 incidents of history (never the dev DB)."
    child_options = ("incidents", "repeat")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--incidents", type=int, default=1000, help="resolved incidents over the last 90 days")
        parser.add_argument("--repeat", type=int, default=300, help="timed requests per measure")
        super().add_arguments(parser)

    def handle(self, *args, **options) -> None:
        if options["incidents"] < 0 or options["repeat"] < 1:
            raise CommandError("--incidents must be zero or more and --repeat at least 1.")
        if self.rerun_elsewhere(options):
            return
        self._run(incidents=options["incidents"], repeat=options["repeat"])

    def _run(self, *, incidents: int, repeat: int) -> None:
        call_command("migrate", interactive=False, verbosity=0)
        started = time.perf_counter()
        loaded = bench_incidents_load(count=incidents, now=timezone.now())
        self.stdout.write(f"Loaded {loaded} incidents with their timelines in {time.perf_counter() - started:.1f} s.")
        backend = settings.CACHES["default"]["BACKEND"].rsplit(".", 1)[-1]
        self.stdout.write(
            f"Measuring with {Incident.objects.count()} incidents ({loaded - 1} resolved in the last "
            f"{status.HISTORY_DAYS} days, 1 open), cache {backend}, {repeat} timed requests per measure "
            f"({WARM_UP} warm-ups)..."
        )
        rows = measure(repeat=repeat)
        self.stdout.write("")
        self.stdout.write(render_table(rows))
        self.stdout.write("")
        self.stdout.write(summary(rows))
