"""A ticket category's FAQs and runbooks for the console panel: one query, each list as its own selector gives it."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser

from knowledge import selectors
from knowledge.models import Article
from tests.knowledge.factories import ArticleFactory, RunbookFactory

pytestmark = pytest.mark.django_db

PAYMENT = Article.Category.PAYMENT


@pytest.fixture
def articles():
    for n in range(4):
        ArticleFactory(title=f"FAQ {n}", slug=f"faq-{n}", category=PAYMENT)
    ArticleFactory(title="Draft", slug="draft", category=PAYMENT, status=Article.Status.DRAFT)
    ArticleFactory(title="Elsewhere", slug="elsewhere", category=Article.Category.ORDERS)
    RunbookFactory(title="B runbook", slug="b-runbook", category=PAYMENT)
    RunbookFactory(title="A runbook", slug="a-runbook", category=PAYMENT)
    RunbookFactory(title="Draft runbook", slug="draft-runbook", category=PAYMENT, status=Article.Status.DRAFT)
    for slug, helpful in {"faq-1": 1, "faq-2": 2, "faq-3": 3, "draft": 99, "elsewhere": 99, "b-runbook": 50}.items():
        Article.objects.filter(slug=slug).update(helpful_yes=helpful)


class TestArticleListForCategory:
    def test_reads_the_most_helpful_public_faqs_and_the_runbooks_in_one_query(
        self, articles, django_assert_num_queries
    ):
        with django_assert_num_queries(1):
            found = selectors.article_list_for_category(category=PAYMENT, faq_limit=3)
        assert [a.slug for a in found.faqs] == ["faq-3", "faq-2", "faq-1"]
        # With the payment runbook the migrations seed.
        assert [a.slug for a in found.runbooks] == ["a-runbook", "b-runbook", "runbook-payment-processing"]

    def test_gives_what_the_popular_and_runbook_selectors_give(self, articles):
        found = selectors.article_list_for_category(category=PAYMENT, faq_limit=10)
        popular = selectors.article_list_popular(user=AnonymousUser(), category=PAYMENT, limit=10)
        assert found.faqs == popular
        assert found.runbooks == list(selectors.runbook_list_for_category(category=PAYMENT))
