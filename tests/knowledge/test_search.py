"""Search: ranking, stemming and typos on PostgreSQL; the FTS5 fallback on SQLite; snippets escaped."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from knowledge import search, services
from knowledge.models import Article
from tests.knowledge.factories import T0, ArticleFactory, RunbookFactory

pytestmark = pytest.mark.django_db

on_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="PostgreSQL full-text search (stemming, ts_rank, pg_trgm typos); CI runs the suite on PostgreSQL",
)
on_sqlite = pytest.mark.skipif(connection.vendor != "sqlite", reason="the SQLite FTS5 fallback; runs on SQLite only")


def slugs(results):
    return [r.article.slug for r in results]


@pytest.fixture
def corpus():
    return {
        "title": ArticleFactory(title="Quokka refund rules", body="How money comes back.", slug="in-title"),
        "tags": ArticleFactory(title="Money back", body="How money comes back.", tags=["quokka"], slug="in-tags"),
        "body": ArticleFactory(title="Other things", body="Somewhere a quokka is mentioned.", slug="in-body"),
        "none": ArticleFactory(title="Unrelated", body="Nothing to see.", slug="unrelated"),
    }


class TestRankingOnBothDatabases:
    def test_title_beats_tags_beats_body(self, corpus, customer):
        assert slugs(search.article_search(user=customer, q="quokka")) == ["in-title", "in-tags", "in-body"]

    def test_words_after_angle_brackets_are_still_indexed(self, customer):
        ArticleFactory(body="If quoll < depth, the wombat size fits > most sofas.", slug="brackets")
        assert slugs(search.article_search(user=customer, q="wombat")) == ["brackets"]
        assert slugs(search.article_search(user=customer, q="sofas quoll")) == ["brackets"]

    def test_snippets_mark_the_match_and_escape_the_text(self, customer):
        ArticleFactory(body="Use `<script>` never; the wombat <b>knows</b>.", slug="snip")
        [result] = search.article_search(user=customer, q="wombat")
        assert "<mark>wombat</mark>" in result.snippet
        assert "<script>" not in result.snippet
        assert "<b>" not in result.snippet

    def test_all_words_are_required_by_default_and_any_word_for_suggestions(self, customer):
        ArticleFactory(title="Platypus wibblers", slug="both")
        ArticleFactory(title="Platypus only", slug="one")
        assert slugs(search.article_search(user=customer, q="platypus wibblers")) == ["both"]
        assert slugs(search.article_search(user=customer, q="platypus wibblers", match="any"))[0] == "both"
        assert set(slugs(search.article_search(user=customer, q="platypus wibblers", match="any"))) == {"both", "one"}

    def test_operators_in_the_query_are_just_words(self, customer):
        ArticleFactory(title="Echidna covers", slug="echidna")
        for q in [
            'echidna"',
            "echidna OR",
            "echidna*",
            "echidna AND",
            "echidna NOT",
            "echidna -",
            "echidna:",
            "{echidna}",
            "(echidna",
        ]:
            assert slugs(search.article_search(user=customer, q=q)) == ["echidna"], q

    def test_the_index_follows_edits(self, agent, customer):
        article = ArticleFactory(title="Wallaby", slug="wallaby")
        services.article_update(article=article, actor=agent, now=T0, title="Kangaroo")
        assert slugs(search.article_search(user=customer, q="wallaby")) == []
        assert slugs(search.article_search(user=customer, q="kangaroo")) == ["wallaby"]

    def test_deleted_articles_leave_the_index(self, customer):
        article = ArticleFactory(title="Numbat", slug="numbat")
        services.article_delete(article=article)
        assert search.article_search(user=customer, q="numbat") == []

    def test_filters_narrow_by_category(self, customer):
        ArticleFactory(title="Bilby payment", category=Article.Category.PAYMENT, slug="bilby-pay")
        ArticleFactory(title="Bilby orders", category=Article.Category.ORDERS, slug="bilby-orders")
        assert slugs(search.article_search(user=customer, q="bilby", category="payment")) == ["bilby-pay"]

    def test_an_empty_or_wordless_query_finds_nothing(self, customer):
        assert search.article_search(user=customer, q="") == []
        assert search.article_search(user=customer, q="  ?! ") == []

    def test_the_seeded_faqs_are_searchable(self, customer):
        assert "how-refunds-work" in slugs(search.article_search(user=customer, q="refund"))


@on_postgresql
class TestPostgreSQL:
    def test_stemming_refunds_finds_refund(self, customer):
        ArticleFactory(title="Getting your money", body="We refund within 5 days.", slug="stem")
        assert "stem" in slugs(search.article_search(user=customer, q="refunds"))
        assert "stem" in slugs(search.article_search(user=customer, q="refunding"))

    def test_a_typo_finds_the_title_by_trigram_similarity(self, customer):
        ArticleFactory(title="Measuring your sectional sofa", slug="typo")
        assert slugs(search.article_search(user=customer, q="sectonal"))[:1] == ["typo"]

    def test_websearch_syntax_quoted_phrases_and_exclusions(self, customer):
        ArticleFactory(title="Velvet cover care", body="Steam gently.", slug="velvet-care")
        ArticleFactory(title="Velvet cover sizes", body="Measure first.", slug="velvet-sizes")
        assert slugs(search.article_search(user=customer, q="velvet -sizes")) == ["velvet-care"]
        assert slugs(search.article_search(user=customer, q='"steam gently"')) == ["velvet-care"]
        assert slugs(search.article_search(user=customer, q='"gently steam"')) == []

    def test_the_search_vector_is_stored_and_indexed(self):
        article = ArticleFactory(title="Dingo")
        article.refresh_from_db()
        assert "dingo" in str(article.search_vector)
        with connection.cursor() as cursor:
            cursor.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'knowledge_article'")
            names = {row[0] for row in cursor.fetchall()}
        assert {"article_search_vector_gin", "article_title_trgm_gin"} <= names

    def test_search_uses_the_gin_index(self):
        for n in range(200):
            ArticleFactory(title=f"Filler {n}", body="filler text")
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE knowledge_article")
            cursor.execute("SET enable_seqscan = off")
            cursor.execute(
                "EXPLAIN SELECT id FROM knowledge_article "
                "WHERE search_vector @@ websearch_to_tsquery('english', 'filler')"
            )
            plan = "\n".join(row[0] for row in cursor.fetchall())
            cursor.execute("SET enable_seqscan = on")
        assert "article_search_vector_gin" in plan


@on_sqlite
class TestSQLiteFallback:
    def test_uses_fts5_with_porter_stemming(self, customer):
        ArticleFactory(title="Getting your money", body="We refund within 5 days.", slug="stem")
        assert "stem" in slugs(search.article_search(user=customer, q="refunds"))

    def test_is_not_a_substring_match(self, customer):
        ArticleFactory(title="Catalogue", body="Our catalogue.", slug="catalogue")
        assert search.article_search(user=customer, q="cat") == []

    def test_the_fts5_table_mirrors_the_articles(self):
        article = ArticleFactory(title="Possum", tags=["marsupial"], body="Night **animal**.")
        with connection.cursor() as cursor:
            cursor.execute("SELECT title, tags, body FROM knowledge_article_fts WHERE rowid = %s", [article.pk])
            assert cursor.fetchone() == ("Possum", "marsupial", "Night animal.")

    def test_scores_are_higher_for_better_matches(self, corpus, customer):
        scores = [r.score for r in search.article_search(user=customer, q="quokka")]
        assert scores == sorted(scores, reverse=True)
        assert scores[0] > scores[-1]

    def test_reindex_all_rebuilds_the_table(self, customer):
        ArticleFactory(title="Bandicoot", slug="bandicoot")
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM knowledge_article_fts")
        assert search.article_search(user=customer, q="bandicoot") == []
        search.reindex_all()
        assert slugs(search.article_search(user=customer, q="bandicoot")) == ["bandicoot"]


def _helpful(slug: str, yes: int) -> None:
    Article.objects.filter(slug=slug).update(helpful_yes=yes)


@on_postgresql
class TestPostgreSQLBoundedRanking:
    """ts_rank runs over the most helpful matches (CANDIDATES per pool), never over every match."""

    def test_when_more_articles_match_only_the_most_helpful_are_ranked(self, monkeypatch, customer):
        monkeypatch.setattr(search, "CANDIDATES", 2)
        for n in range(4):
            body = "The wombat sleeps." if n >= 2 else "Wombat, wombat and wombat again."
            ArticleFactory(title=f"Note {n}", body=body, slug=f"wombat-{n}")
            _helpful(f"wombat-{n}", n)
        # Ranked over all four, the wordier (less helpful) notes would win.
        assert slugs(search.article_search(user=customer, q="wombat", limit=2)) == ["wombat-3", "wombat-2"]

    def test_a_title_match_is_ranked_however_unhelpful(self, monkeypatch, customer):
        monkeypatch.setattr(search, "CANDIDATES", 2)
        for n in range(3):
            ArticleFactory(title=f"Note {n}", body="The wombat sleeps.", slug=f"body-{n}")
            _helpful(f"body-{n}", 10 + n)
        ArticleFactory(title="Wombat burrows", body="Deep ones.", slug="in-title")

        found = slugs(search.article_search(user=customer, q="wombat", limit=3))
        assert found == ["in-title", "body-2", "body-1"]

    def test_a_tag_match_is_ranked_however_unhelpful(self, monkeypatch, customer):
        monkeypatch.setattr(search, "CANDIDATES", 1)
        ArticleFactory(title="Note", body="The wombat sleeps.", slug="in-body")
        _helpful("in-body", 10)
        ArticleFactory(title="Burrows", body="Deep ones.", tags=["wombat"], slug="in-tags")

        assert slugs(search.article_search(user=customer, q="wombat", limit=1)) == ["in-tags"]

    def test_hidden_articles_never_take_a_customers_candidate_place(self, monkeypatch, customer):
        monkeypatch.setattr(search, "CANDIDATES", 1)
        for n in range(2):
            RunbookFactory(title=f"Runbook {n}", body="Wombat steps.", slug=f"runbook-{n}")
            _helpful(f"runbook-{n}", 100)
        ArticleFactory(title="Note", body="The wombat sleeps.", slug="public")

        assert slugs(search.article_search(user=customer, q="wombat", limit=1)) == ["public"]

    def test_suggestions_rank_the_bounded_candidates_too(self, monkeypatch, customer):
        monkeypatch.setattr(search, "CANDIDATES", 1)
        ArticleFactory(title="Note", body="The wombat sleeps.", slug="helpful")
        _helpful("helpful", 5)
        ArticleFactory(title="Other", body="A numbat digs. The numbat and the wombat.", slug="wordier")

        found = slugs(search.article_search(user=customer, q="wombat numbat", match="any", limit=1))
        assert found == ["helpful"]

    def test_the_search_vector_stays_in_the_row(self):
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT attstorage FROM pg_attribute "
                "WHERE attrelid = 'knowledge_article'::regclass AND attname = 'search_vector'"
            )
            assert cursor.fetchone() == ("m",)

    def test_the_title_and_tags_vector_has_no_body_words(self, agent):
        article = ArticleFactory(title="Quokka", tags=["marsupial"], body="A dingo.")
        services.article_update(article=article, actor=agent, now=T0, title="Bilby", tags=["nocturnal"])
        article.refresh_from_db()
        lexemes = {entry.split(":")[0].strip("'") for entry in str(article.title_tags_vector).split()}
        assert lexemes == {"bilbi", "nocturn"}
        assert "dingo" in str(article.search_vector)

    def test_reindex_all_fills_both_vectors(self):
        article = ArticleFactory(title="Possum")
        Article.objects.filter(pk=article.pk).update(search_vector=None, title_tags_vector=None)
        search.reindex_all()
        article.refresh_from_db()
        assert "possum" in str(article.search_vector)
        assert "possum" in str(article.title_tags_vector)


class TestOnlyThePageShownIsRead:
    @pytest.fixture
    def fetched(self, monkeypatch):
        sizes = []
        real = search._fetched

        def spy(articles, hits, **annotations):
            sizes.append(len(hits))
            return real(articles, hits, **annotations)

        monkeypatch.setattr(search, "_fetched", spy)
        return sizes

    def test_the_api_reads_and_highlights_one_page_of_the_hits(self, fetched, customer, api_client_for):
        for n in range(5):
            ArticleFactory(title=f"Wombat {n}", body="The wombat sleeps.", slug=f"wombat-{n}")

        body = api_client_for(customer).get("/api/v1/articles/?q=wombat&page_size=2&page=2").json()

        assert body["count"] == 5
        assert [row["slug"] for row in body["results"]] == ["wombat-2", "wombat-3"]
        assert all("<mark>wombat</mark>" in row["snippet"].lower() for row in body["results"])
        assert fetched == [2]

    def test_results_read_lazily_keep_the_hit_order_and_skip_vanished_articles(self, fetched, customer):
        for n in range(3):
            ArticleFactory(title=f"Wombat {n}", body="The wombat sleeps.", slug=f"wombat-{n}")
        visible = search.selectors.article_list_visible_to(user=customer)
        results = search.search_within(visible, "wombat")
        assert len(results) == 3
        assert fetched == []

        Article.objects.filter(slug="wombat-1").delete()

        assert [r.article.slug for r in results[0:3]] == ["wombat-0", "wombat-2"]
        assert results[1:2] == []
        assert results[0].article.slug == "wombat-0"
        assert search.search_within(visible, "  ") == search.NO_RESULTS
        assert len(search.NO_RESULTS) == 0


@on_sqlite
class TestSQLiteQueryPlan:
    def test_the_visible_ids_filter_the_matches_instead_of_driving_them(self, customer):
        ArticleFactory(title="Quokka", slug="quokka")
        with CaptureQueriesContext(connection) as queries:
            search.article_search(user=customer, q="quokka")
        [rank_sql] = [q["sql"] for q in queries.captured_queries if "bm25(" in q["sql"]]
        with connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN QUERY PLAN {rank_sql}")
            plan = " | ".join(str(row[-1]) for row in cursor.fetchall())
        # ":=" would be a rowid lookup in the FTS index: one MATCH run per visible article.
        assert "knowledge_article_fts VIRTUAL TABLE INDEX 0:M" in plan, plan


@on_postgresql
class TestPostgreSQLWordsAndVisibility:
    """Every search runs with its own words and the asker's visibility and filters."""

    def test_each_search_finds_its_own_words(self, customer):
        ArticleFactory(title="Wombat burrows", slug="wombat")
        ArticleFactory(title="Numbat termites", slug="numbat")

        assert slugs(search.article_search(user=customer, q="wombat")) == ["wombat"]
        assert slugs(search.article_search(user=customer, q="numbat")) == ["numbat"]
        assert slugs(search.article_search(user=customer, q="bilby")) == []

    def test_who_asks_and_the_filters_narrow_the_results(self, agent, customer):
        RunbookFactory(title="Wombat runbook", slug="runbook")
        ArticleFactory(title="Wombat payment", category=Article.Category.PAYMENT, slug="payment")
        ArticleFactory(title="Wombat order", category=Article.Category.ORDERS, slug="order")

        assert set(slugs(search.article_search(user=agent, q="wombat"))) == {"runbook", "payment", "order"}
        assert set(slugs(search.article_search(user=customer, q="wombat"))) == {"payment", "order"}
        assert slugs(search.article_search(user=customer, q="wombat", category="payment")) == ["payment"]
        assert slugs(search.article_search(user=customer, q="wombat", category="orders")) == ["order"]

    def test_any_word_queries_take_each_of_their_words(self, customer):
        ArticleFactory(title="Wombat burrows", slug="wombat")
        ArticleFactory(title="Numbat termites", slug="numbat")

        found = search.article_search(user=customer, q="wombat numbat", match="any")
        assert set(slugs(found)) == {"wombat", "numbat"}
        assert slugs(search.article_search(user=customer, q="quoll numbat", match="any")) == ["numbat"]
