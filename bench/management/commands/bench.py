"""``make bench``: latency, query counts and creation throughput against a large desk.

Never touches the developer's database: without DATABASE_URL the command runs
itself again in a child process whose DATABASE_URL points at a separate SQLite
file (var/bench.sqlite3 by default), because the settings read DATABASE_URL at
import. With DATABASE_URL set (PostgreSQL, say) it uses that database as given
and says so.

The child migrates, tops the desk up to --tickets tickets with the same bulk
loader as ``seed_demo --tickets``, then measures each endpoint in process with
the Django test client: three warm-up requests, then --repeat timed ones.
"""

from __future__ import annotations

import sys
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import cast

from django.conf import settings
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import CommandError, CommandParser
from django.db import connection
from django.http import HttpResponseBase
from django.test import Client
from django.test.utils import override_settings
from django.utils import timezone
from rest_framework.test import APIClient
from tqdm import tqdm

from accounts import demo as account_demo
from bench import floor, harness
from bench.copying import tickets_copy
from bench.harness import NotOk, OwnDatabaseCommand, percentile, sample_calls
from support.management.commands.seed_demo import load_customer_count
from tickets import demo
from tickets.models import Ticket

BENCH_CUSTOMER = account_demo.DemoUser("bench-customer@example.com", "customer", first_name="Bench")
BENCH_AGENT = account_demo.DemoUser("bench-agent@sofacoverpro.com", "agent", tier=2, first_name="Bench")
BENCH_CUSTOMER_TICKETS = 200
# Tickets the creation benchmark files; removed at the start of the next run.
BENCH_SUBJECT_PREFIX = "[bench]"
WARM_UP = 3
LIST_P50_TARGET_MS = 15.0
TICKET_PAGE_P50_TARGET_MS = 12.0
TICKET_PAGE_MAX_QUERIES = 10
CREATION_TARGET_PER_S = 200.0
UNLIMITED = "1000000/h"


@dataclass
class Row:
    """One endpoint's result; ``status`` is set instead of timings when it answered non-2xx."""

    endpoint: str
    target: str
    p50_ms: float | None = None
    p95_ms: float | None = None
    queries: tuple[int, int] | None = None  # min, max over the timed requests
    met: bool = False
    status: int | None = None
    error: str = ""
    rate_per_s: float | None = None
    # This process's CPU time per request (p50): the web side's work without the database server's or
    # the waits for a busy host's cores, which the wall-clock p50 includes.
    cpu_p50_ms: float | None = None

    @property
    def queries_constant(self) -> bool:
        return self.queries is not None and self.queries[0] == self.queries[1]

    def cells(self) -> list[str]:
        if self.error or self.status is not None:
            failure = self.error or f"HTTP {self.status}"
            return [self.endpoint, failure, "-", "-", self.target, "no", "-"]
        assert self.p50_ms is not None
        assert self.p95_ms is not None
        assert self.queries is not None
        low, high = self.queries
        met = "yes" if self.met else "no"
        if self.rate_per_s is not None:
            met = f"{met} ({self.rate_per_s:.0f}/s)"
        return [
            self.endpoint,
            f"{self.p50_ms:.1f}",
            f"{self.p95_ms:.1f}",
            str(low) if low == high else f"{low}-{high}",
            self.target,
            met,
            "-" if self.cpu_p50_ms is None else f"{self.cpu_p50_ms:.1f}",
        ]


HEADER = ["endpoint", "p50 ms", "p95 ms", "queries", "target", "met?", "cpu p50 ms"]


def render_table(rows: Sequence[Row]) -> str:
    return harness.render_table(HEADER, [row.cells() for row in rows])


def _timed(
    endpoint: str, target: str, request: Callable[[int], HttpResponseBase], repeat: int, warm_up: int = WARM_UP
) -> tuple[Row, list[float]]:
    """Warm up, then time ``repeat`` requests; stop at the first non-2xx answer or exception."""
    row = Row(endpoint=endpoint, target=target)
    try:
        samples = sample_calls(request, repeat=repeat, warm_up=warm_up)
    except NotOk as refused:
        row.status = refused.status
        return row, []
    except Exception as exc:  # the endpoint may still be under construction: report, do not crash
        row.error = f"error: {type(exc).__name__}"
        return row, []
    row.p50_ms, row.p95_ms = percentile(samples.wall_ms, 50), percentile(samples.wall_ms, 95)
    row.cpu_p50_ms = percentile(samples.cpu_ms, 50)
    row.queries = samples.statement_range
    return row, samples.wall_ms


# What each creation files (its subject apart), through our API and through the frameworks' stock create.
CREATION_PAYLOAD = {
    "description": "Bench: the cushion covers arrived without zips.",
    "priority": Ticket.Priority.P3,
    "category": Ticket.Category.ORDERS,
}


def _bench_settings(**extra: object) -> override_settings:
    """The settings every timed request runs under: any host, no HTTPS redirect, no debug, no rate limits (one
    bench customer files hundreds of tickets), and ``extra``."""
    return override_settings(
        ALLOWED_HOSTS=["*"],
        SECURE_SSL_REDIRECT=False,
        DEBUG=False,
        RATELIMITS={key: UNLIMITED for key in settings.RATELIMITS},
        **extra,
    )


def measure(*, customer: User, agent: User, repeat: int, run_id: str | None = None) -> list[Row]:
    """Measure every endpoint against the current database; creations are ``repeat * 10`` tickets."""
    if repeat < 1:
        raise ValueError("repeat must be at least 1")
    run_id = run_id or uuid.uuid4().hex[:8]
    references = _sample_references(5)
    ticket_ids = list(Ticket.objects.filter(reference__in=references).values_list("pk", flat=True))
    with _bench_settings():
        agent_browser = Client(raise_request_exception=False)
        agent_browser.force_login(agent)
        customer_browser = Client(raise_request_exception=False)
        customer_browser.force_login(customer)
        agent_api = _api_client(agent)
        customer_api = _api_client(customer)

        fast = f"p50 < {LIST_P50_TARGET_MS:.0f} ms, queries constant"
        rows = []
        for endpoint, target, request in (
            ("admin queue, first page", fast, lambda n: agent_browser.get("/admin/tickets/ticket/")),
            ("API ticket list, first page", fast, lambda n: agent_api.get("/api/v1/tickets/")),
            (
                "API ticket detail",
                "queries constant",
                lambda n: agent_api.get(f"/api/v1/tickets/{references[n % len(references)]}/"),
            ),
            ("portal my tickets", "queries constant", lambda n: customer_browser.get("/tickets/")),
            (
                "console ticket page",
                f"p50 <= {TICKET_PAGE_P50_TARGET_MS:.0f} ms, <= {TICKET_PAGE_MAX_QUERIES} queries",
                lambda n: agent_browser.get(f"/admin/tickets/ticket/{ticket_ids[n % len(ticket_ids)]}/change/"),
            ),
        ):
            if ("detail" in endpoint or "ticket page" in endpoint) and not references:
                rows.append(Row(endpoint=endpoint, target=target, error="no tickets"))
                continue
            # Every sampled ticket once first: the ticket page keeps what all agents see in the cache for a
            # minute, and the steady state is what is measured (a subject's first view costs four more reads).
            warm_up = max(WARM_UP, len(references)) if "ticket page" in endpoint else WARM_UP
            row, _ = _timed(endpoint, target, request, repeat, warm_up=warm_up)
            if "ticket page" in endpoint:
                row.met = (
                    row.queries is not None
                    and row.queries[1] <= TICKET_PAGE_MAX_QUERIES
                    and row.p50_ms is not None
                    and row.p50_ms <= TICKET_PAGE_P50_TARGET_MS
                )
            else:
                row.met = row.queries_constant and (
                    "p50" not in target or (row.p50_ms is not None and row.p50_ms < LIST_P50_TARGET_MS)
                )
            rows.append(row)

        creations = repeat * 10

        def create(n: int) -> HttpResponseBase:
            subject = f"{BENCH_SUBJECT_PREFIX} {run_id} #{n:05d} cushion covers without zips"
            return customer_api.post("/api/v1/tickets/", {**CREATION_PAYLOAD, "subject": subject}, format="json")

        row, durations = _timed(
            "API ticket creation",
            f">= {CREATION_TARGET_PER_S:.0f} tickets/s, queries constant",
            create,
            creations,
        )
        if durations:
            # Throughput over the timed requests only (warm-ups excluded), client overhead included.
            row.rate_per_s = creations / (sum(durations) / 1000)
            row.met = row.queries_constant and row.rate_per_s >= CREATION_TARGET_PER_S
        rows.append(row)
    return rows


# The frameworks alone on the same desk (bench.floor), each beside the endpoint of ours it is the floor of.
FLOOR_HEADER = ["the frameworks alone (bench/floor.py)", "p50 ms", "p95 ms", "queries", "cpu p50 ms", "ours: p50 ms"]
FLOOR = (
    ("Django admin changelist, stock (full count)", "admin queue, first page"),
    ("Django admin change form, stock", "console ticket page"),
    ("DRF create, stock (no use case)", "API ticket creation"),
)


def measure_floor(*, customer: User, agent: User, repeat: int) -> list[Row]:
    """What Django's stock admin and DRF's stock create cost here on the same tickets (``bench.floor``): rows
    named as in FLOOR, whose ``target`` is the endpoint of ours each is the floor of."""
    ticket_ids = list(Ticket.objects.filter(reference__in=_sample_references(5)).values_list("pk", flat=True))
    with _bench_settings(ROOT_URLCONF="bench.floor", TEMPLATES=floor.TEMPLATES):
        browser = Client(raise_request_exception=False)
        browser.force_login(agent)
        api = _api_client(customer)
        requests: tuple[Callable[[int], HttpResponseBase], ...] = (
            lambda n: browser.get("/stock/admin/tickets/ticket/"),
            lambda n: browser.get(f"/stock/admin/tickets/ticket/{ticket_ids[n % len(ticket_ids)]}/change/"),
            lambda n: api.post(
                "/stock/api/tickets/",
                {**CREATION_PAYLOAD, "subject": f"{BENCH_SUBJECT_PREFIX} stock #{n:05d}"},
                format="json",
            ),
        )
        rows = []
        for (what, ours), request in zip(FLOOR, requests, strict=True):
            if "change form" in what and not ticket_ids:
                rows.append(Row(endpoint=what, target=ours, error="no tickets"))
                continue
            row, _ = _timed(what, ours, request, repeat)
            rows.append(row)
    return rows


def render_floor(floor_rows: Sequence[Row], ours: Sequence[Row]) -> str:
    ours_p50 = {row.endpoint: row.p50_ms for row in ours}
    lines = []
    for row in floor_rows:
        cells = row.cells()
        if row.error or row.status is not None:
            lines.append([row.endpoint, cells[1], "-", "-", "-", "-"])
            continue
        mine = ours_p50.get(row.target)
        lines.append([*cells[:4], cells[6], "-" if mine is None else f"{mine:.1f}"])
    return harness.render_table(FLOOR_HEADER, lines)


class _FreshUserAPIClient(APIClient):
    """Authenticates every request with the user read afresh, one query, as a token lookup would.

    Reusing one in-memory user would let per-user caches (group names) leak
    from one request into the next and hide queries a real client causes.
    """

    def __init__(self, user: User) -> None:
        super().__init__()
        self.raise_request_exception = False
        self._user_pk = user.pk

    def request(self, **kwargs):
        self.force_authenticate(User.objects.get(pk=self._user_pk))
        return super().request(**kwargs)


def _api_client(user: User) -> APIClient:
    return _FreshUserAPIClient(user)


def _sample_references(count: int) -> list[str]:
    """A few references spread over the table (older and newer tickets, different thread lengths)."""
    tickets = Ticket.objects.exclude(reference__isnull=True).exclude(subject__startswith=BENCH_SUBJECT_PREFIX)
    total = tickets.count()
    if not total:
        return []
    step = max(1, total // count)
    ordered = tickets.order_by("pk").values_list("reference", flat=True)
    return cast("list[str]", [ordered[i] for i in range(0, total, step)][:count])  # (null references excluded)


def bench_people_ensure() -> tuple[User, User]:
    customer, _ = account_demo.user_ensure(BENCH_CUSTOMER, password=None)
    agent, _ = account_demo.user_ensure(BENCH_AGENT, password=None)
    return customer, agent


def bench_data_ensure(
    *, tickets: int, customer: User, agent: User, now, write: Callable[[str], object], load_limit: int | None = None
) -> int:
    """Top the desk up to ``tickets`` tickets, ~200 the bench customer's; return how many were added.

    On PostgreSQL with ``load_limit``, the bulk loader writes at most that many and the rest are
    copies of them made in SQL (bench.copying), with their messages and timelines.
    """
    leftovers = Ticket.objects.filter(requester=customer, subject__startswith=BENCH_SUBJECT_PREFIX)
    removed = leftovers.count()
    if removed:
        leftovers.delete()
        write(f"Removed {removed} tickets filed by the previous run's creation benchmark.")
    have = Ticket.objects.count()
    missing = tickets - have
    if missing <= 0:
        write(f"The bench database already holds {have} tickets.")
        return 0
    if connection.vendor == "postgresql" and load_limit is not None and tickets > load_limit:
        loaded = bench_data_ensure(tickets=load_limit, customer=customer, agent=agent, now=now, write=write)
        copied = tickets_copy(tickets=tickets, exclude_requester_id=customer.pk, write=write)
        _analyze()
        return loaded + copied
    own = Ticket.objects.filter(requester=customer).count()
    for_customer = min(missing, max(0, BENCH_CUSTOMER_TICKETS - own))
    write(f"Loading {missing} tickets ({have} present, {tickets} wanted)...")
    started = time.perf_counter()
    with tqdm(total=missing, unit="tickets", file=sys.stderr, disable=None) as bar:
        if for_customer:
            demo.load_tickets_create(
                for_customer, customers=[customer], agents=[agent], now=now, seed=have, on_batch=bar.update
            )
        rest = missing - for_customer
        if rest:
            customers = account_demo.load_customers_ensure(load_customer_count(rest))
            demo.load_tickets_create(
                rest, customers=customers, agents=[agent], now=now, seed=have + 1, on_batch=bar.update
            )
    write(f"Loaded {missing} tickets in {time.perf_counter() - started:.1f} s.")
    _analyze()
    return missing


def _analyze() -> None:
    if connection.vendor == "postgresql":
        # What autovacuum would do some minutes later: plans made for an empty table are not what a desk sees.
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")


class Command(OwnDatabaseCommand):
    help = "Benchmark the queue, the API, the portal and ticket creation on a large desk (never the dev DB)."
    child_options = ("tickets", "repeat", "load_limit")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--tickets", type=int, default=100_000, help="tickets in the bench database")
        parser.add_argument("--repeat", type=int, default=30, help="timed requests per endpoint")
        parser.add_argument(
            "--load-limit",
            type=int,
            default=100_000,
            help="PostgreSQL: bulk-load at most this many tickets, copy them in SQL beyond it",
        )
        super().add_arguments(parser)

    def handle(self, *args, **options) -> None:
        if options["tickets"] < 0 or options["repeat"] < 1 or options["load_limit"] < 1:
            raise CommandError("--tickets must be zero or more, --repeat and --load-limit at least 1.")
        if self.rerun_elsewhere(options):
            return
        self._run(tickets=options["tickets"], repeat=options["repeat"], load_limit=options["load_limit"])

    def _run(self, *, tickets: int, repeat: int, load_limit: int) -> None:
        call_command("migrate", interactive=False, verbosity=0)
        now = timezone.now()
        customer, agent = bench_people_ensure()
        bench_data_ensure(
            tickets=tickets, customer=customer, agent=agent, now=now, write=self.stdout.write, load_limit=load_limit
        )
        total = Ticket.objects.count()
        self.stdout.write(
            f"Measuring with {total} tickets, {repeat} timed requests per endpoint "
            f"({WARM_UP} warm-ups), {repeat * 10} creations..."
        )
        rows = measure(customer=customer, agent=agent, repeat=repeat)
        self.stdout.write("")
        self.stdout.write(render_table(rows))
        met = sum(row.met for row in rows)
        self.stdout.write("")
        self.stdout.write(f"{met} of {len(rows)} targets met.")
        self.stdout.write("")
        self.stdout.write("The same pages and creation from Django's and DRF's stock parts, none of the desk's code:")
        self.stdout.write(render_floor(measure_floor(customer=customer, agent=agent, repeat=repeat), rows))
