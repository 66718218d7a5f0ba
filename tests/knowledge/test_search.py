"""Search: ranking, stemming and typos on PostgreSQL; the FTS5 fallback on SQLite; snippets escaped."""

from __future__ import annotations

import pytest
from django.db import connection

from knowledge import search, services
from knowledge.models import Article
from tests.knowledge.factories import T0, ArticleFactory

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
