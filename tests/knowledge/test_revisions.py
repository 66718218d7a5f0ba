"""Every save keeps a revision; restoring one makes it current again as a new revision; the admin shows the diff."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse

from knowledge import services
from knowledge.models import Article, ArticleRevision
from tests.knowledge.factories import T0, ArticleFactory

pytestmark = pytest.mark.django_db


class TestRevisions:
    def test_create_writes_revision_one_with_the_full_content(self, agent):
        article = ArticleFactory(title="Care", body="Wash at 30.", tags=["care", "washing"], author=agent)
        [revision] = article.revisions.all()
        assert (revision.number, revision.title, revision.body, revision.tags) == (
            1,
            "Care",
            "Wash at 30.",
            ["care", "washing"],
        )
        assert (revision.created_by, revision.created_at, revision.status) == (agent, T0, "published")

    def test_each_change_adds_a_numbered_revision_and_refreshes_the_rendering(self, agent):
        article = ArticleFactory(body="one")
        later = T0 + timedelta(hours=1)
        article = services.article_update(article=article, actor=agent, now=later, body="**two**", tags=["x"])
        assert article.body_html == "<p><strong>two</strong></p>"
        assert article.updated_at == later
        assert list(article.revisions.values_list("number", "body", "tags")) == [(2, "**two**", ["x"]), (1, "one", [])]

    def test_saving_unchanged_content_writes_nothing(self, agent):
        article = ArticleFactory(body="same", tags=["a"])
        again = services.article_update(
            article=article, actor=agent, now=T0 + timedelta(days=1), body="same", tags=["A"]
        )
        assert again.updated_at == T0
        assert article.revisions.count() == 1

    def test_restore_makes_an_old_revision_current_as_a_new_revision(self, agent):
        article = ArticleFactory(title="Old", body="old body", tags=["old"])
        services.article_update(
            article=article, actor=agent, now=T0, title="New", body="new body", tags=["new"], status="archived"
        )
        first = article.revisions.get(number=1)
        article = services.article_restore(revision=first, actor=agent, now=T0 + timedelta(hours=2))
        assert (article.title, article.body, article.status) == ("Old", "old body", "published")
        assert [t.name for t in article.tags.all()] == ["old"]
        assert article.body_html == "<p>old body</p>"
        latest = article.revisions.first()
        assert latest is not None
        assert (latest.number, latest.note) == (3, "restored revision 1")

    def test_publishing_sets_published_at_once(self, agent):
        article = ArticleFactory(status=Article.Status.DRAFT)
        assert article.published_at is None
        later = T0 + timedelta(days=1)
        article = services.article_update(article=article, actor=agent, now=later, status="published")
        assert article.published_at == later
        article = services.article_update(article=article, actor=agent, now=later + timedelta(days=1), body="edit")
        assert article.published_at == later


class TestAdmin:
    def test_an_agent_creates_an_article_in_the_admin_through_the_services(self, client, agent):
        client.force_login(agent)
        response = client.post(
            reverse("admin:knowledge_article_add"),
            {
                "title": "Zip care",
                "slug": "",
                "body": "- [ ] Close the zip",
                "audience": "internal",
                "category": "other",
                "status": "published",
                "tag_names": "zip, care",
                "revisions-TOTAL_FORMS": "0",
                "revisions-INITIAL_FORMS": "0",
            },
        )
        assert response.status_code == 302, response.content.decode()[:2000]
        article = Article.objects.get(slug="zip-care")
        assert 'type="checkbox" disabled' in article.body_html
        assert sorted(t.name for t in article.tags.all()) == ["care", "zip"]
        assert article.revisions.count() == 1
        assert article.author == agent

    def test_an_invalid_slug_is_a_form_error_not_a_500(self, client, agent):
        ArticleFactory(slug="taken")
        client.force_login(agent)
        response = client.post(
            reverse("admin:knowledge_article_add"),
            {
                "title": "X",
                "slug": "taken",
                "body": "b",
                "audience": "public",
                "category": "other",
                "status": "draft",
                "tag_names": "",
                "revisions-TOTAL_FORMS": "0",
                "revisions-INITIAL_FORMS": "0",
            },
        )
        assert response.status_code == 200
        assert "already used by another article" in response.content.decode()

    def test_the_revision_page_shows_the_diff(self, client, agent):
        article = ArticleFactory(body="line one\nline two")
        services.article_update(article=article, actor=agent, now=T0, body="line one\nline 2")
        client.force_login(agent)
        revision = article.revisions.get(number=2)
        page = client.get(reverse("admin:knowledge_articlerevision_change", args=[revision.pk])).content.decode()
        assert "-line two" in page
        assert "+line 2" in page

    def test_the_restore_action_restores_exactly_one_revision(self, client, agent):
        article = ArticleFactory(body="first")
        services.article_update(article=article, actor=agent, now=T0, body="second")
        client.force_login(agent)
        first = article.revisions.get(number=1)
        response = client.post(
            reverse("admin:knowledge_articlerevision_changelist"),
            {"action": "restore_revision", "_selected_action": [first.pk]},
        )
        assert response.status_code == 302
        article.refresh_from_db()
        assert article.body == "first"
        assert article.revisions.count() == 3

    def test_customers_cannot_open_the_admin(self, client, customer):
        client.force_login(customer)
        response = client.get(reverse("admin:knowledge_article_changelist"))
        assert response.status_code == 302

    def test_agents_cannot_delete_articles(self, client, agent):
        article = ArticleFactory()
        client.force_login(agent)
        response = client.post(reverse("admin:knowledge_article_delete", args=[article.pk]), {"post": "yes"})
        assert response.status_code == 403
        assert ArticleRevision.objects.filter(article=article).exists()
