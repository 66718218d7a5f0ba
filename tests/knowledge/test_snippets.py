"""Snippets of search results: the matched words in <mark>, everything else escaped text."""

from __future__ import annotations

import re

import pytest
from django.db import connection

from knowledge import search
from knowledge.search import DELIMITER, GT, LT, START, STOP, highlight, lead
from tests.knowledge.factories import ArticleFactory

on_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="PostgreSQL's stemmer and ts_headline; CI runs the suite on PostgreSQL"
)


def marked(html: str) -> list[str]:
    return re.findall(r"<mark>(.*?)</mark>", html)


def words(n: int, word: str) -> str:
    return " ".join(f"{word}{chr(97 + i % 26)}{chr(97 + i // 26)}" for i in range(n))


class TestHighlight:
    def test_escapes_the_text_and_marks_only_between_the_marks(self):
        html = highlight(f"{LT}script{GT} & 'quoted' {START}wombat{STOP} <b>")
        assert html == "&lt;script&gt; &amp; &#x27;quoted&#x27; <mark>wombat</mark> &lt;b&gt;"

    def test_unbalanced_marks_make_balanced_markup(self):
        assert highlight(f"{START}{START}a{STOP}{STOP} b {START}c") == "<mark>a</mark> b <mark>c</mark>"

    def test_a_lead_is_the_first_words_escaped(self):
        assert lead("Short <body>") == "Short &lt;body&gt;"
        assert lead(" ".join(["w"] * 40)) == " ".join(["w"] * 30) + " …"


@pytest.mark.django_db
class TestOnBothDatabases:
    def test_the_matched_word_is_marked_and_the_rest_escaped(self, customer):
        ArticleFactory(title="Care", body="If quoll < depth, the wombat `<b>knows</b>` & fits > most.", slug="snip")
        [result] = search.article_search(user=customer, q="wombat")
        assert marked(result.snippet) == ["wombat"]
        assert "<b>" not in result.snippet
        assert "&lt;b&gt;knows&lt;/b&gt;" in result.snippet
        assert "&lt; depth" in result.snippet


@on_postgresql
@pytest.mark.django_db
class TestOnPostgreSQL:
    def test_every_form_of_a_stemmed_word_is_marked(self, customer):
        ArticleFactory(title="Money", body="Refunded within days; refunds are quick. Refuel and refunding.", slug="r")
        [result] = [result for result in search.article_search(user=customer, q="refund") if result.article.slug == "r"]
        assert marked(result.snippet) == ["Refunded", "refunds", "refunding"]

    def test_search_results_mark_the_stems_of_the_query_words(self, customer):
        ArticleFactory(title="Velvet care", body="We refunded the velvet cover.", slug="velvet")
        [result] = search.article_search(user=customer, q="refunds velvet")
        assert marked(result.snippet) == ["refunded", "velvet"]

    def test_a_phrase_marks_its_words(self, customer):
        ArticleFactory(title="Velvet care", body="Steam gently, never iron. Steam again.", slug="velvet")
        [result] = search.article_search(user=customer, q='"steam gently"')
        assert marked(result.snippet) == ["Steam", "gently", "Steam"]

    def test_far_apart_matches_give_two_parts_joined_with_an_ellipsis(self, customer):
        body = f"{words(40, 'a')} the wombat sleeps {words(40, 'b')} the numbat digs {words(40, 'c')}"
        ArticleFactory(title="Marsupials", body=body, slug="far")
        [result] = search.article_search(user=customer, q="wombat numbat")
        first, second = result.snippet.split(DELIMITER)
        assert marked(first) == ["wombat"]
        assert marked(second) == ["numbat"]
        assert len(result.snippet.split()) <= 2 * search.SNIPPET_WORDS + 1

    def test_a_title_only_match_shows_the_lead(self, customer):
        ArticleFactory(title="Wombat care", body="Nothing about it here.", slug="lead")
        [result] = search.article_search(user=customer, q="wombat")
        assert result.snippet == "Nothing about it here."

    def test_snippets_come_from_the_start_of_a_long_body(self, customer):
        body = f"{'filler ' * (search.SNIPPET_CHARS // 7)} the wombat sleeps"
        ArticleFactory(title="Long", body=body, slug="long")
        [result] = search.article_search(user=customer, q="wombat")
        assert marked(result.snippet) == []
        assert result.snippet.startswith("filler filler")
