"""The console's post-incident reviews: managers edit, agents read, customers never; the exports."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone
from pypdf import PdfReader

from incidents import reviews
from incidents.models import IncidentEvent, Review, ReviewItem
from tests import admin_forms
from tests.knowledge.factories import RunbookFactory

from .test_reviews import NOW, resolved

pytestmark = pytest.mark.django_db


def url(name: str, *args) -> str:
    from django.urls import reverse

    return reverse(f"admin:incidents_review_{name}", args=args)


def _put(data: dict, name: str, value) -> None:
    if value is None:
        return
    if isinstance(value, bool):
        if value:
            data[name] = "on"
        return
    if isinstance(value, datetime):
        local = timezone.localtime(value)
        data[f"{name}_0"], data[f"{name}_1"] = local.strftime("%Y-%m-%d"), local.strftime("%H:%M:%S")
        return
    if isinstance(value, list | tuple):  # the articles' raw-id widget: "3,7"
        data[name] = ",".join(str(getattr(v, "pk", v)) for v in value)
        return
    data[name] = str(value)


def change_form_data(response) -> dict:
    """What the browser would post back unchanged: the form and the items' formset, as rendered."""
    return admin_forms.change_form_data(response, _put)


def form_index(response, item: ReviewItem) -> int:
    formset = response.context["inline_admin_formsets"][0].formset
    return next(n for n, form in enumerate(formset.forms) if form.instance.pk == item.pk)


@pytest.fixture
def review(agent) -> Review:
    return resolved(agent, at=datetime(2026, 12, 1, 10, 0, tzinfo=UTC)).review


class TestWhoMay:
    def test_customers_never_reach_a_review_nor_its_exports(self, client, customer, review):
        client.force_login(customer)
        for address in (
            url("changelist"),
            url("change", review.pk),
            url("export_md", review.pk),
            url("export_pdf", review.pk),
        ):
            response = client.get(address)
            assert response.status_code == 302, address
            assert "/admin/login/" in response["Location"]

    def test_agents_read_the_list_and_the_page(self, client, tier2_agent, review):
        client.force_login(tier2_agent)
        listing = client.get(url("changelist"))
        assert listing.status_code == 200
        assert review.incident.title in listing.content.decode()

        page = client.get(url("change", review.pk))
        assert page.status_code == 200
        assert page.context["has_change_permission"] is False
        assert 'name="document"' not in page.content.decode()

    def test_an_agent_posting_an_edit_is_refused_and_nothing_changes(self, client, tier2_agent, manager, review):
        client.force_login(manager)
        data = change_form_data(client.get(url("change", review.pk)))
        data["document"] = "Written by an agent."
        client.force_login(tier2_agent)

        assert client.post(url("change", review.pk), data).status_code == 403

        review.refresh_from_db()
        assert review.document != "Written by an agent."

    def test_nobody_adds_or_deletes_a_review_in_the_console(self, client, manager, review):
        client.force_login(manager)
        assert client.get(url("add")).status_code == 403
        assert client.post(url("delete", review.pk), {"post": "yes"}).status_code == 403
        assert Review.objects.filter(pk=review.pk).exists()


class TestManagersEdit:
    def test_a_manager_edits_the_document_and_items_and_the_timeline_says_so(
        self, client, manager, tier2_agent, review
    ):
        client.force_login(manager)
        page = client.get(url("change", review.pk))
        data = change_form_data(page)
        runbook = RunbookFactory(title="Payments runbook", slug="payments-runbook")
        first = review.items.get(position=0)
        docs = review.items.get(position=10)  # the runbook update
        n, m = form_index(page, first), form_index(page, docs)
        data["document"] = "## Root cause\n\nA bad release.\n\n<script>alert(1)</script>"
        data[f"items-{n}-done"] = "on"
        data[f"items-{n}-owner"] = str(tier2_agent.pk)
        data[f"items-{n}-notes"] = "Told 1,200 customers."
        data[f"items-{m}-articles"] = str(runbook.pk)

        response = client.post(url("change", review.pk), data)

        assert response.status_code == 302, response.context["adminform"].form.errors if response.context else ""
        review.refresh_from_db()
        first.refresh_from_db()
        assert review.document.startswith("## Root cause")
        assert first.done_at is not None
        assert first.owner == tier2_agent
        assert first.notes == "Told 1,200 customers."
        assert list(docs.articles.all()) == [runbook]
        assert "Payments runbook" in reviews.review_markdown(review)
        events = review.incident.events.filter(kind=IncidentEvent.Kind.REVIEW, author=manager)
        assert events.count() == 3  # the document, the first item, the runbook item
        # The page shows the document sanitised.
        html = client.get(url("change", review.pk)).content.decode()
        assert '<h2 id="root-cause">Root cause</h2>' in html
        assert "A bad release." in html
        assert "<script>alert(1)</script>" not in html

    def test_a_due_time_before_the_resolution_is_a_form_error_not_a_500(self, client, manager, review):
        client.force_login(manager)
        page = client.get(url("change", review.pk))
        data = change_form_data(page)
        n = form_index(page, review.items.get(position=0))
        data[f"items-{n}-due_at_0"] = "2026-11-30"

        response = client.post(url("change", review.pk), data)

        assert response.status_code == 200
        errors = response.context["inline_admin_formsets"][0].formset.errors
        assert any("due_at" in e for e in errors)

    def test_an_owner_who_is_not_an_agent_is_a_form_error(self, client, manager, customer, review):
        client.force_login(manager)
        page = client.get(url("change", review.pk))
        data = change_form_data(page)
        data[f"items-{form_index(page, review.items.get(position=0))}-owner"] = str(customer.pk)
        response = client.post(url("change", review.pk), data)
        assert response.status_code == 200
        assert ReviewItem.objects.filter(review=review, owner=customer).count() == 0

    @pytest.mark.parametrize("articles", [0, 3])
    def test_the_page_reads_a_fixed_number_of_queries(
        self, client, manager, review, articles, django_assert_max_num_queries
    ):
        runbooks = [RunbookFactory() for _ in range(articles)]
        for item in review.items.all():
            item.articles.set(runbooks)
        client.force_login(manager)
        client.get(url("change", review.pk))
        with django_assert_max_num_queries(10):
            assert client.get(url("change", review.pk)).status_code == 200


class TestExports:
    def test_the_markdown_download_carries_the_timeline(self, client, tier2_agent, review):
        client.force_login(tier2_agent)
        response = client.get(url("export_md", review.pk))
        assert response.status_code == 200
        assert response["Content-Type"] == "text/markdown; charset=utf-8"
        assert response["Content-Disposition"] == f'attachment; filename="{review.incident.reference}-review.md"'
        assert response["X-Content-Type-Options"] == "nosniff"
        text = response.content.decode()
        assert "## Timeline" in text
        assert "Declared by tier1@sofacoverpro.com (public)" in text
        assert "Post-incident review opened" in text

    def test_the_pdf_download_parses_and_carries_the_title(self, client, manager, review):
        client.force_login(manager)
        response = client.get(url("export_pdf", review.pk))
        assert response.status_code == 200
        assert response["Content-Type"] == "application/pdf"
        text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(response.content)).pages)
        assert f"Post-incident review: {review.incident.reference} Checkout fails" in text

    def test_the_page_links_both_exports(self, client, tier2_agent, review):
        client.force_login(tier2_agent)
        html = client.get(url("change", review.pk)).content.decode()
        assert url("export_md", review.pk) in html
        assert url("export_pdf", review.pk) in html

    def test_an_unknown_review_is_404(self, client, manager):
        client.force_login(manager)
        assert client.get(url("export_md", 999)).status_code == 404
        assert client.get(url("export_pdf", 999)).status_code == 404


def test_resolution_time_is_the_fixture(review):
    assert review.incident.resolved_at == NOW
    assert review.items.order_by("due_at").first().due_at == NOW + timedelta(hours=2)


def test_posting_the_page_unchanged_keeps_every_article(client, manager, review):
    runbooks = [RunbookFactory() for _ in range(2)]
    item = review.items.get(position=10)
    item.articles.set(runbooks)
    client.force_login(manager)
    data = change_form_data(client.get(url("change", review.pk)))
    before = review.incident.events.count()

    assert client.post(url("change", review.pk), data).status_code == 302

    assert set(item.articles.all()) == set(runbooks)
    assert list(review.incident.events.values_list("body", flat=True))[before:] == []
