"""The help centre pages (/kb/): visibility per role, votes, search, safe bodies, query counts."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from knowledge.models import Article, ArticleVote
from tests.knowledge.factories import ArticleFactory, RunbookFactory

pytestmark = pytest.mark.django_db

CANARY = "zqxcanary"  # a word no seeded article uses


@pytest.fixture
def kb():
    """One public FAQ, and next to it everything a customer must never see, all with the canary."""
    faq = ArticleFactory(
        title="How long does a refund take",
        slug="refund-time",
        body="Refunds reach your card within **5 working days** of the return arriving.",
        category=Article.Category.PAYMENT,
        tags=["refunds", "payment"],
    )
    runbook = RunbookFactory(
        title=f"Payment gateway outage {CANARY}",
        slug="payment-gateway-runbook",
        body=f"## Steps\n\n- [ ] Check the gateway {CANARY} status\n- [ ] Page the on-call refund engineer\n",
        category=Article.Category.PAYMENT,
        tags=["refunds", "payment"],
    )
    draft = ArticleFactory(
        title=f"Refund policy draft {CANARY}",
        slug="refund-draft",
        body=f"Refund {CANARY} draft text.",
        category=Article.Category.PAYMENT,
        status=Article.Status.DRAFT,
        tags=["refunds"],
    )
    archived = ArticleFactory(
        title=f"Old refund rules {CANARY}",
        slug="refund-archived",
        body=f"Refund {CANARY} archived.",
        category=Article.Category.PAYMENT,
        status=Article.Status.ARCHIVED,
    )
    return {"faq": faq, "runbook": runbook, "draft": draft, "archived": archived}


def client_for(user) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


PUBLIC_PAGES = [
    "/kb/",
    "/kb/category/payment/",
    "/kb/refund-time/",
    "/kb/search/?q=refund",
    "/kb/search/?q=gateway+outage",
    "/kb/search/?q=refund+policy+draft",
    "/kb/search/?q=old+refund+rules",
    "/kb/search/?q=refund&category=payment",
    "/kb/suggest/?q=refund+gateway+outage+policy+draft+rules",
]
HIDDEN_SLUGS = ["payment-gateway-runbook", "refund-draft", "refund-archived"]


class TestVisibilityForThePublic:
    @pytest.mark.parametrize("role", ["anonymous", "customer"])
    @pytest.mark.parametrize("url", PUBLIC_PAGES)
    def test_no_page_shows_a_runbook_draft_or_archived_article(self, kb, customer, role, url):
        client = client_for(customer if role == "customer" else None)

        response = client.get(url)

        assert response.status_code == 200
        html = response.content.decode()
        assert CANARY not in html
        assert not any(slug in html for slug in HIDDEN_SLUGS)

    @pytest.mark.parametrize("role", ["anonymous", "customer"])
    @pytest.mark.parametrize("slug", HIDDEN_SLUGS)
    def test_hidden_articles_are_a_404_like_a_missing_one(self, kb, customer, role, slug):
        client = client_for(customer if role == "customer" else None)

        assert client.get(f"/kb/{slug}/").status_code == 404
        assert client.get("/kb/no-such-article/").status_code == 404
        assert client.post(f"/kb/{slug}/vote/", {"helpful": "yes"}).status_code == 404
        assert client.post(f"/kb/{slug}/open/", {"q": "refund"}).status_code == 404

    def test_the_public_faq_is_listed_searched_and_related(self, kb):
        client = Client()

        assert "How long does a refund take" in client.get("/kb/").content.decode()
        assert "How long does a refund take" in client.get("/kb/category/payment/").content.decode()
        assert "How long does a refund take" in client.get("/kb/search/?q=refunds").content.decode()

    def test_an_unknown_category_is_a_404(self, kb):
        assert Client().get("/kb/category/secrets/").status_code == 404


class TestVisibilityForAgents:
    def test_agents_open_runbooks_and_drafts_with_a_notice(self, kb, agent):
        client = client_for(agent)

        runbook = client.get("/kb/payment-gateway-runbook/")
        draft = client.get("/kb/refund-draft/")

        assert runbook.status_code == 200
        assert CANARY in runbook.content.decode()
        assert "Not visible to customers" in runbook.content.decode()
        assert draft.status_code == 200

    def test_agents_find_published_runbooks_in_lists_and_search(self, kb, agent):
        client = client_for(agent)

        assert CANARY in client.get("/kb/category/payment/").content.decode()
        assert CANARY in client.get("/kb/search/?q=gateway+outage").content.decode()

    def test_even_agents_get_no_runbook_among_ticket_form_suggestions(self, kb, agent):
        html = client_for(agent).get("/kb/suggest/?q=refund+gateway+outage").content.decode()

        assert "refund-time" in html
        assert CANARY not in html


class TestArticlePage:
    def test_shows_the_sanitised_rendering_and_escapes_the_title(self, customer):
        ArticleFactory(
            title='<svg onload=alert(1)> "sizing"',
            slug="sizing-xss",
            body=(
                "Measure **twice**.\n\n<script>alert(1)</script>\n\n"
                "[x](javascript:alert(1)) <img src=x onerror=alert(1)>"
            ),
        )

        html = Client().get("/kb/sizing-xss/").content.decode()

        assert "<strong>twice</strong>" in html
        assert "<svg onload" not in html
        assert "&lt;svg onload=alert(1)&gt;" in html
        assert "alert(1)</script>" not in html
        assert "javascript:" not in html
        assert "onerror" not in html

    def test_lists_related_articles_sharing_tags_or_category(self, kb):
        ArticleFactory(title="Refunds for gift cards", slug="gift-refunds", tags=["refunds"])

        html = Client().get("/kb/refund-time/").content.decode()

        assert "Related articles" in html
        assert "Refunds for gift cards" in html

    def test_the_vote_form_is_a_csrf_protected_post(self, kb):
        html = Client().get("/kb/refund-time/").content.decode()

        assert 'method="post" action="/kb/refund-time/vote/"' in html
        assert "csrfmiddlewaretoken" in html


class TestSearchPage:
    def test_ranks_title_matches_first_and_highlights_words(self, kb):
        ArticleFactory(title="Parcel tracking", slug="parcel-tracking-x", body="Velvetine covers ship in parcels.")
        ArticleFactory(title="Velvetine covers", slug="velvetine-covers", body="How to care for velvetine.")

        response = Client().get("/kb/search/?q=velvetine")
        slugs = [result.article.slug for result in response.context["results"]]

        assert slugs == ["velvetine-covers", "parcel-tracking-x"]
        assert "<mark>" in response.content.decode()

    def test_a_query_without_words_shows_no_results(self, kb):
        response = Client().get("/kb/search/?q=%21%21")

        assert response.status_code == 200
        assert response.context["results"] == []

    def test_a_customer_asking_for_a_runbook_category_still_gets_public_articles_only(self, kb, customer):
        response = client_for(customer).get("/kb/search/?q=gateway+outage&category=payment")

        assert response.context["results"] == []


class TestVotes:
    def test_an_anonymous_visitor_votes_once_and_a_second_answer_replaces_the_first(self, kb):
        client = Client()

        first = client.post("/kb/refund-time/vote/", {"helpful": "yes", "comment": "clear"})
        second = client.post("/kb/refund-time/vote/", {"helpful": "no"})

        assert first.status_code == second.status_code == 302
        faq = Article.objects.get(slug="refund-time")
        assert (faq.helpful_yes, faq.helpful_no) == (0, 1)
        assert ArticleVote.objects.filter(article=faq).count() == 1

    def test_voting_the_same_answer_twice_counts_once(self, kb):
        client = Client()

        client.post("/kb/refund-time/vote/", {"helpful": "yes"})
        client.post("/kb/refund-time/vote/", {"helpful": "yes"})

        faq = Article.objects.get(slug="refund-time")
        assert (faq.helpful_yes, faq.helpful_no) == (1, 0)

    def test_two_visitors_count_twice(self, kb, customer):
        Client().post("/kb/refund-time/vote/", {"helpful": "yes"})
        client_for(customer).post("/kb/refund-time/vote/", {"helpful": "yes"})

        faq = Article.objects.get(slug="refund-time")
        assert faq.helpful_yes == 2
        assert set(ArticleVote.objects.values_list("voter_key", flat=True)) >= {f"u:{customer.pk}"}

    def test_a_signed_in_visitor_is_one_voter_across_sessions(self, kb, customer):
        client_for(customer).post("/kb/refund-time/vote/", {"helpful": "yes"})
        client_for(customer).post("/kb/refund-time/vote/", {"helpful": "yes"})

        assert Article.objects.get(slug="refund-time").helpful_yes == 1

    def test_the_page_remembers_the_visitors_answer(self, kb):
        client = Client()
        client.post("/kb/refund-time/vote/", {"helpful": "no"})

        assert "You answered “No”" in client.get("/kb/refund-time/").content.decode()

    def test_csrf_is_required(self, kb):
        client = Client(enforce_csrf_checks=True)

        response = client.post("/kb/refund-time/vote/", {"helpful": "yes"})

        assert response.status_code == 403
        assert Article.objects.get(slug="refund-time").helpful_yes == 0

    def test_get_changes_nothing(self, kb):
        assert Client().get("/kb/refund-time/vote/?helpful=yes").status_code == 405
        assert Article.objects.get(slug="refund-time").helpful_yes == 0

    def test_an_invalid_answer_is_a_400_and_counts_nothing(self, kb):
        response = Client().post("/kb/refund-time/vote/", {"helpful": "maybe", "comment": "x" * 1001})

        assert response.status_code == 400
        assert Article.objects.get(slug="refund-time").helpful_yes == 0

    def test_agents_cannot_vote_on_a_draft_they_can_see(self, kb, agent):
        response = client_for(agent).post("/kb/refund-draft/vote/", {"helpful": "yes"}, follow=True)

        assert "Only published articles take votes" in response.content.decode()
        assert not ArticleVote.objects.exists()


def _make_articles(n: int, start: int) -> None:
    for i in range(start, start + n):
        ArticleFactory(
            title=f"Cushion care {i}",
            slug=f"cushion-care-{i}",
            body=f"Cushion covers wash at 30 degrees ({i}).",
            category=Article.Category.ORDERS if i % 2 else Article.Category.PAYMENT,
            tags=[f"tag{i}", "cushions"],
        )


PAGES_FOR_COUNTS = ["/kb/", "/kb/category/orders/", "/kb/cushion-care-0/", "/kb/search/?q=cushion"]


class TestQueryCounts:
    @pytest.mark.parametrize("url", PAGES_FOR_COUNTS)
    def test_pages_make_the_same_number_of_queries_for_more_articles(self, url, customer):
        client = client_for(customer)
        _make_articles(3, 0)
        client.get(url)  # warm the session and content types
        with CaptureQueriesContext(connection) as few:
            assert client.get(url).status_code == 200

        _make_articles(15, 3)
        with CaptureQueriesContext(connection) as many:
            assert client.get(url).status_code == 200

        assert len(many) == len(few)

    @pytest.mark.parametrize(("url", "limit"), list(zip(PAGES_FOR_COUNTS, [5, 4, 6, 4], strict=True)))
    def test_pages_stay_within_their_query_budget(self, url, limit, django_assert_max_num_queries):
        _make_articles(12, 0)
        client = Client()
        client.post("/kb/cushion-care-0/vote/", {"helpful": "yes"})  # an anonymous visitor with a session

        with django_assert_max_num_queries(limit):
            assert client.get(url).status_code == 200
