"""What of a message's text the desk stores: HTML made safe text, quoted history and signatures cut.

- HTML: nh3 first (the allow-list below: no script, style, event handler or URL survives),
  then the cleaned tree is read as text, leaving out the quoted part that mail clients
  mark (Gmail's ``gmail_quote``, Apple Mail's ``blockquote type=cite``, Outlook's
  ``divRplyFwdMsg`` and whatever follows it).
- Text: mail-parser-reply splits the message at the "On ... wrote:" / "From: ... Sent: ..."
  headers clients write above a quote, in the languages below, and cuts signatures and
  disclaimers from the newest reply; lines quoted with ">" are dropped as well.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

import nh3
from mailparser_reply import EmailMessage

# Reply headers in these languages are recognised (mail-parser-reply's codes).
LANGUAGES = ["en", "de", "fr", "es", "it", "nl", "sv", "da", "pl"]
# The reply parser reads at most this much: a message longer than that is stored cut anyway.
PARSE_LIMIT = 20_000
# Longer lines are folded before parsing: the header patterns are read line by line.
LINE_LIMIT = 1_000

_BLOCKS = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "table", "ul", "ol", "hr"}
_TAGS = _BLOCKS | {"blockquote", "td", "th", "span", "b", "i", "em", "strong", "a", "tbody", "thead"}
_ATTRIBUTES = {"div": {"class", "id"}, "blockquote": {"type", "class"}, "hr": {"id"}, "span": {"class"}}
_DROP_WITH_CONTENT = {"script", "style", "head", "title", "template", "noscript", "iframe", "object", "svg", "math"}
_QUOTE_CLASSES = {"gmail_quote", "gmail_extra", "yahoo_quoted", "moz-cite-prefix"}
# Outlook starts the quoted mail with these; from there on, everything is history.
_HISTORY_IDS = {"divrplyfwdmsg", "appendonsend", "stopspelling", "mail-editor-reference-message-container"}
_QUOTED_LINE = re.compile(r"^\s*>")


def sanitise_html(html: str) -> str:
    """nh3 with the gateway's allow-list: structure only, no script, style, handler or link target."""
    return nh3.clean(
        html,
        tags=_TAGS,
        attributes=_ATTRIBUTES,
        clean_content_tags=_DROP_WITH_CONTENT,
        url_schemes=set(),
        link_rel=None,
        strip_comments=True,
    )


class _TextReader(HTMLParser):
    """Text of sanitised HTML; a quoted subtree is skipped, and Outlook's history ends the reading."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.stack: list[tuple[str, bool]] = []  # (tag, opened a quote)
        self.quote_depth = 0
        self.done = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.done:
            return
        values = dict(attrs)
        classes = set((values.get("class") or "").split())
        if (values.get("id") or "").lower() in _HISTORY_IDS:
            self.done = True
            return
        # Mail clients quote in a blockquote (Apple Mail and Thunderbird mark it type=cite) or a marked div.
        quote = tag == "blockquote" or bool(classes & _QUOTE_CLASSES)
        if tag in _BLOCKS and self.quote_depth == 0:
            self.parts.append("\n")
        if tag not in {"br", "hr"}:
            self.stack.append((tag, quote))
            self.quote_depth += quote

    def handle_endtag(self, tag: str) -> None:
        if self.done:
            return
        while self.stack:
            opened, quote = self.stack.pop()
            self.quote_depth -= quote
            if opened == tag:
                break
        if tag in _BLOCKS and self.quote_depth == 0:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.done and self.quote_depth == 0:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    """The text a reader sees in an HTML mail, without the quoted history its client marked."""
    if not html.strip():
        return ""
    reader = _TextReader()
    reader.feed(sanitise_html(html[: PARSE_LIMIT * 4]))
    reader.close()
    lines = [" ".join(line.split()) for line in "".join(reader.parts).split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _fold(text: str) -> str:
    lines: list[str] = []
    for line in text[:PARSE_LIMIT].split("\n"):
        lines.extend(line[i : i + LINE_LIMIT] for i in range(0, max(len(line), 1), LINE_LIMIT))
    return "\n".join(lines)


def strip_reply(text: str) -> str:
    """The newest reply of a message: no quoted history, no signature, no disclaimer.

    Empty when the message is nothing but quote (a forward without a word): the caller decides.
    """
    text = _fold(text.replace("\r\n", "\n"))
    message = EmailMessage(text=text, languages=list(LANGUAGES), keep_hyphen_lists=True).read()
    if not message.replies or message.replies[0].headers:
        return ""  # the first thing in it is a quoted mail's header: nothing new was written above it
    newest = message.replies[0].body
    kept = [line for line in newest.split("\n") if not _QUOTED_LINE.match(line)]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(kept)).strip()
