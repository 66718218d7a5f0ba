"""Snippets made in Python for PostgreSQL results: stems, negations, fragments, the lead, escaping."""

from __future__ import annotations

import re

import pytest
from django.db import connection

from knowledge import search, snippets
from knowledge.snippets import snippet, stem, tsquery_lexemes
from tests.knowledge.factories import ArticleFactory

on_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="compares with PostgreSQL's own parser and stemmer"
)


def marked(html: str) -> list[str]:
    return re.findall(r"<mark>(.*?)</mark>", html)


def words(n: int, word: str = "filler") -> str:
    return " ".join(f"{word}{i}" for i in range(n))


class TestStem:
    def test_is_snowball_english(self):
        assert {stem(word) for word in ("refund", "refunds", "refunded", "refunding")} == {"refund"}
        assert stem("deliveries") == stem("delivery") == "deliveri"
        assert stem("gently") == "gentl"

    def test_words_with_digits_are_not_stemmed(self):
        assert stem("30") == "30"
        assert stem("covers2") == "covers2"


class TestTsqueryLexemes:
    def test_reads_postgresqls_text_form(self):
        assert tsquery_lexemes("'sofa' & 'cover'") == {"sofa", "cover"}
        assert tsquery_lexemes("'steam' <-> 'gentl' | 'it''s'") == {"steam", "gentl", "it's"}
        assert tsquery_lexemes("'made-to-measur' <-> 'made' <2> 'measur'") == {"made-to-measur", "made", "measur"}

    def test_leaves_out_negated_lexemes_and_groups(self):
        tsquery = "'velvet' & !( 'sofa' <-> 'cover' ) | !'x' & 'throw'"
        assert tsquery_lexemes(tsquery) == {"velvet", "throw"}
        assert tsquery_lexemes("!!'twice'") == {"twice"}
        assert tsquery_lexemes("") == frozenset()


class TestSnippet:
    def test_marks_every_form_with_the_querys_stem_and_nothing_else(self):
        html = snippet("Refunded within days; refunds are quick. Refuel and refunding.", frozenset({"refund"}))
        assert marked(html) == ["Refunded", "refunds", "refunding"]
        assert "Refuel" in html

    def test_marks_words_not_parts_of_words(self):
        html = snippet("Recover the cover, then discover covers_and coverage, a covenant.", frozenset({"cover"}))
        assert marked(html) == ["cover", "covers"]
        assert "<mark>cover</mark>, then" in html

    def test_does_not_mark_negated_words(self):
        lexemes = tsquery_lexemes("'velvet' & !'size'")
        html = snippet("Velvet covers in every size: pick sizes carefully.", lexemes)
        assert marked(html) == ["Velvet"]

    def test_escapes_the_body(self):
        body = "<script>alert(\"x\")</script> & 'quoted' wombat <b>bold</b>"
        html = snippet(body, frozenset({"wombat"}))
        assert "<script>" not in html
        assert "<b>" not in html
        assert html == (
            "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#x27;quoted&#x27; "
            "<mark>wombat</mark> &lt;b&gt;bold&lt;/b&gt;"
        )

    def test_marker_characters_in_the_body_make_no_marks(self):
        html = snippet("a \x02trap\x03 and a wombat", frozenset({"wombat"}))
        assert marked(html) == ["wombat"]
        assert "\x02" not in html
        assert "\x03" not in html

    def test_close_matches_share_one_part_of_thirty_words(self):
        body = f"{words(50, 'before')} the wombat and the numbat {words(50, 'after')}"
        html = snippet(body, frozenset({"wombat", "numbat"}))
        assert " … " not in html
        assert len(html.split()) == snippets.SNIPPET_WORDS
        assert marked(html) == ["wombat", "numbat"]

    def test_far_apart_matches_give_two_parts_joined_with_an_ellipsis(self):
        body = f"{words(40, 'a')} the wombat sleeps {words(40, 'b')} the numbat digs {words(40, 'c')}"
        html = snippet(body, frozenset({"wombat", "numbat"}))
        first, second = html.split(" … ")
        assert marked(first) == ["wombat"]
        assert marked(second) == ["numbat"]
        assert len(first.split()) + len(second.split()) == snippets.SNIPPET_WORDS

    def test_a_second_part_prefers_a_query_word_the_first_lacks(self):
        body = f"wombat wombat {words(40)} wombat {words(40, 'x')} numbat {words(40, 'y')}"
        html = snippet(body, frozenset({"wombat", "numbat"}))
        assert "numbat" in marked(html.split(" … ")[1])

    def test_without_a_match_gives_the_lead(self):
        body = words(40)
        assert snippet(body, frozenset({"wombat"})) == " ".join(body.split()[:30]) + " …"
        assert snippet("Short <body>", frozenset()) == "Short &lt;body&gt;"

    def test_irregular_forms_and_odd_lower_case(self):
        assert marked(snippet("A dying battery dies.", frozenset({"die"}))) == ["dying", "dies"]
        # "İ" lowers to two characters: the marks must still land on the right word.
        assert marked(snippet("İİİ İstanbul wombat covers", frozenset({"cover"}))) == ["covers"]

    def test_numbers_match_exactly(self):
        assert marked(snippet("Wash at 30 degrees, not 300 or 3.", frozenset({"30"}))) == ["30"]

    def test_hyphenated_words_mark_their_parts(self):
        html = snippet("Our made-to-measure covers.", frozenset({"made-to-measur", "made", "measur"}))
        assert "<mark>made</mark>-to-<mark>measure</mark>" in html


@on_postgresql
@pytest.mark.django_db
class TestAgainstPostgreSQL:
    WORDS = [
        "added",
        "refunds",
        "refunding",
        "deliveries",
        "delivery",
        "cushions",
        "washing",
        "generously",
        "happily",
        "organisation",
        "sensational",
        "possibly",
        "humbly",
        "dying",
        "lying",
        "skies",
        "news",
        "gently",
        "early",
        "measuring",
        "measure",
        "recliner",
    ]

    def test_the_stemmer_is_the_one_of_postgresqls_english_configuration(self):
        # Snowball 3 stems "added" to "add", PostgreSQL's Snowball 2.2 to "ad": the pin must follow the database.
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT word, (ts_lexize('english_stem', word))[1] FROM unnest(%s::text[]) word", [self.WORDS]
            )
            expected = dict(cursor.fetchall())
        assert {word: stem(word) for word in self.WORDS} == expected

    def test_search_results_mark_stems_and_skip_negated_words(self, customer):
        ArticleFactory(title="Velvet care", body="We refunded the velvet cover; sizes vary.", slug="velvet")
        # Found for "refunds velvet" (any article without "sizes" matches too: the seeded FAQs).
        results = search.article_search(user=customer, q="refunds velvet or -sizes", limit=100)
        [result] = [result for result in results if result.article.slug == "velvet"]
        assert marked(result.snippet) == ["refunded", "velvet"]

    def test_a_phrase_marks_its_words(self, customer):
        ArticleFactory(title="Velvet care", body="Steam gently, never iron. Steam again.", slug="velvet")
        [result] = search.article_search(user=customer, q='"steam gently"')
        assert marked(result.snippet) == ["Steam", "gently", "Steam"]

    def test_a_title_only_match_shows_the_lead(self, customer):
        ArticleFactory(title="Wombat care", body="Nothing about it here.", slug="lead")
        [result] = search.article_search(user=customer, q="wombat")
        assert result.snippet == "Nothing about it here."
