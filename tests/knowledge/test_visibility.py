"""AC-10: internal runbooks and drafts are absent or 404 for customers and anonymous visitors; agents see all."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser

from knowledge import search, selectors
from knowledge.models import Article
from tests.knowledge.factories import ArticleFactory, RunbookFactory

CANARY = "zebracanary"

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    return {
        "public": ArticleFactory(title=f"Public {CANARY} answer", body=f"{CANARY} public body", slug="canary-public"),
        "internal": RunbookFactory(
            title=f"Internal {CANARY} runbook", body=f"- [ ] {CANARY} secret step", slug="canary-internal"
        ),
        "draft": ArticleFactory(
            title=f"Draft {CANARY} answer", body=f"{CANARY} draft", status=Article.Status.DRAFT, slug="canary-draft"
        ),
        "archived": ArticleFactory(
            title=f"Archived {CANARY} answer",
            body=f"{CANARY} old",
            status=Article.Status.ARCHIVED,
            slug="canary-archived",
        ),
        "internal_draft": RunbookFactory(
            title=f"Internal draft {CANARY}", body=f"- [ ] {CANARY}", status=Article.Status.DRAFT, slug="canary-idraft"
        ),
    }


HIDDEN = ("internal", "draft", "archived", "internal_draft")


def _user(role, customer, agent):
    return {"anonymous": AnonymousUser(), "customer": customer, "agent": agent}[role]


class TestSelectors:
    @pytest.mark.parametrize("role", ["anonymous", "customer"])
    def test_customers_and_anonymous_see_published_public_only(self, world, role, customer, agent):
        user = _user(role, customer, agent)
        slugs = set(selectors.article_list_visible_to(user=user).values_list("slug", flat=True))
        assert "canary-public" in slugs
        assert not slugs & {world[name].slug for name in HIDDEN}
        assert all(
            a.status == "published" and a.audience == "public" for a in selectors.article_list_visible_to(user=user)
        )

    @pytest.mark.parametrize("role", ["anonymous", "customer"])
    @pytest.mark.parametrize("name", HIDDEN)
    def test_get_by_slug_is_404_for_hidden_articles(self, world, role, name, customer, agent):
        from django.http import Http404

        with pytest.raises(Http404):
            selectors.article_get_visible_to(user=_user(role, customer, agent), slug=world[name].slug)

    def test_agents_see_everything(self, world, agent):
        slugs = set(selectors.article_list_visible_to(user=agent).values_list("slug", flat=True))
        assert {a.slug for a in world.values()} <= slugs
        for article in world.values():
            assert selectors.article_get_visible_to(user=agent, slug=article.slug) == article

    @pytest.mark.parametrize("role", ["anonymous", "customer"])
    def test_filters_cannot_widen_what_customers_see(self, world, role, customer, agent):
        user = _user(role, customer, agent)
        for filters in ({"audience": "internal"}, {"status": "draft"}, {"status": ["archived"]}):
            slugs = set(selectors.article_list_visible_to(user=user, filters=filters).values_list("slug", flat=True))
            assert not slugs & {world[name].slug for name in HIDDEN}

    @pytest.mark.parametrize("role", ["anonymous", "customer"])
    def test_search_suggestions_and_related_never_show_hidden_articles(self, world, role, customer, agent):
        user = _user(role, customer, agent)
        for match in ("all", "any"):
            found = {r.article.slug for r in search.article_search(user=user, q=CANARY, match=match)}
            assert found == {"canary-public"}
        found = {r.article.slug for r in search.article_search(user=user, q=CANARY, audience="internal")}
        assert found == set()
        related = selectors.article_list_related(user=user, article=world["public"])
        assert not {a.slug for a in related} & {world[name].slug for name in HIDDEN}
        assert not {a.slug for a in selectors.article_list_popular(user=user, limit=100)} & {
            world[name].slug for name in HIDDEN
        }

    def test_agents_find_internal_runbooks_in_search(self, world, agent):
        found = {r.article.slug for r in search.article_search(user=agent, q=CANARY)}
        assert {"canary-public", "canary-internal", "canary-draft"} <= found
        internal_only = {r.article.slug for r in search.article_search(user=agent, q=CANARY, audience="internal")}
        assert internal_only == {"canary-internal", "canary-idraft"}


class TestApi:
    @pytest.mark.parametrize("role", ["anonymous", "customer"])
    def test_list_detail_search_and_suggest_hide_internal_and_drafts(
        self, world, role, customer, agent, api_client_for
    ):
        client = api_client_for(None if role == "anonymous" else customer)
        listed = client.get("/api/v1/articles/?page_size=100")
        assert listed.status_code == 200
        assert CANARY not in str([r for r in listed.json()["results"] if r["slug"] != "canary-public"])
        searched = client.get(f"/api/v1/articles/?q={CANARY}")
        assert [r["slug"] for r in searched.json()["results"]] == ["canary-public"]
        suggested = client.get(f"/api/v1/articles/suggest/?q=my {CANARY} problem")
        assert suggested.json()[0]["slug"] == "canary-public"
        assert CANARY not in str([r for r in suggested.json() if r["slug"] != "canary-public"])
        for name in HIDDEN:
            response = client.get(f"/api/v1/articles/{world[name].slug}/")
            assert response.status_code == 404
            assert CANARY not in response.content.decode()
            assert client.get(f"/api/v1/articles/{world[name].slug}/revisions/").status_code in (401, 404)

    @pytest.mark.parametrize("role", ["anonymous", "customer"])
    @pytest.mark.parametrize(
        "query", ["audience=internal", "status=draft", "status=archived", "status=published&status=draft"]
    )
    def test_asking_for_agent_only_filters_is_a_field_level_400(self, world, role, query, customer, api_client_for):
        client = api_client_for(None if role == "anonymous" else customer)
        response = client.get(f"/api/v1/articles/?{query}")
        assert response.status_code == 400
        field = query.split("=")[0]
        assert response.json()[field] == ["Only support agents can filter by this value."]

    def test_customers_may_ask_for_public_and_published_explicitly(self, world, customer, api_client_for):
        response = api_client_for(customer).get("/api/v1/articles/?audience=public&status=published&page_size=100")
        assert response.status_code == 200
        assert "canary-public" in [r["slug"] for r in response.json()["results"]]

    def test_agents_list_internal_with_the_audience_filter(self, world, agent, api_client_for):
        response = api_client_for(agent).get("/api/v1/articles/?audience=internal&page_size=100")
        slugs = {r["slug"] for r in response.json()["results"]}
        assert {"canary-internal", "canary-idraft"} <= slugs
        assert "canary-public" not in slugs
        drafts = api_client_for(agent).get("/api/v1/articles/?status=draft&page_size=100").json()["results"]
        assert {r["slug"] for r in drafts} == {"canary-draft", "canary-idraft"}

    def test_agents_get_hidden_articles_by_slug(self, world, agent, api_client_for):
        client = api_client_for(agent)
        for name in HIDDEN:
            assert client.get(f"/api/v1/articles/{world[name].slug}/").status_code == 200

    def test_agents_get_internal_suggestions_too(self, world, agent, api_client_for):
        slugs = {r["slug"] for r in api_client_for(agent).get(f"/api/v1/articles/suggest/?q={CANARY}").json()}
        assert slugs == {"canary-public", "canary-internal"}  # published only, drafts never suggested
