"""Reads of the knowledge base that rank: related articles."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from knowledge import selectors
from knowledge.models import Article
from tests.knowledge.factories import ArticleFactory, RunbookFactory

pytestmark = pytest.mark.django_db
Category = Article.Category


def make(slug: str, *, helpful: int = 0, **fields) -> Article:
    article = ArticleFactory(title=slug.replace("-", " ").title(), slug=slug, **fields)
    Article.objects.filter(pk=article.pk).update(helpful_yes=helpful)
    return article


@pytest.fixture
def shelf():
    """An article with two tags, and neighbours sharing two, one or no tags, in or out of its category."""
    article = make("the-article", category=Category.PAYMENT, tags=["refunds", "cards"])
    make("shares-both", category=Category.ORDERS, tags=["refunds", "cards"])
    make("shares-one-helpful", helpful=30, category=Category.ORDERS, tags=["cards"])
    make("shares-one", helpful=2, category=Category.OTHER, tags=["refunds"])
    make("same-category-helpful", helpful=50, category=Category.PAYMENT)
    make("same-category", helpful=5, category=Category.PAYMENT)
    make("unrelated", helpful=99, category=Category.OTHER, tags=["sizing"])
    return article


def related(user, article, limit=5):
    return [a.slug for a in selectors.article_list_related(user=user, article=article, limit=limit)]


class TestRelated:
    def test_most_shared_tags_first_then_most_helpful_then_the_same_category(self, shelf, customer):
        assert related(customer, shelf, limit=10)[:5] == [
            "shares-both",
            "shares-one-helpful",
            "shares-one",
            "same-category-helpful",
            "same-category",
        ]

    def test_the_limit_takes_the_best(self, shelf, customer):
        assert related(customer, shelf, limit=2) == ["shares-both", "shares-one-helpful"]
        assert related(customer, shelf, limit=4)[-1] == "same-category-helpful"

    def test_fills_from_the_category_when_few_share_a_tag(self, customer):
        article = make("lonely", category=Category.PAYMENT, tags=["rare-tag"])
        for n in range(7):
            make(f"payment-{n}", helpful=n, category=Category.PAYMENT)
        make("tag-mate", category=Category.OTHER, tags=["rare-tag"])

        assert related(customer, article) == ["tag-mate", "payment-6", "payment-5", "payment-4", "payment-3"]

    def test_an_article_without_tags_gets_its_category(self, customer):
        # No seeded FAQ is about the database: the category holds only what the test makes.
        article = make("untagged", category=Category.DATABASE)
        make("database-a", helpful=1, category=Category.DATABASE)
        make("database-b", helpful=2, category=Category.DATABASE)
        make("payment-a", helpful=9, category=Category.PAYMENT)

        assert related(customer, article) == ["database-b", "database-a"]

    def test_never_the_article_itself_nor_what_the_reader_may_not_see(self, shelf, customer, agent):
        RunbookFactory(title="Card runbook", slug="card-runbook", category=Category.PAYMENT, tags=["cards"])
        make("draft-mate", category=Category.PAYMENT, tags=["cards"], status=Article.Status.DRAFT)

        for_customer = related(customer, shelf, limit=20)
        assert "the-article" not in for_customer
        assert not {"card-runbook", "draft-mate"} & set(for_customer)
        assert "card-runbook" in related(agent, shelf, limit=20)
        assert "draft-mate" not in related(agent, shelf, limit=20)

    @pytest.mark.parametrize("neighbours", [3, 30])
    def test_takes_a_fixed_number_of_queries_whatever_the_category_size(self, neighbours, customer):
        article = make("center", category=Category.DATABASE, tags=["zips"])
        for n in range(neighbours):
            make(f"n-{n}", helpful=n, category=Category.DATABASE, tags=["zips"] if n % 2 else [])

        with CaptureQueriesContext(connection) as queries:
            found = selectors.article_list_related(user=customer, article=article)

        assert len(found) == min(5, neighbours)
        # The article's tags, the related articles, their tags.
        assert len(queries.captured_queries) == 3


class TestTopByCategory:
    def test_the_most_helpful_few_of_each_category_in_order(self, customer):
        for n, helpful in enumerate([5, 9, 1, 9, 0]):
            make(f"database-{n}", helpful=helpful, category=Category.DATABASE)
        make("site-a", helpful=2, category=Category.SITE_PERFORMANCE)
        Article.objects.filter(slug="database-3").update(helpful_no=4)  # same yes, more no: after database-1

        top = selectors.article_list_top_by_category(user=customer, per_category=3)

        assert [a.slug for a in top[Category.DATABASE]] == ["database-1", "database-3", "database-0"]
        assert [a.slug for a in top[Category.SITE_PERFORMANCE]] == ["site-a"]
        assert all(len(articles) <= 3 for articles in top.values())

    def test_only_what_the_reader_may_see(self, customer, agent):
        make("public-db", category=Category.DATABASE)
        RunbookFactory(title="Database runbook", slug="db-runbook", category=Category.DATABASE)
        make("draft-db", helpful=50, category=Category.DATABASE, status=Article.Status.DRAFT)

        for_customer = selectors.article_list_top_by_category(user=customer, per_category=5)
        for_agent = selectors.article_list_top_by_category(user=agent, per_category=5)

        assert [a.slug for a in for_customer[Category.DATABASE]] == ["public-db"]
        assert {"public-db", "db-runbook", "runbook-database-connectivity"} <= {
            a.slug for a in for_agent[Category.DATABASE]
        }
        assert "draft-db" not in {a.slug for articles in for_agent.values() for a in articles}

    def test_counts_follow_the_same_visibility(self, customer, agent):
        make("public-db", category=Category.DATABASE)
        make("draft-db", category=Category.DATABASE, status=Article.Status.DRAFT)

        assert selectors.article_category_counts(user=customer)[Category.DATABASE] == 1
        # The seeded database runbook is published and internal.
        assert selectors.article_category_counts(user=agent)[Category.DATABASE] == 2
