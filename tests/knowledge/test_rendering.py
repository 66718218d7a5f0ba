"""Markdown rendering and sanitising (IN-1, IN-2): features that must work, script that must never run."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from knowledge import services
from knowledge.models import Article
from knowledge.rendering import html_to_text, render_markdown, render_text, task_steps
from tests.knowledge.factories import T0, ArticleFactory
from tests.knowledge.xss_corpus import VECTORS, assert_inert, problems
from tests.tickets.factories import MessageFactory, TicketFactory


class TestRenderMarkdownFeatures:
    def test_renders_a_table_with_alignment_as_attributes_not_styles(self):
        html = render_markdown("| size | width |\n|:--|--:|\n| 2-seat | 145 cm |")
        assert "<table>" in html
        assert '<th align="left">size</th>' in html
        assert '<td align="right">145 cm</td>' in html
        assert "style" not in html

    def test_renders_fenced_code_escaped_with_its_language_class(self):
        html = render_markdown("```python\nif a < b and c > d:\n    pass\n```")
        assert '<pre><code class="language-python">if a &lt; b and c &gt; d:' in html

    def test_renders_task_lists_as_disabled_checkboxes(self):
        html = render_markdown("- [ ] Check CDN status and cache hit rates\n- [x] Monitor database query performance")
        assert (
            '<li class="task-list-item"><input type="checkbox" disabled> Check CDN status and cache hit rates</li>'
            in html
        )
        assert '<input type="checkbox" disabled checked> Monitor database query performance' in html

    def test_an_author_cannot_add_an_input_of_their_own(self):
        html = render_markdown('<input type="text" name="card" value="x"> and <input type="checkbox">')
        assert "<input" not in html

    def test_gives_headings_anchor_ids(self):
        html = render_markdown("## When to use\n\n## Steps to follow")
        assert '<h2 id="when-to-use">When to use</h2>' in html
        assert '<h2 id="steps-to-follow">Steps to follow</h2>' in html

    def test_drops_ids_an_author_writes_that_are_not_slugs(self):
        html = render_markdown('<h3 id="csrf token">x</h3>')
        assert "id=" not in html

    def test_links_get_rel_noopener_nofollow(self):
        html = render_markdown("[our shop](https://sofacoverpro.example/covers) and <https://example.com>")
        assert '<a href="https://sofacoverpro.example/covers" rel="noopener nofollow">our shop</a>' in html
        assert '<a href="https://example.com" rel="noopener nofollow">https://example.com</a>' in html

    def test_keeps_mailto_relative_and_anchor_links(self):
        html = render_markdown("[mail](mailto:support@sofacoverpro.com) [kb](/kb/returns-policy/) [top](#steps)")
        assert 'href="mailto:support@sofacoverpro.com"' in html
        assert 'href="/kb/returns-policy/"' in html
        assert 'href="#steps"' in html

    def test_strips_comments(self):
        assert "secret" not in render_markdown("before <!-- secret --> after")

    def test_removes_script_content_not_just_the_tags(self):
        html = render_markdown("hello <script>stealCookies()</script> world")
        assert "stealCookies" not in html

    def test_html_to_text_gives_searchable_plain_text(self):
        assert (
            html_to_text(render_markdown("# Refunds\n\nA **refund** &amp; <b>more</b>")) == "Refunds\nA refund & more"
        )


class TestTaskSteps:
    def test_lists_task_items_in_order_without_markup(self):
        source = "Intro\n\n- [ ] **Check payment gateway status**\n* [x] Verify `API` credentials\n- not a step\n"
        assert task_steps(source) == ["Check payment gateway status", "Verify API credentials"]


class TestRenderText:
    def test_escapes_and_keeps_line_breaks(self):
        assert render_text("<b>hi</b>\nthere") == "<p>&lt;b&gt;hi&lt;/b&gt;<br>there</p>"

    def test_leaves_template_syntax_literal(self):
        assert render_text("{{ settings.SECRET_KEY }} {% debug %}") == "<p>{{ settings.SECRET_KEY }} {% debug %}</p>"


def test_the_corpus_has_at_least_fifty_vectors():
    assert len(VECTORS) >= 50
    assert len(set(VECTORS)) == len(VECTORS)


class TestTheCheckerItself:
    """The assertion must be able to fail: raw vectors are live markup."""

    @pytest.mark.parametrize(
        "html",
        [
            "<script>x</script>",
            '<img src="x" onerror="y">',
            '<a href="javascript:alert(1)">x</a>',
            '<a href=" jav&#x09;ascript:alert(1)">x</a>',
            '<p style="color:red">x</p>',
            "<svg></svg>",
            '<a href="data:text/html,x">x</a>',
        ],
    )
    def test_flags_live_markup(self, html):
        assert problems(html)

    def test_accepts_safe_links(self):
        assert not problems('<a href="https://x.example">x</a><a href="/kb/">y</a><a href="#a">z</a>')


@pytest.mark.parametrize("vector", VECTORS)
def test_every_vector_renders_inert(vector):
    assert_inert(render_markdown(vector), source=vector)


@pytest.mark.parametrize("vector", VECTORS)
def test_every_vector_inside_markdown_context_renders_inert(vector):
    source = f"# Heading\n\nSome *text* {vector} and more.\n\n- [ ] step {vector}\n\n> {vector}\n"
    assert_inert(render_markdown(source), source=source)


FRAGMENTS = st.sampled_from(
    [
        *VECTORS,
        "[",
        "]",
        "(",
        ")",
        "<",
        ">",
        '"',
        "'",
        "`",
        "```",
        "\n",
        "\n\n",
        "javascript:",
        "&#",
        "&#x",
        ";",
        "on",
        "error=",
        "![",
        "](",
        "- [ ] ",
        "<a href=",
        "<img src=",
        "| a |\n|---|\n",
        "    ",
        "\x00",
    ]
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(FRAGMENTS, st.text(max_size=20)), max_size=12))
def test_property_any_mix_of_text_and_fragments_renders_inert(parts):
    source = "".join(parts)
    assert_inert(render_markdown(source), source=source)


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)


def _escaped_only(page: str, payload: str) -> None:
    """A payload with markup must never appear raw in a page."""
    if "<" in payload:
        assert payload not in page, f"raw {payload!r} in page"


@pytest.mark.django_db
class TestThroughTheApiAndAdmin:
    def test_body_html_from_the_api_is_inert_for_every_vector(self, api_client_for, agent):
        client = api_client_for(agent)
        for n, vector in enumerate(VECTORS):
            response = client.post(
                "/api/v1/articles/",
                {"title": vector, "body": f"Intro\n\n{vector}\n", "status": "published", "slug": f"xss-{n}"},
                format="json",
            )
            if "\x00" in vector:
                # Null characters are refused as input, field by field.
                assert response.status_code == 400
                assert "body" in response.json()
                continue
            assert response.status_code == 201, response.content
            assert_inert(response.json()["body_html"], source=vector)

    def test_the_public_detail_and_list_carry_only_inert_html(self, api_client_for):
        for n, vector in enumerate(VECTORS[:20]):
            ArticleFactory(title=f"Vector {n}", body=vector)
        body = api_client_for(None).get("/api/v1/articles/?page_size=100").json()
        for row in body["results"]:
            assert_inert(row["body_html"], source=row["body"])

    def test_the_admin_change_page_shows_the_title_escaped_and_the_body_inert(self, client, agent):
        client.force_login(agent)
        for n, vector in enumerate(VECTORS):
            article = ArticleFactory(title=f"T{n} {vector}"[:200], body=vector)
            page = client.get(reverse("admin:knowledge_article_change", args=[article.pk])).content.decode()
            preview = re.search(r'<div class="readonly">(.*?)</div>', page, re.S)
            assert preview is not None
            assert_inert(preview.group(1), source=vector)
            _escaped_only(page, article.title)

    def test_the_admin_changelist_escapes_titles(self, client, agent):
        client.force_login(agent)
        ArticleFactory(title="</script><svg onload=alert(1)>")
        page = client.get(reverse("admin:knowledge_article_changelist")).content.decode()
        assert "<svg onload=alert(1)>" not in page
        assert "&lt;/script&gt;&lt;svg onload=alert(1)&gt;" in page

    def test_a_revision_diff_is_escaped(self, client, agent):
        client.force_login(agent)
        article = ArticleFactory(body="safe")
        services.article_update(article=article, actor=agent, now=T0, body="<script>alert(1)</script>")
        revision = article.revisions.get(number=2)
        page = client.get(reverse("admin:knowledge_articlerevision_change", args=[revision.pk])).content.decode()
        assert "+&lt;script&gt;alert(1)&lt;/script&gt;" in page
        assert "<script>alert(1)</script>" not in page


@pytest.mark.django_db
class TestTicketTextWhereverShown:
    """Ticket subjects and messages are plain text on the portal page and in the admin changelist."""

    PAYLOADS = [
        *[v for v in VECTORS if "<" in v and "\x00" not in v][:40],
        "</script><svg onload=alert(1)>",
        "\"';alert(1)//",
    ]

    def test_portal_ticket_page_and_admin_changelist_show_no_live_tags(self, client, customer, agent):
        tickets = []
        for n, payload in enumerate(self.PAYLOADS):
            ticket = TicketFactory(requester=customer, subject=f"S{n} {payload}"[:200], description=payload)
            MessageFactory(ticket=ticket, author=customer, body=f"message {payload}")
            tickets.append(ticket)
        client.force_login(customer)
        for ticket in tickets[:10]:
            page = client.get(f"/tickets/{ticket.reference}/").content.decode()
            assert page.count("<script") == page.count('<script src="') + page.count("<script type=")
            _escaped_only(page, ticket.subject)
            _escaped_only(page, ticket.description)
        client.force_login(agent)
        page = client.get(reverse("admin:tickets_ticket_changelist") + "?all=1").content.decode()
        for ticket in tickets:
            _escaped_only(page, ticket.subject)
        assert "<svg onload=alert(1)>" not in page
        assert "<img src=x onerror=alert(1)>" not in page


def test_a_published_article_renders_its_task_list_in_body_html(db):
    article = ArticleFactory(body="- [ ] one\n- [ ] two", status=Article.Status.PUBLISHED)
    assert article.body_html.count('type="checkbox" disabled') == 2
