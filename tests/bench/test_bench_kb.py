"""``manage.py bench_kb``: the bulk loader, the measuring part, and never touching the developer's database."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from bench import articles
from bench.management.commands import bench_kb
from knowledge import search
from knowledge.models import Article, ArticleRevision
from tests.knowledge.factories import T0

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = StringIO()
    call_command("bench_kb", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


class TestBulkLoad:
    def test_tops_up_to_the_wanted_count_once(self):
        write = StringIO().write
        have = Article.objects.count()

        assert bench_kb.bench_articles_ensure(articles=have + 40, now=T0, write=write) == 40
        assert bench_kb.bench_articles_ensure(articles=have + 40, now=T0, write=write) == 0
        assert Article.objects.count() == have + 40

    def test_loads_articles_as_the_services_would_save_them(self, customer, agent):
        before = set(Article.objects.values_list("pk", flat=True))
        articles.articles_bulk_load(count=60, now=T0, start=1000)
        loaded = Article.objects.exclude(pk__in=before).prefetch_related("tags")

        assert loaded.count() == 60
        assert {a.audience for a in loaded} == {"public", "internal"}
        for article in loaded:
            assert article.body_html.startswith("<p>")
            assert article.body_text
            assert "<p>" not in article.body_text
            assert article.tag_text == " ".join(sorted(tag.name for tag in article.tags.all()))
            assert (article.published_at is not None) == (article.status == Article.Status.PUBLISHED)
        assert ArticleRevision.objects.filter(article__in=loaded, number=1).count() == 60
        # Indexed: found by search, and the runbooks stay the agents'.
        seen_by_customer = search.article_search(user=customer, q="cover", limit=100)
        assert seen_by_customer
        assert all(r.article.is_public for r in seen_by_customer)
        assert any(not r.article.is_public for r in search.article_search(user=agent, q="cover", limit=100))

    def test_the_same_numbers_give_the_same_articles(self):
        first = [a.title for a in articles.load_articles_build(5, now=T0, start=7)]
        again = [a.title for a in articles.load_articles_build(5, now=T0, start=7)]
        assert first == again
        assert [a.title for a in articles.load_articles_build(3, now=T0, start=9)] == first[2:]


class TestMeasure:
    def test_measures_search_article_pages_and_suggestions_with_numbers(self, customer, agent):
        bench_kb.bench_articles_ensure(articles=50, now=T0, write=StringIO().write)

        rows = bench_kb.measure(customer=customer, agent=agent, repeat=2)

        searches = len(bench_kb.SEARCHES) * 2 + 2 + 2  # API, portal page, search function
        assert len(rows) == searches + 1 + 2 + 3  # searches, home, article pages, suggestions
        for row in rows:
            assert row.error == "", (row.what, row.who)
            assert 0 < row.p50_ms <= row.p95_ms
            assert 0 < row.queries[0] <= row.queries[1]
        assert all(row.target == bench_kb.SEARCH_TARGET for row in rows[:searches])
        assert {row.who for row in rows} == {"customer", "agent"}
        lines = bench_kb.render_table(rows).splitlines()
        assert [cell.strip() for cell in lines[0].split("|")] == bench_kb.HEADER
        for line, row in zip(lines[2:], rows, strict=True):
            cells = [cell.strip() for cell in line.split("|")]
            assert cells[:2] == [row.what, row.who]
            float(cells[2])
            assert 0 <= float(cells[4]) <= float(cells[3])
            assert cells[7] in {"yes", "no", "n/a"}

    def test_the_search_target_counts_on_postgresql_only(self, settings):
        row = bench_kb.Row("search", "customer", target=bench_kb.SEARCH_TARGET, p50_ms=12, p95_ms=20, queries=(5, 5))
        slow = bench_kb.Row("search", "agent", target=bench_kb.SEARCH_TARGET, p50_ms=45, p95_ms=50, queries=(5, 5))
        page = bench_kb.Row("article page", "agent", p50_ms=45, p95_ms=50, queries=(7, 8))
        if connection.vendor == "postgresql":
            assert (row.met, slow.met) == ("yes", "no")
        else:
            assert (row.met, slow.met) == ("n/a", "n/a")
        assert page.met == "no"
        assert page.cells()[5] == "7-8"
        if connection.vendor == "postgresql":
            assert bench_kb.summary([row, slow, page]) == "1 of 3 targets met."
        else:
            assert bench_kb.summary([row, slow, page]) == (
                "0 of 1 targets met. (2 search targets are for PostgreSQL only.)"
            )

    def test_a_failing_request_is_reported_not_raised(self):
        def boom(n):
            raise RuntimeError("down")

        row = bench_kb.timed(bench_kb.Row("x", "customer"), boom, repeat=2)
        assert row.error == "error: RuntimeError"
        assert row.cells()[2] == "error: RuntimeError"
        assert row.met == "no"


class TestCommand:
    def test_runs_end_to_end_on_a_tiny_help_centre(self, monkeypatch):
        monkeypatch.setenv("DATABASE_URL", "set-by-the-test")
        monkeypatch.setenv(bench_kb.Command.child_env, "1")

        out = run("--articles", "50", "--repeat", "1")

        assert Article.objects.count() == 50
        assert "Measuring with 50 articles" in out
        assert "API search, common word ('cover')" in out
        assert "targets met." in out

    @pytest.mark.parametrize("args", [["--articles", "-1"], ["--repeat", "0"]])
    def test_refuses_nonsense_numbers(self, args):
        with pytest.raises(CommandError):
            run(*args)
