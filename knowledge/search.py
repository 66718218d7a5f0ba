"""Full-text search over articles, on whichever database the desk runs.

PostgreSQL: a weighted tsvector (title A, tags B, body C, config ``english``
so "refunds" finds "refund") in ``Article.search_vector`` with a GIN index,
ranked with ts_rank, snippets from ts_headline over the first SNIPPET_CHARS of
the body.
ts_rank runs over a bounded set of candidates (see ``_pg_rank``): a word in
most of 10,000 articles costs what a word in a few hundred does.

SQLite: an FTS5 table (porter stemming) with the same three columns, ranked
with bm25 (same weights) and snippets from FTS5's snippet(). Both mark the
matched words with START and STOP; ``highlight`` escapes the text and turns
them into <mark>.

Typos, on both: when the words as spelled find nothing, each query word is
replaced by the closest word of the visible articles' titles and tags and the
search runs again ("refnud" → "refund"; ``SearchResults.corrected`` says so,
for "Showing results for …"). PostgreSQL picks the word by pg_trgm similarity
(``_pg_corrections``: one statement over the titles and tags of the
CORRECTION_ARTICLES most helpful visible articles); SQLite by difflib's ratio
over the same words, read once and cached (``_sqlite_vocabulary``). When that
finds nothing either, PostgreSQL still offers titles that look alike
(pg_trgm word similarity on the title's trigram index).

Both keep the index current through ``index_article``, which the save
services call inside their transaction. ``article_search`` is the one entry
point for the API, the portal and the console; visibility comes from
selectors.article_list_visible_to, so search can never show more than a list.
Results come as ``SearchResults``: the ranked ids, with articles read and
snippets made only for the slice asked for (the page shown).
"""

from __future__ import annotations

import difflib
import hashlib
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, Literal, overload

from django.contrib.auth.models import AnonymousUser, User
from django.contrib.postgres.lookups import TrigramWordSimilar
from django.contrib.postgres.search import (
    SearchHeadline,
    SearchQuery,
    SearchRank,
    SearchVector,
    TrigramWordSimilarity,
)
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Count, F, Max, QuerySet, TextField, Value
from django.db.models.expressions import CombinedExpression, RawSQL
from django.db.models.functions import Replace, Substr
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from . import selectors
from .models import Article

CONFIG = "english"
MAX_QUERY = 200
MAX_TERMS = 16
# Word similarity (0..1) a title needs to be offered for a query FTS could not match.
TRIGRAM_THRESHOLD = 0.45
SQLITE_WEIGHTS = (10.0, 4.0, 1.0)  # title, tags, body, as PostgreSQL's A/B/C
PG_WEIGHTS = [0.1, 0.2, 0.4, 1.0]  # D, C, B, A
# Matching articles ranked at most per pool (see _pg_rank): bounds the cost of a word most articles contain.
CANDIDATES = 300
# Snippets are cut from the first this-many characters of the body text (ts_headline parses all it is given).
SNIPPET_CHARS = 1_000
# Up to SNIPPET_FRAGMENTS parts of the body of up to SNIPPET_WORDS words each, joined with DELIMITER.
SNIPPET_FRAGMENTS = 2
SNIPPET_WORDS = 15
DELIMITER = " … "
# Marks around matched words and stand-ins for < and > (PostgreSQL's parser takes "<b>" for a tag and leaves
# it out of a headline): private-use characters, which escape() and ts_headline leave alone.
START, STOP, LT, GT = "\ue000", "\ue001", "\ue002", "\ue003"

# The typo fallback's vocabulary: the title and tag words of this many visible articles (the most helpful).
CORRECTION_ARTICLES = 2_000
# PostgreSQL: the pg_trgm similarity (0..1) a title or tag word needs to stand in for a query word
# ("refnud"/"refund" is 0.27, "refnd" 0.44, "delivry" 0.55, "pasword" 0.7).
CORRECTION_SIMILARITY = 0.25
# SQLite: difflib's ratio (0..1) a word needs ("refnud"/"refund" is 0.83); words differing in length by more
# than CORRECTION_LENGTH_DIFF are not compared.
CORRECTION_RATIO = 0.75
CORRECTION_LENGTH_DIFF = 2
# Words shorter than this are never corrected (too many near neighbours).
CORRECTION_MIN_LENGTH = 3
VOCABULARY_CACHE_SECONDS = 600

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


def _vector() -> CombinedExpression:
    return (
        SearchVector(_no_tags("title"), weight="A", config=CONFIG)
        + SearchVector("tag_text", weight="B", config=CONFIG)
        + SearchVector(_no_tags("body_text"), weight="C", config=CONFIG)
    )


def _head_vector() -> CombinedExpression:
    """Title and tags only (what ranks above any body match); migration 0005 backfills the same expression."""
    return SearchVector(_no_tags("title"), config=CONFIG) + SearchVector("tag_text", config=CONFIG)


def index_article(article: Article) -> None:
    """Bring the article's search index entry up to date (call inside the saving transaction)."""
    index_articles([article])


def index_articles(articles: Sequence[Article]) -> None:
    """``index_article`` for many articles in a few statements (bulk loads)."""
    if not articles:
        return
    if connection.vendor == "postgresql":
        Article.objects.filter(pk__in=[article.pk for article in articles]).update(
            search_vector=_vector(), title_tags_vector=_head_vector()
        )
    elif connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.executemany("DELETE FROM knowledge_article_fts WHERE rowid = %s", [[a.pk] for a in articles])
            cursor.executemany(
                "INSERT INTO knowledge_article_fts (rowid, title, tags, body) VALUES (%s, %s, %s, %s)",
                [[a.pk, a.title, a.tag_text, a.body_text] for a in articles],
            )


def unindex_article(article_id: int) -> None:
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM knowledge_article_fts WHERE rowid = %s", [article_id])
    # PostgreSQL: the vector is a column of the deleted row.


def reindex_all() -> int:
    """Rebuild every entry (after a bulk load or a restore from backup). Returns the number indexed."""
    if connection.vendor == "postgresql":
        return Article.objects.update(search_vector=_vector(), title_tags_vector=_head_vector())
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
    found = article_search_results(
        user=user, q=q, category=category, audience=audience, limit=limit, match=match, published_only=published_only
    )
    return list(found)


def article_search_results(
    *,
    user: User | AnonymousUser,
    q: str,
    category: str | None = None,
    audience: str | None = None,
    limit: int = 10,
    match: Match = "all",
    published_only: bool = False,
) -> SearchResults:
    """``article_search`` as ``SearchResults``: also says which query was searched when a typo was corrected."""
    return search_within(_scoped(user, category, audience, published_only), q, limit=limit, match=match)


@dataclass(frozen=True)
class Hit:
    article_id: int
    score: float


class SearchResults(Sequence[SearchResult]):
    """The ranked hits of one search; articles and snippets are read only for the part asked for.

    A paginator takes ``len()`` (no COUNT query: the hits are already counted)
    and one slice, so only the page shown is read and highlighted.
    """

    def __init__(self, hits: list[Hit], fetch: Callable[[list[Hit]], list[SearchResult]], corrected: str = "") -> None:
        self.hits = hits
        self._fetch = fetch
        # The query that was searched instead of the one asked, when its words found nothing ("refund" for
        # "refnud"); "" when the words were searched as spelled.
        self.corrected = corrected

    def __len__(self) -> int:
        return len(self.hits)

    @overload
    def __getitem__(self, index: int) -> SearchResult: ...

    @overload
    def __getitem__(self, index: slice) -> list[SearchResult]: ...

    def __getitem__(self, index: int | slice) -> SearchResult | list[SearchResult]:
        if isinstance(index, slice):
            hits = self.hits[index]
            return self._fetch(hits) if hits else []
        found = self._fetch([self.hits[index]])
        if not found:
            raise IndexError("The article of this hit is gone.")
        return found[0]

    def __iter__(self) -> Iterator[SearchResult]:
        return iter(self[:])


NO_RESULTS = SearchResults([], lambda hits: [])


def search_within(articles: QuerySet[Article], q: str, *, limit: int = 10, match: Match = "all") -> SearchResults:
    """Search inside an already visibility-filtered queryset (the API's filtered list). Prefer article_search."""
    q = q.replace("\x00", "").strip()[:MAX_QUERY]  # NUL: never text to PostgreSQL
    terms = _terms(q)
    if not terms or limit <= 0:
        return NO_RESULTS
    if connection.vendor not in ("postgresql", "sqlite"):
        raise NotImplementedError(f"No article search for {connection.vendor}.")
    found = _search_as_spelled(articles, q, terms, match, limit)
    if found.hits:
        return found
    # Typo tolerance: nothing matched the words as spelled; try the closest title and tag words.
    corrected = _corrected_terms(articles, terms)
    if corrected != terms:
        instead = " ".join(corrected)
        found = _search_as_spelled(articles, instead, corrected, match, limit)
        if found.hits:
            return SearchResults(found.hits, found._fetch, corrected=instead)
    if connection.vendor == "postgresql":
        # Last: titles that look alike as a whole.
        return SearchResults(_pg_similar_titles(articles, q, limit), partial(_with_lead, articles))
    return NO_RESULTS


def _search_as_spelled(
    articles: QuerySet[Article], q: str, terms: list[str], match: Match, limit: int
) -> SearchResults:
    if connection.vendor == "postgresql":
        return _search_postgresql(articles, q, terms, match, limit)
    return _search_sqlite(articles, terms, match, limit)


def _corrected_terms(articles: QuerySet[Article], terms: list[str]) -> list[str]:
    """``terms`` with each word that is not a title or tag word replaced by the closest one (kept when none is)."""
    if not any(len(term) >= CORRECTION_MIN_LENGTH for term in terms):
        return terms
    vocabulary = articles.order_by("-helpful_yes", "id")[:CORRECTION_ARTICLES]
    best: dict[str, str | None]
    if connection.vendor == "postgresql":
        best = dict(_pg_corrections(vocabulary, terms))
    else:
        words = _sqlite_vocabulary(articles, vocabulary)
        best = {term: _closest(term, words) for term in terms if term not in words}
    return [best.get(term) or term if len(term) >= CORRECTION_MIN_LENGTH else term for term in terms]


def _pg_corrections(vocabulary: QuerySet[Article], terms: list[str]) -> dict[str, str]:
    """Each term's most similar title or tag word (pg_trgm ``similarity``), in one statement; a term that is
    itself a word maps to itself (similarity 1)."""
    inner_sql, inner_params = vocabulary.values("title", "tag_text").query.sql_with_params()
    sql = (
        "SELECT DISTINCT ON (t.term) t.term, w.word FROM unnest(%s::text[]) AS t(term) "
        "JOIN (SELECT DISTINCT word FROM ("
        "SELECT regexp_split_to_table(lower(a.title || ' ' || a.tag_text), '[^[:alnum:]]+') AS word "
        f"FROM ({inner_sql}) AS a) AS split WHERE length(word) >= %s) AS w "
        "ON similarity(w.word, t.term) >= %s "
        "ORDER BY t.term, similarity(w.word, t.term) DESC, w.word"
    )
    params = [terms, *inner_params, CORRECTION_MIN_LENGTH, CORRECTION_SIMILARITY]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return dict(cursor.fetchall())


def _sqlite_vocabulary(articles: QuerySet[Article], vocabulary: QuerySet[Article]) -> frozenset[str]:
    """The title and tag words of ``vocabulary``, cached under the query and the articles' count and last edit
    (an article published, edited or deleted starts a new entry)."""
    stamp = articles.aggregate(n=Count("pk"), at=Max("updated_at"))
    sql, params = vocabulary.values("pk").query.sql_with_params()
    key = "kb:vocabulary:" + hashlib.sha256(f"{sql}|{params!r}|{stamp['n']}|{stamp['at']}".encode()).hexdigest()
    words = cache.get(key)
    if words is None:
        found: set[str] = set()
        for title, tag_text in vocabulary.values_list("title", "tag_text"):
            found.update(re.findall(r"\w+", f"{title} {tag_text}".lower()))
        words = frozenset(word for word in found if len(word) >= CORRECTION_MIN_LENGTH and word not in STOPWORDS)
        cache.set(key, words, VOCABULARY_CACHE_SECONDS)
    return words


def _closest(term: str, words: frozenset[str]) -> str | None:
    candidates = [word for word in words if abs(len(word) - len(term)) <= CORRECTION_LENGTH_DIFF]
    close = difflib.get_close_matches(term, sorted(candidates), n=1, cutoff=CORRECTION_RATIO)
    return close[0] if close else None


def _fetched(articles: QuerySet[Article], hits: list[Hit], **annotations: Any) -> list[tuple[Article, Hit]]:
    """The hits' articles in hit order, read in one query (plus the list's prefetches); vanished ones skipped."""
    found = articles.filter(pk__in=[hit.article_id for hit in hits]).order_by().annotate(**annotations)
    by_id = {article.pk: article for article in found}
    return [(by_id[hit.article_id], hit) for hit in hits if hit.article_id in by_id]


def _pg_query(q: str, terms: list[str], match: Match) -> SearchQuery:
    if match == "all":
        return SearchQuery(q, search_type="websearch", config=CONFIG)
    query = SearchQuery(terms[0], search_type="plain", config=CONFIG)
    for term in terms[1:]:
        query |= SearchQuery(term, search_type="plain", config=CONFIG)
    return query


def _search_postgresql(
    articles: QuerySet[Article], q: str, terms: list[str], match: Match, limit: int
) -> SearchResults:
    query = _pg_query(q, terms, match)
    hits = [Hit(pk, float(rank)) for pk, rank, _ in _pg_ranked(articles, query, limit)]
    return SearchResults(hits, partial(_pg_snippets, articles, query))


def _pg_ranked(
    articles: QuerySet[Article], query: SearchQuery, limit: int
) -> QuerySet[Article, tuple[int, float, int]]:
    """The best ``limit`` matches (id, rank, helpfulness): ts_rank over a bounded candidate set, never over every match.

    Candidates: the CANDIDATES most helpful articles whose title or tags match
    (they outrank any body-only match) and the CANDIDATES most helpful that
    match anywhere. Below that many matches the ranking is exact; a word in
    thousands of articles costs no more than one in a few hundred. Each
    candidate query walks an index (helpfulness, or GIN for rarer words) and
    ranks the rows it reads; bodies stay in the table.
    """
    size = max(CANDIDATES, limit)
    visible = articles.order_by("-helpful_yes", "id").annotate(
        rank=SearchRank(F("search_vector"), query, weights=PG_WEIGHTS)
    )
    columns = ("id", "rank", "helpful_yes")
    by_head = visible.filter(title_tags_vector=query).values_list(*columns)[:size]
    anywhere = visible.filter(search_vector=query).values_list(*columns)[:size]
    return by_head.union(anywhere).order_by("-rank", "-helpful_yes", "id")[:limit]


def _pg_snippets(articles: QuerySet[Article], query: SearchQuery, hits: list[Hit]) -> list[SearchResult]:
    """The hits' articles with ts_headline's snippets of the start of their bodies, < and > kept as text.

    A body without the query's words (the title or the tags matched) shows its lead.
    """
    start = Substr("body_text", 1, SNIPPET_CHARS)
    text = Replace(Replace(start, Value("<"), Value(LT)), Value(">"), Value(GT), output_field=TextField())
    headline = SearchHeadline(
        text,
        query,
        config=CONFIG,
        start_sel=START,
        stop_sel=STOP,
        max_words=SNIPPET_WORDS,
        min_words=SNIPPET_WORDS // 2,
        max_fragments=SNIPPET_FRAGMENTS,
        fragment_delimiter=DELIMITER,
    )
    return [
        SearchResult(
            article=article,
            score=hit.score,
            # (headline: the annotation _fetched adds)
            snippet=highlight(article.headline) if START in article.headline else lead(article.body_text),  # type: ignore[attr-defined]
        )
        for article, hit in _fetched(articles, hits, headline=headline)
    ]


def _pg_similar_titles(articles: QuerySet[Article], q: str, limit: int) -> list[Hit]:
    """Titles whose words look like ``q`` (pg_trgm word similarity), found through the trigram index.

    The ``%>`` operator (the one the index serves) reads its threshold from a setting:
    set here with SET LOCAL semantics, so it ends with the transaction (or the caller's).
    """
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT set_config('pg_trgm.word_similarity_threshold', %s, true)", [str(TRIGRAM_THRESHOLD)])
        similar = list(
            articles.filter(TrigramWordSimilar(F("title"), Value(q)))
            .order_by()
            .annotate(similarity=TrigramWordSimilarity(q, "title"))
            .order_by("-similarity", "-helpful_yes", "id")
            .values_list("id", "similarity")[:limit]
        )
    return [Hit(pk, float(similarity)) for pk, similarity in similar]


def _with_lead(articles: QuerySet[Article], hits: list[Hit]) -> list[SearchResult]:
    return [
        SearchResult(article=article, score=hit.score, snippet=lead(article.body_text))
        for article, hit in _fetched(articles, hits)
    ]


def _fts5_query(terms: list[str], match: Match) -> str:
    # Each term quoted: FTS5 syntax characters in user input are data, never operators.
    quoted = [f'"{term}"' for term in terms]
    return (" AND " if match == "all" else " OR ").join(quoted)


def _search_sqlite(articles: QuerySet[Article], terms: list[str], match: Match, limit: int) -> SearchResults:
    """bm25 over every visible match (exact; a few milliseconds per thousand matches); snippets for the page only."""
    visible_sql, visible_params = articles.order_by().values("pk").query.sql_with_params()
    w_title, w_tags, w_body = SQLITE_WEIGHTS
    # "+rowid": the visible ids filter the matches. A bare "rowid IN" lets SQLite run the
    # MATCH once per visible id instead, seconds for a few thousand articles.
    sql = (
        "SELECT rowid, "
        f"bm25(knowledge_article_fts, {w_title}, {w_tags}, {w_body}) AS score "
        "FROM knowledge_article_fts "
        f"WHERE knowledge_article_fts MATCH %s AND +rowid IN ({visible_sql}) "
        "ORDER BY score LIMIT %s"
    )
    fts_query = _fts5_query(terms, match)
    with connection.cursor() as cursor:
        cursor.execute(sql, [fts_query, *visible_params, limit])
        # bm25 is "lower is better" and negative; report higher-is-better like PostgreSQL.
        hits = [Hit(pk, -float(score)) for pk, score in cursor.fetchall()]
    return SearchResults(hits, partial(_sqlite_snippets, articles, fts_query))


def _sqlite_snippets(articles: QuerySet[Article], fts_query: str, hits: list[Hit]) -> list[SearchResult]:
    # snippet() needs the MATCH in its own statement: a correlated subquery per fetched article.
    snippet = RawSQL(
        "SELECT snippet(knowledge_article_fts, 2, %s, %s, ' … ', 24) FROM knowledge_article_fts "
        "WHERE knowledge_article_fts MATCH %s AND knowledge_article_fts.rowid = knowledge_article.id",
        [START, STOP, fts_query],
        output_field=TextField(),
    )
    return [
        # (fts_snippet: the annotation _fetched adds)
        SearchResult(article=article, score=hit.score, snippet=highlight(article.fts_snippet or ""))  # type: ignore[attr-defined]
        for article, hit in _fetched(articles, hits, fts_snippet=snippet)
    ]


def highlight(text: str) -> SafeString:
    """Escape a snippet, then turn the START/STOP marks (which escape() leaves alone) into <mark>."""
    out, inside = [], False
    for part in re.split(f"({START}|{STOP})", escape(text.replace(LT, "<").replace(GT, ">"))):
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


def lead(text: str, words: int = SNIPPET_FRAGMENTS * SNIPPET_WORDS) -> SafeString:
    """The body's first ``words`` words, escaped: the snippet of an article matched by its title or tags."""
    parts = text.split()
    start = " ".join(parts[:words]) + (" …" if len(parts) > words else "")
    return mark_safe(escape(start))  # safe: escaped
