"""``manage.py bench_kb``: knowledge-base search, home, article page and suggestions against a big help centre.

Like ``manage.py bench`` it never touches the developer's database: without
DATABASE_URL it runs itself again in a child process whose DATABASE_URL points
at a separate SQLite file (var/bench_kb.sqlite3 by default). With DATABASE_URL
set (PostgreSQL, say) it uses that database as given and says so.

The child migrates, tops the help centre up to --articles articles with the
bulk loader (bench/articles.py: realistic FAQs and runbooks, rendered, tagged,
indexed), refreshes the planner statistics, then times each request in process
with the Django test client: warm-ups, then --repeat timed requests. Searches
cover words in most articles, words in a few, a stemmed word and a typo, as a
customer (published public articles only) and as an agent (everything).
Not a test: the numbers depend on the machine.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from urllib.parse import urlencode

from django.core.management import call_command
from django.core.management.base import CommandError, CommandParser
from django.db import connection
from django.http import HttpResponseBase
from django.test import Client
from django.test.utils import override_settings
from django.utils import timezone
from tqdm import tqdm

from bench import harness
from bench.articles import articles_bulk_load
from bench.harness import OwnDatabaseCommand
from bench.management.commands.bench import bench_people_ensure
from knowledge import search
from knowledge.models import Article

WARM_UP = 3
SEARCH_TARGET_MS = 30.0
SEARCH_TARGET = f"p50 < {SEARCH_TARGET_MS:.0f} ms on PostgreSQL"
# (label, q): from words in nearly every article to words in a handful, a stemmed word and a typo.
SEARCHES = [
    ("common word", "cover"),
    ("common words", "sofa cover delivery"),
    ("stemmed", "refunds"),
    ("rare word", "chesterfield"),
    ("typo", "chesterfeild"),
]
# Draft ticket subjects, as a customer types them: many words, most of them common.
SUBJECTS = [
    "My sofa cover arrived damaged and I want a refund",
    "Payment declined with Apple Pay",
    "cover does not fit my corner sofa",
    "where is my order",
    "How do I wash a velvet cushion cover?",
]
SAMPLE_ARTICLES = 10
PORTAL_RESULTS = 20  # what the help centre's search page shows


@dataclass
class Row:
    """One measured request; ``error`` instead of timings when it failed."""

    what: str
    who: str
    target: str = "queries constant"
    p50_ms: float = 0.0
    p95_ms: float = 0.0
    # Time inside the queries (driver round trips included): separates the database from Python and rendering.
    db_p50_ms: float = 0.0
    queries: tuple[int, int] = (0, 0)  # min, max over the timed requests
    error: str = ""

    @property
    def met(self) -> str:
        if self.error:
            return "no"
        constant = self.queries[0] == self.queries[1]
        if self.target != SEARCH_TARGET:
            return "yes" if constant else "no"
        if connection.vendor != "postgresql":
            return "n/a"
        return "yes" if constant and self.p50_ms < SEARCH_TARGET_MS else "no"

    def cells(self) -> list[str]:
        if self.error:
            return [self.what, self.who, self.error, "-", "-", "-", self.target, "no"]
        low, high = self.queries
        return [
            self.what,
            self.who,
            f"{self.p50_ms:.1f}",
            f"{self.p95_ms:.1f}",
            f"{self.db_p50_ms:.1f}",
            str(low) if low == high else f"{low}-{high}",
            self.target,
            self.met,
        ]


HEADER = ["measure", "as", "p50 ms", "p95 ms", "db p50 ms", "queries", "target", "met?"]


def render_table(rows: Sequence[Row]) -> str:
    return harness.render_table(HEADER, [row.cells() for row in rows])


def summary(rows: Sequence[Row]) -> str:
    judged = [row for row in rows if row.met != "n/a"]
    line = f"{sum(row.met == 'yes' for row in judged)} of {len(judged)} targets met."
    if len(judged) < len(rows):
        line += f" ({len(rows) - len(judged)} search targets are for PostgreSQL only.)"
    return line


def timed(row: Row, request: Callable[[int], object], repeat: int) -> Row:
    """Warm up, then time ``repeat`` calls into ``row``; stop at the first non-2xx response or exception."""
    harness.timed_into(row, request, repeat=repeat, warm_up=WARM_UP)
    return row


def bench_articles_ensure(*, articles: int, now, write: Callable[[str], object]) -> int:
    """Top the help centre up to ``articles`` articles; return how many were added."""
    have = Article.objects.count()
    missing = articles - have
    if missing <= 0:
        write(f"The bench database already holds {have} articles.")
        return 0
    write(f"Loading {missing} articles ({have} present, {articles} wanted)...")
    started = time.perf_counter()
    with tqdm(total=missing, unit="articles", file=sys.stderr, disable=None) as bar:
        articles_bulk_load(count=missing, now=now, start=have, on_batch=bar.update)
    table = Article._meta.db_table
    with connection.cursor() as cursor:
        # The state autovacuum would soon leave: planner statistics, and on PostgreSQL the GIN
        # indexes' pending entries merged (VACUUM cannot run inside a transaction, e.g. in tests).
        vacuum = connection.vendor == "postgresql" and not connection.in_atomic_block
        cursor.execute(f"{'VACUUM ' if vacuum else ''}ANALYZE {table}")
    write(f"Loaded {missing} articles in {time.perf_counter() - started:.1f} s.")
    return missing


def _sample_slugs(articles, count: int) -> list[str]:
    slugs = list(articles.order_by("pk").values_list("slug", flat=True))
    step = max(1, len(slugs) // count)
    return slugs[::step][:count]


def _portal_search(n: int, *, user, q: str) -> list[search.SearchResult]:
    return search.article_search(user=user, q=q, limit=PORTAL_RESULTS, published_only=True)


def measure(*, customer, agent, repeat: int) -> list[Row]:
    """Time every KB request against the current database."""
    if repeat < 1:
        raise ValueError("repeat must be at least 1")
    published = Article.objects.filter(status=Article.Status.PUBLISHED)
    public = _sample_slugs(published.filter(audience=Article.Audience.PUBLIC), SAMPLE_ARTICLES)
    runbooks = _sample_slugs(published.filter(audience=Article.Audience.INTERNAL), SAMPLE_ARTICLES)
    overrides = override_settings(ALLOWED_HOSTS=["*"], SECURE_SSL_REDIRECT=False, DEBUG=False)
    rows: list[Row] = []
    with overrides:
        clients = {}
        for who, user in (("customer", customer), ("agent", agent)):
            clients[who] = Client(raise_request_exception=False)
            clients[who].force_login(user)

        def get(who: str, path: str, **params: str) -> Callable[[int], HttpResponseBase]:
            url = f"{path}?{urlencode(params)}" if params else path
            return lambda n: clients[who].get(url)

        def article_page(who: str, slugs: list[str]) -> Callable[[int], HttpResponseBase]:
            return lambda n: clients[who].get(f"/kb/{slugs[n % len(slugs)]}/")

        def suggest(who: str, path: str) -> Callable[[int], HttpResponseBase]:
            return lambda n: clients[who].get(path, {"q": SUBJECTS[n % len(SUBJECTS)]})

        for label, q in SEARCHES:
            for who in ("customer", "agent"):
                row = Row(f"API search, {label} ({q!r})", who, target=SEARCH_TARGET)
                rows.append(timed(row, get(who, "/api/v1/articles/", q=q), repeat))
        for who in ("customer", "agent"):
            row = Row("portal search page, common word", who, target=SEARCH_TARGET)
            rows.append(timed(row, get(who, "/kb/search/", q="cover"), repeat))
        for who, user in (("customer", customer), ("agent", agent)):
            # The search itself, as the portal calls it, without HTTP, templates or serializers.
            row = Row("search function, common words", who, target=SEARCH_TARGET)
            rows.append(timed(row, partial(_portal_search, user=user, q="sofa cover"), repeat))

        rows.append(timed(Row("help centre home", "customer"), get("customer", "/kb/"), repeat))
        for who, slugs in (("customer", public), ("agent", runbooks)):
            row = Row("article page", who)
            if not slugs:
                row.error = "no articles"
                rows.append(row)
                continue
            rows.append(timed(row, article_page(who, slugs), repeat))

        for who, path, what in (
            ("customer", "/kb/suggest/", "suggest while filing (portal)"),
            ("customer", "/api/v1/articles/suggest/", "API suggest"),
            ("agent", "/api/v1/articles/suggest/", "API suggest"),
        ):
            row = Row(what, who)
            rows.append(timed(row, suggest(who, path), repeat))
    return rows


class Command(OwnDatabaseCommand):
    help = "Benchmark knowledge-base search, article pages and suggestions on a big help centre (never the dev DB)."
    child_options = ("articles", "repeat")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--articles", type=int, default=10_000, help="articles in the bench database")
        parser.add_argument("--repeat", type=int, default=30, help="timed requests per measure")
        super().add_arguments(parser)

    def handle(self, *args, **options) -> None:
        if options["articles"] < 0 or options["repeat"] < 1:
            raise CommandError("--articles must be zero or more and --repeat at least 1.")
        if self.rerun_elsewhere(options):
            return
        self._run(articles=options["articles"], repeat=options["repeat"])

    def _run(self, *, articles: int, repeat: int) -> None:
        call_command("migrate", interactive=False, verbosity=0)
        customer, agent = bench_people_ensure()
        bench_articles_ensure(articles=articles, now=timezone.now(), write=self.stdout.write)
        visible = Article.objects.filter(status=Article.Status.PUBLISHED, audience=Article.Audience.PUBLIC).count()
        self.stdout.write(
            f"Measuring with {Article.objects.count()} articles ({visible} visible to customers), "
            f"{repeat} timed requests per measure ({WARM_UP} warm-ups)..."
        )
        rows = measure(customer=customer, agent=agent, repeat=repeat)
        self.stdout.write("")
        self.stdout.write(render_table(rows))
        self.stdout.write("")
        self.stdout.write(summary(rows))
