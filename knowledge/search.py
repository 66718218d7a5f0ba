"""Full-text search over articles, on whichever database the desk runs.

PostgreSQL: a weighted tsvector (title A, tags B, body C, config ``english``
so "refunds" finds "refund") in ``Article.search_vector`` with a GIN index,
ranked with ts_rank, snippets from ts_headline; when that finds nothing, a
pg_trgm word-similarity match on the title tolerates typos ("refnud").

SQLite: an FTS5 table (porter stemming) with the same three columns, ranked
with bm25 (same weights) and snippets from snippet().

Both keep the index current through ``index_article``, which the save
services call inside their transaction. ``article_search`` is the one entry
point for the API, the portal and the console; visibility comes from
selectors.article_list_visible_to, so search can never show more than a list.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from django.contrib.auth.models import AnonymousUser, User
from django.contrib.postgres.search import (
    SearchHeadline,
    SearchQuery,
    SearchRank,
    SearchVector,
    TrigramWordSimilarity,
)
from django.db import connection
from django.db.models import F, QuerySet, TextField, Value
from django.db.models.functions import Replace
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from . import selectors
from .models import Article

CONFIG = "english"
START, STOP = "\x02", "\x03"
MAX_QUERY = 200
MAX_TERMS = 16
# Word similarity (0..1) a title needs to be offered for a query FTS could not match.
TRIGRAM_THRESHOLD = 0.45
SQLITE_WEIGHTS = (10.0, 4.0, 1.0)  # title, tags, body, as PostgreSQL's A/B/C
PG_WEIGHTS = [0.1, 0.2, 0.4, 1.0]  # D, C, B, A

Match = Literal["all", "any"]


@dataclass(frozen=True)
class SearchResult:
    article: Article
    score: float
    # Escaped text with the matched words in <mark>; safe to put in a template.
    snippet: SafeString


def _no_tags(field: str) -> Replace:
    """The column with < and > blanked: PostgreSQL's parser would read "<script> the words…" as one tag."""
    blanked = Replace(F(field), Value("<"), Value(" "), output_field=TextField())
    return Replace(blanked, Value(">"), Value(" "), output_field=TextField())


def _vector() -> SearchVector:
    return (
        SearchVector(_no_tags("title"), weight="A", config=CONFIG)
        + SearchVector("tag_text", weight="B", config=CONFIG)
        + SearchVector(_no_tags("body_text"), weight="C", config=CONFIG)
    )


def index_article(article: Article) -> None:
    """Bring the article's search index entry up to date (call inside the saving transaction)."""
    if connection.vendor == "postgresql":
        Article.objects.filter(pk=article.pk).update(search_vector=_vector())
    elif connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM knowledge_article_fts WHERE rowid = %s", [article.pk])
            cursor.execute(
                "INSERT INTO knowledge_article_fts (rowid, title, tags, body) VALUES (%s, %s, %s, %s)",
                [article.pk, article.title, article.tag_text, article.body_text],
            )


def unindex_article(article_id: int) -> None:
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM knowledge_article_fts WHERE rowid = %s", [article_id])
    # PostgreSQL: the vector is a column of the deleted row.


def reindex_all() -> int:
    """Rebuild every entry (after a bulk load or a restore from backup). Returns the number indexed."""
    if connection.vendor == "postgresql":
        return Article.objects.update(search_vector=_vector())
    count = 0
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM knowledge_article_fts")
        for article in Article.objects.only("pk", "title", "tag_text", "body_text").iterator():
            index_article(article)
            count += 1
    return count


# Words too common to mean anything in a ticket subject (PostgreSQL's english config drops its own).
STOPWORDS = frozenset(
    {
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "but",
        "by",
        "can",
        "do",
        "does",
        "for",
        "from",
        "get",
        "got",
        "has",
        "have",
        "how",
        "i",
        "i'm",
        "im",
        "is",
        "it",
        "its",
        "me",
        "my",
        "no",
        "not",
        "of",
        "on",
        "or",
        "our",
        "please",
        "so",
        "that",
        "the",
        "this",
        "to",
        "was",
        "we",
        "what",
        "when",
        "where",
        "why",
        "will",
        "with",
        "you",
        "your",
    }
)


def _terms(q: str) -> list[str]:
    words = re.findall(r"\w+", q.lower())
    meaningful = [word for word in words if word not in STOPWORDS]
    return (meaningful or words)[:MAX_TERMS]


def highlight(text: str) -> SafeString:
    """Escape a snippet, then turn the START/STOP markers (which escape() leaves alone) into <mark>."""
    out, inside = [], False
    for part in re.split(f"({START}|{STOP})", escape(text)):
        if part == START:
            if not inside:
                out.append("<mark>")
            inside = True
        elif part == STOP:
            if inside:
                out.append("</mark>")
            inside = False
        else:
            out.append(part)
    if inside:
        out.append("</mark>")
    return mark_safe("".join(out))  # safe: every text part went through escape()


def _lead(text: str, words: int = 30) -> SafeString:
    parts = text.split()
    lead = " ".join(parts[:words]) + (" …" if len(parts) > words else "")
    return mark_safe(escape(lead))  # safe: escaped


def _scoped(
    user: User | AnonymousUser, category: str | None, audience: str | None, published_only: bool
) -> QuerySet[Article]:
    articles = selectors.article_list_visible_to(user=user)
    if published_only:
        articles = articles.filter(status=Article.Status.PUBLISHED)
    if category:
        articles = articles.filter(category=category)
    if audience:
        articles = articles.filter(audience=audience)
    return articles


def article_search(
    *,
    user: User | AnonymousUser,
    q: str,
    category: str | None = None,
    audience: str | None = None,
    limit: int = 10,
    match: Match = "all",
    published_only: bool = False,
) -> list[SearchResult]:
    """Articles ``user`` may see that match ``q``, best first, with highlighted snippets.

    ``match="all"`` needs every word (a search box); ``"any"`` ranks articles
    sharing any word (suggestions for a ticket subject). ``audience`` narrows
    only within what ``user`` may see (a customer asking for internal gets
    nothing). Empty or wordless queries return [].
    """
    return search_within(_scoped(user, category, audience, published_only), q, limit=limit, match=match)


def search_within(articles: QuerySet[Article], q: str, *, limit: int = 10, match: Match = "all") -> list[SearchResult]:
    """Search inside an already visibility-filtered queryset (the API's filtered list). Prefer article_search."""
    q = q.strip()[:MAX_QUERY]
    terms = _terms(q)
    if not terms or limit <= 0:
        return []
    if connection.vendor == "postgresql":
        return _search_postgresql(articles, q, terms, match, limit)
    if connection.vendor == "sqlite":
        return _search_sqlite(articles, terms, match, limit)
    raise NotImplementedError(f"No article search for {connection.vendor}.")


def _search_postgresql(
    articles: QuerySet[Article], q: str, terms: list[str], match: Match, limit: int
) -> list[SearchResult]:
    if match == "all":
        query = SearchQuery(q, search_type="websearch", config=CONFIG)
    else:
        query = SearchQuery(terms[0], search_type="plain", config=CONFIG)
        for term in terms[1:]:
            query |= SearchQuery(term, search_type="plain", config=CONFIG)
    # Rank on a narrow row (id and rank only), then read and headline just the winners:
    # a common word can match most articles, and their bodies need not leave the table.
    top = list(
        articles.filter(search_vector=query)
        .order_by()
        .annotate(rank=SearchRank(F("search_vector"), query, weights=PG_WEIGHTS))
        .order_by("-rank", "-helpful_yes", "id")
        .values_list("id", "rank")[:limit]
    )
    ranks = dict(top)
    headed = articles.filter(pk__in=ranks).annotate(
        headline=SearchHeadline(
            _no_tags("body_text"),
            query,
            config=CONFIG,
            start_sel=START,
            stop_sel=STOP,
            max_words=30,
            min_words=12,
            max_fragments=2,
            fragment_delimiter=" … ",
        )
    )
    by_id = {a.pk: a for a in headed} if top else {}
    found = [by_id[pk] for pk, _ in top if pk in by_id]
    for article in found:
        article.rank = ranks[article.pk]
    if found:
        return [SearchResult(article=a, score=float(a.rank), snippet=highlight(a.headline)) for a in found]
    # Typo tolerance: nothing matched the words as spelled; try titles that look alike.
    similar = list(
        articles.order_by()
        .annotate(similarity=TrigramWordSimilarity(q, "title"))
        .filter(similarity__gte=TRIGRAM_THRESHOLD)
        .order_by("-similarity", "-helpful_yes", "id")
        .values_list("id", "similarity")[:limit]
    )
    if not similar:
        return []
    by_id = articles.in_bulk([pk for pk, _ in similar])
    return [
        SearchResult(article=by_id[pk], score=float(score), snippet=_lead(by_id[pk].body_text))
        for pk, score in similar
        if pk in by_id
    ]


def _fts5_query(terms: list[str], match: Match) -> str:
    # Each term quoted: FTS5 syntax characters in user input are data, never operators.
    quoted = [f'"{term}"' for term in terms]
    return (" AND " if match == "all" else " OR ").join(quoted)


def _search_sqlite(articles: QuerySet[Article], terms: list[str], match: Match, limit: int) -> list[SearchResult]:
    visible_sql, visible_params = articles.order_by().values("pk").query.sql_with_params()
    w_title, w_tags, w_body = SQLITE_WEIGHTS
    sql = (
        "SELECT rowid, "
        f"bm25(knowledge_article_fts, {w_title}, {w_tags}, {w_body}) AS score, "
        "snippet(knowledge_article_fts, 2, char(2), char(3), ' … ', 24) "
        "FROM knowledge_article_fts "
        f"WHERE knowledge_article_fts MATCH %s AND rowid IN ({visible_sql}) "
        "ORDER BY score LIMIT %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [_fts5_query(terms, match), *visible_params, limit])
        rows = cursor.fetchall()
    by_id = {a.pk: a for a in articles.filter(pk__in=[row[0] for row in rows])}
    # bm25 is "lower is better" and negative; report higher-is-better like PostgreSQL.
    return [
        SearchResult(article=by_id[pk], score=-float(score), snippet=highlight(snippet))
        for pk, score, snippet in rows
        if pk in by_id
    ]
