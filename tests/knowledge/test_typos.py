"""The typo fallback: when the words as spelled find nothing, the closest title and tag words are searched
instead, on SQLite (difflib over a cached vocabulary) and on PostgreSQL (pg_trgm similarity); the portal says
which words it searched. Never a word a customer may not see."""

from __future__ import annotations

import pytest
from django.db import connection
from django.urls import reverse

from knowledge import search
from knowledge.models import Article
from tests.knowledge.factories import ArticleFactory, RunbookFactory

pytestmark = pytest.mark.django_db

on_postgresql = pytest.mark.skipif(connection.vendor != "postgresql", reason="pg_trgm; CI runs the suite on PostgreSQL")
on_sqlite = pytest.mark.skipif(connection.vendor != "sqlite", reason="the SQLite vocabulary; runs on SQLite only")

TYPOS = [
    ("refnd", "refund", "refund-howto"),
    ("refnud", "refund", "refund-howto"),
    ("delivry", "delivery", "delivery-times"),
    ("pasword", "password", "password-reset"),
]


@pytest.fixture
def articles():
    Article.objects.all().delete()  # the seeded help centre: these tests name their own articles
    search.reindex_all()
    ArticleFactory(title="Getting your money back", slug="refund-howto", tags=["refund"], body="Ask within 30 days.")
    ArticleFactory(
        title="How long does delivery take?", slug="delivery-times", category=Article.Category.ORDERS, body="Days."
    )
    ArticleFactory(title="Reset your password", slug="password-reset", body="Use the link on the sign-in page.")
    ArticleFactory(title="Washing a sofa cover", slug="washing", body="At 30 degrees.")


def slugs(results) -> list[str]:
    return [result.article.slug for result in results]


class TestTyposOnBothDatabases:
    @pytest.mark.parametrize(("typo", "word", "slug"), TYPOS)
    def test_a_typo_finds_the_article_and_says_what_it_searched(self, articles, customer, typo, word, slug):
        results = search.article_search_results(user=customer, q=typo, published_only=True)

        assert slugs(results)[:1] == [slug]
        assert results.corrected == word

    @pytest.mark.parametrize(("typo", "word", "slug"), TYPOS)
    def test_the_typo_with_a_correct_word_corrects_only_the_typo(self, articles, customer, typo, word, slug):
        results = search.article_search_results(user=customer, q=f"{typo} {word}", match="any")

        assert slugs(results)[:1] == [slug]

    def test_words_found_as_spelled_are_not_corrected(self, articles, customer):
        results = search.article_search_results(user=customer, q="refund")

        assert slugs(results) == ["refund-howto"]
        assert results.corrected == ""

    def test_nonsense_stays_nothing(self, articles, customer):
        results = search.article_search_results(user=customer, q="xylophone")

        assert len(results) == 0
        assert results.corrected == ""

    def test_a_customer_is_never_offered_a_runbook_word(self, articles, customer, agent):
        RunbookFactory(title="Zorblax supplier escalation", slug="zorblax", tags=["zorblax"])

        as_customer = search.article_search_results(user=customer, q="zorblx")
        as_agent = search.article_search_results(user=agent, q="zorblx")

        assert (len(as_customer), as_customer.corrected) == (0, "")
        assert (slugs(as_agent), as_agent.corrected) == (["zorblax"], "zorblax")

    def test_a_draft_title_is_not_offered_on_the_portal(self, articles, customer):
        ArticleFactory(title="Quibbleton draft", slug="quib", status=Article.Status.DRAFT)

        results = search.article_search_results(user=customer, q="quiblleton", published_only=True)

        assert (len(results), results.corrected) == (0, "")


class TestThePortalPage:
    @pytest.mark.parametrize(("typo", "word", "slug"), TYPOS)
    def test_did_you_mean_and_showing_results_for(self, articles, client, typo, word, slug):
        html = client.get(reverse("kb:search"), {"q": typo}).content.decode()

        assert f"No articles matched “{typo}”." in html
        assert f'Did you mean <a href="/kb/search/?q={word}">{word}</a>?' in html
        assert f"Showing 1 result for “{word}”" in html
        assert f'href="/kb/{slug}/"' in html

    def test_nothing_matched_is_a_paragraph_not_a_numbered_item(self, articles, client):
        html = client.get(reverse("kb:search"), {"q": "xylophone"}).content.decode()

        assert "0 results for “xylophone”" in html
        assert '<p class="kb-empty">Nothing matched.' in html
        assert '<ol class="kb-results">' not in html
        assert "Did you mean" not in html

    def test_a_search_found_as_spelled_has_no_correction(self, articles, client):
        html = client.get(reverse("kb:search"), {"q": "delivery"}).content.decode()

        assert "1 result for “delivery”" in html
        assert "Did you mean" not in html


@on_postgresql
class TestPostgreSQL:
    def test_corrections_come_from_pg_trgm_similarity(self, articles, customer):
        vocabulary = search._scoped(customer, None, None, True)

        corrected = search._pg_corrections(vocabulary, ["refnud", "delivry", "password", "xylophone"])

        assert corrected == {"refnud": "refund", "delivry": "delivery", "password": "password"}

    def test_the_fallback_is_a_bounded_number_of_statements(self, articles, customer, django_assert_max_num_queries):
        # As spelled (ranking), the corrections (one statement), the corrected words (ranking), the articles
        # and their tags.
        with django_assert_max_num_queries(5):
            assert slugs(search.article_search(user=customer, q="refnud")) == ["refund-howto"]


@on_sqlite
class TestSQLiteVocabulary:
    def test_the_vocabulary_is_read_once_then_cached(self, articles, customer, django_assert_num_queries):
        search.article_search(user=customer, q="refnud")
        # As spelled (FTS5), the vocabulary's stamp (count, last edit), the corrected words, the articles and
        # their tags; the title and tag words come from the cache.
        with django_assert_num_queries(5):
            assert slugs(search.article_search(user=customer, q="delivry")) == ["delivery-times"]

    def test_a_new_article_is_in_the_vocabulary_at_once(self, articles, customer):
        search.article_search(user=customer, q="refnud")
        ArticleFactory(title="Cushion stuffing", slug="stuffing")

        assert slugs(search.article_search(user=customer, q="stufing")) == ["stuffing"]
