"""Markdown to safe HTML: the only module that imports markdown.

Every article body (and anything else shown as markdown) goes through
``render_markdown``: Python-Markdown with tables, fenced code and heading
anchors, then nh3 against the explicit allow-list below (tags, attributes per
tag, URL schemes http/https/mailto, ``rel="noopener nofollow"`` on links,
comments stripped). Task lists ("- [ ] step") become disabled checkboxes
*after* sanitising, from fixed markup, so nothing the author writes can add
an input. Titles and ticket text are plain text: ``render_text`` escapes.
"""

from __future__ import annotations

import html
import re
import threading

import markdown
import nh3
from django.utils.html import linebreaks
from django.utils.safestring import SafeString, mark_safe
from markdown.extensions.toc import slugify as _toc_slugify

ALLOWED_TAGS: frozenset[str] = frozenset(
    {
        "a",
        "abbr",
        "b",
        "blockquote",
        "br",
        "code",
        "dd",
        "del",
        "dl",
        "dt",
        "em",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "hr",
        "i",
        "img",
        "kbd",
        "li",
        "ol",
        "p",
        "pre",
        "s",
        "strong",
        "sub",
        "sup",
        "table",
        "tbody",
        "td",
        "th",
        "thead",
        "tr",
        "ul",
    }
)
_HEADINGS = {f"h{level}" for level in range(1, 7)}
ALLOWED_ATTRIBUTES: dict[str, set[str]] = {
    "a": {"href", "title"},
    "abbr": {"title"},
    "img": {"src", "alt", "title", "width", "height"},
    "code": {"class"},
    "th": {"align"},
    "td": {"align"},
    "ol": {"start"},
    **{tag: {"id"} for tag in _HEADINGS},
}
URL_SCHEMES: frozenset[str] = frozenset({"http", "https", "mailto"})
LINK_REL = "noopener nofollow"
# Removed together with everything inside them (not just the tags).
CLEAN_CONTENT_TAGS = frozenset({"script", "style", "iframe", "object", "embed", "noscript", "template", "xmp"})

_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,99}$")
_CODE_CLASS = re.compile(r"^language-[A-Za-z0-9_+-]{1,40}$")
_ALIGN = {"left", "right", "center"}
_DIMENSION = re.compile(r"^\d{1,4}$")


def _attribute_filter(tag: str, attr: str, value: str) -> str | None:
    """Values the allow-list lets through, narrowed further: no free-form ids, classes or sizes."""
    if attr == "id":
        return value if _ID.match(value) else None
    if tag == "code" and attr == "class":
        return value if _CODE_CLASS.match(value) else None
    if attr == "align":
        return value if value in _ALIGN else None
    if attr in {"width", "height", "start"}:
        return value if _DIMENSION.match(value) else None
    return value


def _slugify(value: str, separator: str) -> str:
    return _toc_slugify(value, separator)[:80] or "section"


_local = threading.local()


def _converter() -> markdown.Markdown:
    """One Markdown instance per thread (instances keep state between conversions)."""
    md = getattr(_local, "md", None)
    if md is None:
        md = markdown.Markdown(
            extensions=["tables", "fenced_code", "toc", "sane_lists"],
            extension_configs={
                "tables": {"use_align_attribute": True},
                "toc": {"slugify": _slugify, "permalink": False},
            },
            output_format="html",
        )
        _local.md = md
    return md


def sanitize(fragment: str) -> str:
    """nh3 with the desk's allow-list. Safe to apply to any HTML fragment."""
    return nh3.clean(
        fragment,
        tags=set(ALLOWED_TAGS),
        clean_content_tags=set(CLEAN_CONTENT_TAGS),
        attributes={tag: set(attrs) for tag, attrs in ALLOWED_ATTRIBUTES.items()},
        attribute_filter=_attribute_filter,
        strip_comments=True,
        link_rel=LINK_REL,
        url_schemes=set(URL_SCHEMES),
    )


_TASK_ITEM = re.compile(r"<li>(\s*<p>)?\[([ xX])\][ \t]+")


def _task_lists(fragment: str) -> str:
    def box(match: re.Match[str]) -> str:
        checked = " checked" if match.group(2) in "xX" else ""
        return f'<li class="task-list-item">{match.group(1) or ""}<input type="checkbox" disabled{checked}> '

    return _TASK_ITEM.sub(box, fragment)


def render_markdown(source: str) -> str:
    """Markdown source to sanitised HTML (a plain ``str``: store it; mark it safe where it is shown)."""
    md = _converter()
    md.reset()
    # NUL bytes are never content; browsers and parsers disagree about them.
    raw = md.convert(source.replace("\x00", ""))
    return _task_lists(sanitize(raw))


def html_to_text(fragment: str) -> str:
    """The text of a (sanitised) fragment, tags dropped, for search indexing and snippets."""
    text = nh3.clean(fragment, tags=set(), clean_content_tags=set(CLEAN_CONTENT_TAGS), attributes={})
    text = html.unescape(text)
    return re.sub(r"[ \t\r\f\v]+", " ", re.sub(r"\n\s*\n+", "\n", text)).strip()


def render_text(text: str) -> SafeString:
    """Plain text (a ticket subject or message) as HTML: escaped, line breaks kept."""
    return mark_safe(linebreaks(text, autoescape=True))  # safe: linebreaks escaped it


def mark_rendered(body_html: str) -> SafeString:
    """Mark a stored ``body_html`` (produced by render_markdown) safe for templates."""
    return mark_safe(body_html)  # safe: only ever the sanitiser's output


# Task-list items in markdown source: "- [ ] Check CDN status" / "* [x] Done".
TASK_LINE = re.compile(r"^\s{0,3}[-*+]\s+\[([ xX])\]\s+(?P<text>.+?)\s*$", re.MULTILINE)


def task_steps(source: str) -> list[str]:
    """The task-list steps of a markdown source, in order, as plain text (runbook steps)."""
    return [re.sub(r"[*_`]+", "", match.group("text")).strip() for match in TASK_LINE.finditer(source)]
