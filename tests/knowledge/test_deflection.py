"""Deflection: suggestions on the ticket form (with and without JavaScript), opens recorded, outcomes counted."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from knowledge import selectors
from knowledge.models import Article, SuggestionOpen
from tests.knowledge.factories import ArticleFactory, RunbookFactory
from tickets.models import Ticket

pytestmark = pytest.mark.django_db

CANARY = "zqxcanary"


@pytest.fixture
def articles():
    faq = ArticleFactory(
        title="Zip on the cover is stuck",
        slug="zip-stuck",
        body="Rub a pencil along the zip teeth, then pull gently.",
        category=Article.Category.ORDERS,
        tags=["zip"],
    )
    RunbookFactory(
        title=f"Zip supplier escalation {CANARY}",
        slug="zip-supplier-runbook",
        body=f"- [ ] Call the zip supplier {CANARY}\n- [ ] Log the batch number\n",
        category=Article.Category.ORDERS,
        tags=["zip"],
    )
    ArticleFactory(
        title=f"Zip repair kit draft {CANARY}",
        slug="zip-kit-draft",
        body="Zip repair kit.",
        status=Article.Status.DRAFT,
    )
    return faq


@pytest.fixture
def signed_in(customer) -> Client:
    client = Client()
    client.force_login(customer)
    return client


def _ticket_form(**overrides) -> dict:
    return {"subject": "Zip stuck", "description": "The zip will not move.", "priority": "P3", "category": "orders"} | (
        overrides
    )


class TestSuggestionsOnTheTicketForm:
    def test_the_form_loads_the_static_script_and_has_no_inline_script(self, articles, signed_in):
        html = signed_in.get("/tickets/new/").content.decode()

        assert 'id="kb-suggestions"' in html
        assert '<script src="/static/knowledge/suggest.js" defer></script>' in html
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), "an inline script would break the CSP"

    def test_check_for_answers_rerenders_the_form_with_suggestions_without_filing(self, articles, signed_in):
        response = signed_in.post("/tickets/new/", _ticket_form(subject="My zip is stuck", check_answers="1"))

        html = response.content.decode()
        assert response.status_code == 200
        assert "Zip on the cover is stuck" in html
        assert 'action="/kb/zip-stuck/open/"' in html
        assert 'value="My zip is stuck"' in html  # the draft is kept
        assert "The zip will not move." in html
        assert CANARY not in html
        assert not Ticket.objects.exists()

    def test_check_for_answers_shows_no_errors_for_fields_not_yet_filled(self, articles, signed_in):
        response = signed_in.post("/tickets/new/", {"subject": "zip", "check_answers": "1"})

        assert response.status_code == 200
        assert "errorlist" not in response.content.decode()

    def test_the_ticket_is_still_filed_with_one_press_of_send(self, articles, signed_in):
        response = signed_in.post("/tickets/new/", _ticket_form())

        assert response.status_code == 302
        assert Ticket.objects.count() == 1

    def test_the_script_fetches_the_same_list_as_a_fragment(self, articles, signed_in):
        response = signed_in.get("/kb/suggest/?q=zip+stuck")

        html = response.content.decode()
        assert "Zip on the cover is stuck" in html
        assert "<html" not in html
        assert CANARY not in html
        assert response["Cache-Control"] == "private, no-store"


class TestOpeningASuggestion:
    def test_records_the_open_for_the_signed_in_customer_and_shows_the_article(self, articles, signed_in, customer):
        response = signed_in.post("/kb/zip-stuck/open/", {"q": "My zip is stuck"})

        assert response.status_code == 302
        assert response["Location"] == "/kb/zip-stuck/"
        opened = SuggestionOpen.objects.get()
        assert (opened.visitor_key, opened.query, opened.article) == (f"u:{customer.pk}", "My zip is stuck", articles)

    def test_needs_post_and_csrf(self, articles, customer):
        client = Client(enforce_csrf_checks=True)
        client.force_login(customer)

        assert client.get("/kb/zip-stuck/open/").status_code == 405
        assert client.post("/kb/zip-stuck/open/", {"q": "zip"}).status_code == 403
        assert not SuggestionOpen.objects.exists()

    @pytest.mark.parametrize("slug", ["zip-supplier-runbook", "zip-kit-draft"])
    def test_a_runbook_or_draft_cannot_be_opened_as_a_suggestion(self, articles, signed_in, agent, slug):
        agent_client = Client()
        agent_client.force_login(agent)

        assert signed_in.post(f"/kb/{slug}/open/").status_code == 404
        assert agent_client.post(f"/kb/{slug}/open/").status_code == 404
        assert not SuggestionOpen.objects.exists()


class TestDeflectionCounting:
    def test_an_open_with_no_ticket_counts_as_deflected_once_the_window_passes(self, articles, signed_in):
        signed_in.post("/kb/zip-stuck/open/", {"q": "zip"})
        opened_at = SuggestionOpen.objects.get().opened_at
        since, until = opened_at - timedelta(hours=1), opened_at + timedelta(hours=1)

        during = selectors.deflection_stats(since=since, until=until, now=opened_at + timedelta(hours=1))
        after = selectors.deflection_stats(
            since=since, until=until, now=opened_at + selectors.deflection_window() + timedelta(minutes=1)
        )

        assert (during.pending, during.deflected) == (1, 0)
        assert (after.deflected, after.filed) == (1, 0)

    def test_an_open_followed_by_a_ticket_is_not_deflected(self, articles, signed_in):
        signed_in.post("/kb/zip-stuck/open/", {"q": "zip"})
        signed_in.post("/tickets/new/", _ticket_form())
        opened = SuggestionOpen.objects.get()
        later = opened.opened_at + selectors.deflection_window() + timedelta(hours=1)

        stats = selectors.deflection_stats(
            since=opened.opened_at - timedelta(hours=1), until=opened.opened_at + timedelta(hours=1), now=later
        )

        assert opened.ticket == Ticket.objects.get()
        assert (stats.deflected, stats.filed) == (0, 1)

    def test_an_open_before_signing_in_is_linked_to_the_ticket_filed_after(self, articles, customer):
        client = Client()
        client.post("/kb/zip-stuck/open/", {"q": "zip"})
        anonymous_open = SuggestionOpen.objects.get()
        assert anonymous_open.visitor_key.startswith("s:")

        client.force_login(customer)  # keeps the session's data, as a real sign-in does
        client.post("/tickets/new/", _ticket_form())

        anonymous_open.refresh_from_db()
        assert anonymous_open.ticket == Ticket.objects.get()

    def test_another_customers_ticket_does_not_settle_my_open(self, articles, signed_in, other_customer):
        signed_in.post("/kb/zip-stuck/open/", {"q": "zip"})
        other = Client()
        other.force_login(other_customer)

        other.post("/tickets/new/", _ticket_form())

        assert SuggestionOpen.objects.get().ticket is None
        now = timezone.now() + selectors.deflection_window() + timedelta(minutes=1)
        assert selectors.deflection_count(since=now - timedelta(days=2), until=now, now=now) == 1
