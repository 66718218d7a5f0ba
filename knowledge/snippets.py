"""Highlighted snippets of article bodies: escaped text, the matched words in <mark>.

PostgreSQL's ts_headline re-parses every body it is given, which cost more
than the rest of a search together. Snippets for PostgreSQL results are made
here instead, from the body text already read for the page: the query's
lexemes (from ``tsquery_lexemes``, the text PostgreSQL gives for the query)
are compared with each word's stem from the Snowball English stemmer, the same
one as the ``english`` configuration's dictionary (snowballstemmer is pinned
to the Snowball release PostgreSQL ships), so "refunds" marks "Refunded".
Only lexemes that are plain words are marked: a hyphenated word marks its
parts, an e-mail address or a URL in the query is found but not marked.

The SQLite path keeps FTS5's snippet(); both end in ``highlight``.
"""

from __future__ import annotations

import re
import threading
from bisect import bisect_left
from functools import lru_cache

import snowballstemmer
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

# Markers around matched words before escaping: escape() leaves control characters alone.
START, STOP = "\x02", "\x03"
# Words shown in all, split between at most FRAGMENTS parts of the body.
SNIPPET_WORDS = 30
FRAGMENTS = 2
DELIMITER = " … "
# Parts are chosen among the first this-many matches (a word on every line of a long body costs no more).
MAX_MATCHES = 100
# A word as PostgreSQL's parser splits text: letters and digits (a "made-to-measure" is three words here).
WORD = re.compile(r"[^\W_]+")
# Porter2 stems are the word up to their last letter (happy: happi, covers: cover) except these.
IRREGULAR = {"die": "dying", "lie": "lying", "tie": "tying"}
# A lexeme in PostgreSQL's text form of a tsquery ('it''s', weights or prefix after a colon), or an operator.
TSQUERY_TOKEN = re.compile(r"'((?:[^']|'')*)'|([!()])")

NO_MATCH = (-1, 0, 0, 0)  # the score of a window without matches: below any other

_stemmer = snowballstemmer.stemmer("english")
_stemmer_lock = threading.Lock()  # a snowballstemmer object keeps its state while it works


@lru_cache(maxsize=50_000)
def stem(word: str) -> str:
    """The lexeme PostgreSQL's ``english`` configuration makes of one lower-case word (stop words aside)."""
    if any(char.isdigit() for char in word):
        return word  # numbers and words with digits: the "simple" dictionary, not stemmed
    with _stemmer_lock:
        return _stemmer.stemWord(word)


def tsquery_lexemes(tsquery: str) -> frozenset[str]:
    """The lexemes of a tsquery's text form that a match contains: negated ones (``!'x'``, ``!( … )``) left out."""
    positive = set()
    # Each open parenthesis remembers whether it was negated, so "!( 'a' <-> 'b' )" negates both.
    groups: list[bool] = [False]
    bangs = 0
    for match in TSQUERY_TOKEN.finditer(tsquery):
        lexeme, operator = match.groups()
        if operator == "!":
            bangs += 1
            continue
        if operator == "(":
            groups.append(groups[-1] ^ (bangs % 2 == 1))
        elif operator == ")":
            if len(groups) > 1:
                groups.pop()
        elif not groups[-1] ^ (bangs % 2 == 1):
            positive.add(lexeme.replace("''", "'"))
        bangs = 0
    return frozenset(positive)


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


def lead(text: str, words: int = SNIPPET_WORDS) -> SafeString:
    """The body's first ``words`` words, escaped (a snippet when no word of the query is in the body)."""
    parts = text.split()
    start = " ".join(parts[:words]) + (" …" if len(parts) > words else "")
    return mark_safe(escape(start))  # safe: escaped


@lru_cache(maxsize=256)
def _prefixes(lexemes: frozenset[str]) -> tuple[str, ...]:
    """What a word stemming to one of ``lexemes`` starts with: the lexeme less its last letter (or irregular).

    A scan for these (str.find, in C) finds the few words worth stemming; ``stem`` decides.
    """
    words = [lexeme for lexeme in lexemes if WORD.fullmatch(lexeme)]  # "made-to-measur": its parts match
    prefixes = {lexeme[:-1] or lexeme for lexeme in words} | {IRREGULAR[w] for w in words if w in IRREGULAR}
    return tuple(sorted(prefixes))


def _lower(text: str) -> str:
    """``text`` in lower case, one character for one (offsets stay valid)."""
    low = text.lower()
    if len(low) == len(text):
        return low
    return "".join(char.lower() if len(char.lower()) == 1 else char for char in text)  # "İ" lowers to two


def _matches(text: str, lexemes: frozenset[str]) -> list[tuple[int, int, str]]:
    """(start, end, lexeme) of each word in ``text`` whose stem is one of ``lexemes``, in order."""
    low = _lower(text)
    found: dict[int, tuple[int, int, str]] = {}
    for prefix in _prefixes(lexemes):
        at = low.find(prefix)
        while at != -1 and len(found) < MAX_MATCHES:
            end = at + 1
            if at == 0 or not low[at - 1].isalnum():  # a word starts here
                end = WORD.match(low, at).end()  # type: ignore[union-attr]  # the prefix is letters or digits
                lexeme = stem(low[at:end])
                if lexeme in lexemes:
                    found[at] = (at, end, lexeme)
            at = low.find(prefix, end)
    return sorted(found.values())


def snippet(text: str, lexemes: frozenset[str]) -> SafeString:
    """Up to FRAGMENTS parts of ``text`` around the words matching ``lexemes``, SNIPPET_WORDS words in all.

    Parts are chosen for the most different query words, then the most matches;
    they keep the body's order, joined with " … ". A body without any match
    gives its lead. Everything is escaped; only the matched words are wrapped.
    """
    if START in text or STOP in text:
        text = text.replace(START, " ").replace(STOP, " ")
    words = text.split()
    joined = " ".join(words)
    matches = _matches(joined, lexemes)
    if not matches:
        return lead(joined)
    # The word each match is in (words are separated by exactly one space in ``joined``).
    indexes, index, counted = [], 0, 0
    for start, _, _ in matches:
        index += joined.count(" ", counted, start)
        counted = start
        indexes.append(index)
    parts = []
    for first, last in _fragments(indexes, [lexeme for _, _, lexeme in matches], len(words)):
        begin = sum(map(len, words[:first])) + first
        end = sum(map(len, words[:last])) + last - 1
        marked, at = [], begin
        for start, stop, _ in matches:
            if begin <= start and stop <= end:
                marked += [joined[at:start], START, joined[start:stop], STOP]
                at = stop
        marked.append(joined[at:end])
        parts.append("".join(marked))
    return highlight(DELIMITER.join(parts))


def _fragments(positions: list[int], lexemes: list[str], count: int) -> list[tuple[int, int]]:
    """Word ranges [first, last) to show, in order, for matches in words ``positions`` (of ``count``).

    The best part of half the words; then the best other part in the words before or after it,
    if any match is there; else the best part of all the words.
    """
    width = SNIPPET_WORDS // FRAGMENTS
    if positions[-1] - positions[0] < width:  # all close together: one part
        return [_best_window(positions, lexemes, SNIPPET_WORDS, 0, count, frozenset())[:2]]
    first, last, _ = _best_window(positions, lexemes, width, 0, count, frozenset())
    seen = frozenset(lexemes[bisect_left(positions, first) : bisect_left(positions, last)])
    before = _best_window(positions, lexemes, width, 0, first, seen)
    after = _best_window(positions, lexemes, width, last, count, seen)
    other = max(before, after, key=lambda window: window[2])
    if other[2] == NO_MATCH:  # no match outside the first part
        return [_best_window(positions, lexemes, SNIPPET_WORDS, 0, count, frozenset())[:2]]
    return sorted([(first, last), other[:2]])


def _best_window(
    positions: list[int], lexemes: list[str], width: int, low: int, high: int, seen: frozenset[str]
) -> tuple[int, int, tuple[int, int, int, int]]:
    """The best [first, last) of at most ``width`` words in [low, high), starting a little before a match.

    Score: lexemes not in ``seen``, then different lexemes, then matches, then the earliest; NO_MATCH when
    no match is in [low, high).
    """
    context = width // 4
    best = (low, low, NO_MATCH)
    for i in range(bisect_left(positions, low), bisect_left(positions, high)):
        first = max(low, min(positions[i] - context, high - width))
        last = min(first + width, high)
        inside = lexemes[bisect_left(positions, first, 0, i) : bisect_left(positions, last, i)]
        different = set(inside)
        score = (len(different - seen), len(different), len(inside), -first)
        if score > best[2]:
            best = (first, last, score)
    return best
