"""Finding HTML and script in a file read piece by piece, and images whose header is also a script.

Everything here reads lower-cased bytes: HTML names are case-insensitive and lower-casing
bytes touches only A-Z, so quotes, brackets and offsets stay where they are.
"""

from __future__ import annotations

import re

_SPACE = rb"[\t\n\x0c\r ]"  # what HTML calls whitespace (a CR is read as a newline)

# Start tags that are a web page by themselves, load or run something, or make a browser stop
# reading tags (raw text: script, style, title, textarea, ...). A tag name ends where a browser
# ends it: at whitespace, "/" or ">".
TAG_MARKERS = re.compile(
    rb"<(?:!doctype" + _SPACE + rb"{1,16}html|\?xml"
    rb"|(?:html|head|body|script|style|svg|math|iframe|frameset|object|embed|applet|img|image|video|audio"
    rb"|link|meta|base|xmp|noscript|noembed|noframes|plaintext|title|textarea)(?=[\t\n\x0c\r />]))"
)
# Script addresses: javascript:, vbscript:, data:text/html. Found by their literal tail, then
# checked backwards, which keeps the search a plain substring search.
_SCRIPT_SCHEME = re.compile(rb"script" + _SPACE + rb"{0,16}:")
_HTML_DATA = re.compile(rb"text/html")
_DATA_SCHEME_BEFORE = re.compile(rb"data" + _SPACE + rb"{0,16}:" + _SPACE + rb"{0,16}\Z")
# Every marker above is shorter than this; that much of each piece is kept for the next, so a
# marker split between two reads is still found.
MARKER_OVERLAP = 64

# An event-handler attribute with a value (the shortest handler names are oncut and onend).
EVENT_HANDLER = re.compile(rb"on[a-z]{3,}")
_NAME_KEPT = 40  # longer than any event-handler name

# Fast paths, so that ordinary text and tags cost one regular-expression call and no Python step
# each. Possessive quantifiers make them run like the state machine below, without backtracking.
# _ATTRIBUTE is one whole attribute that is not an event handler, read as a browser reads it. It
# matches only when the state after it is certain (its value is complete, or what follows shows
# that no value comes), so where a run of them stops, a browser is before an attribute name.
# Whatever is cut at the end of a piece is left to the state machine.
_ATTRIBUTE = (
    rb"[\t\n\x0c\r /]*+(?!on[a-z]{3,}+" + _SPACE + rb"*+=)[^\t\n\x0c\r />][^\t\n\x0c\r />=]*+"
    rb"(?:" + _SPACE + rb"*+=" + _SPACE + rb"*+"
    rb"(?:\"[^\"]*+\"|'[^']*+'|[^\t\n\x0c\r >\"'][^\t\n\x0c\r >]*+(?=[\t\n\x0c\r >])|(?=>))"
    rb"|(?=" + _SPACE + rb"*+[/>])"
    rb"|(?=" + _SPACE + rb"++[^\t\n\x0c\r =/>]))"
)
_ATTRIBUTES = re.compile(rb"(?:" + _ATTRIBUTE + rb")*+")
# Text, and whole tags without an event handler, comments and declarations: after each a browser
# is back to reading text.
_CLEAN_TEXT = re.compile(
    rb"(?:[^<]++"
    rb"|</?[a-z][^\t\n\x0c\r />]*+(?:" + _ATTRIBUTE + rb")*+[\t\n\x0c\r /]*+>"
    rb"|<!--(?:-?>|(?:[^-]++|-(?!-!?>))*+--!?>)"
    rb"|<!(?!--)[^>]*+>"
    rb"|<\?[^>]*+>"
    rb"|</(?![a-z])[^>]*+>"
    rb"|<(?=[^a-z!/?])"
    rb")*+"
)

_TAG_NAME_END = re.compile(rb"[\t\n\x0c\r />]")
_ATTR_NAME_END = re.compile(rb"[\t\n\x0c\r />=]")
_UNQUOTED_END = re.compile(rb"[\t\n\x0c\r >]")
_NOT_SPACE = re.compile(rb"[^\t\n\x0c\r ]")
_NOT_SPACE_OR_SLASH = re.compile(rb"[^\t\n\x0c\r /]")
_COMMENT_END = re.compile(rb"--!?>")
_GT, _SLASH, _BANG, _QUESTION, _EQUALS, _DASH = b">/!?=-"
(
    _DATA,
    _TAG_OPEN,
    _END_TAG_OPEN,
    _MARKUP,
    _COMMENT_START,
    _COMMENT,
    _BOGUS_COMMENT,
    _TAG_NAME,
    _BEFORE_ATTR,
    _ATTR_NAME,
    _AFTER_ATTR,
    _BEFORE_VALUE,
    _QUOTED,
    _UNQUOTED,
) = range(14)


def _is_letter(byte: int) -> bool:
    return 97 <= byte <= 122


def has_script_address(lowered: bytes) -> bool:
    """True when lower-cased bytes hold a javascript:, vbscript: or data:text/html address."""
    for match in _SCRIPT_SCHEME.finditer(lowered):
        if lowered.endswith((b"java", b"vb"), 0, match.start()):
            return True
    return any(
        _DATA_SCHEME_BEFORE.search(lowered, max(0, match.start() - MARKER_OVERLAP), match.start())
        for match in _HTML_DATA.finditer(lowered)
    )


class MarkupScanner:
    """Finds HTML and script markers in a file fed to it piece by piece.

    Besides the markers it runs the part of the HTML tokenizer that decides where tags,
    comments and quoted attribute values begin and end, so it sees an event-handler attribute
    (``<b title=">" onclick=…>``) on any tag, where a browser would. Between pieces it keeps
    its state, the last MARKER_OVERLAP bytes and at most a few bytes of lookahead: a file of any
    size is read in bounded memory, in time linear in its size, and nothing hides on a boundary.
    Elements whose content a browser does not read as tags (script, style, textarea, svg, ...)
    are markers themselves, so the tokenizer never needs to follow a browser into them.
    """

    def __init__(self) -> None:
        self._window = b""
        self._pending = b""
        self._state = _DATA
        self._name = bytearray()
        self._handler = False  # the attribute name just read is an event handler's: a value makes it one
        self._quote = b""

    def feed(self, chunk: bytes) -> bool:
        """Read the next piece of the file; True once it holds HTML or script."""
        window = (self._window + chunk).lower()
        if TAG_MARKERS.search(window) or has_script_address(window):
            return True
        self._window = window[-MARKER_OVERLAP:]
        data, self._pending = self._pending + chunk.lower(), b""
        return self._tokenize(data)

    def _tokenize(self, data: bytes) -> bool:  # one branch per tokenizer state
        i, end = 0, len(data)
        while i < end:
            state = self._state
            if state == _DATA:
                i = _CLEAN_TEXT.match(data, i).end()  # type: ignore[union-attr]  # matches b"": never None
                if i == end:
                    return False
                self._state, i = _TAG_OPEN, i + 1  # a "<" the fast path could not settle
            elif state == _TAG_OPEN:
                byte = data[i]
                if _is_letter(byte):
                    self._state = _TAG_NAME
                elif byte == _BANG:
                    self._state, i = _MARKUP, i + 1
                elif byte == _SLASH:
                    self._state, i = _END_TAG_OPEN, i + 1
                elif byte == _QUESTION:
                    self._state, i = _BOGUS_COMMENT, i + 1
                else:  # "<" followed by anything else is text; the byte is read again
                    self._state = _DATA
            elif state == _END_TAG_OPEN:
                byte = data[i]
                if _is_letter(byte):
                    self._state = _TAG_NAME  # an end tag's attributes are tokenized like a start tag's
                elif byte == _GT:
                    self._state, i = _DATA, i + 1
                else:
                    self._state = _BOGUS_COMMENT
            elif state == _MARKUP:  # after "<!": a comment, or a doctype/CDATA/bogus comment up to ">"
                if end - i < 2:
                    self._pending = data[i:]
                    return False
                if data.startswith(b"--", i):
                    self._state, i = _COMMENT_START, i + 2
                else:
                    self._state = _BOGUS_COMMENT
            elif state == _COMMENT_START:  # "<!-->" and "<!--->" are whole comments
                if data[i] == _GT:
                    self._state, i = _DATA, i + 1
                elif data[i] == _DASH and end - i < 2:
                    self._pending = data[i:]
                    return False
                elif data[i] == _DASH and data[i + 1] == _GT:
                    self._state, i = _DATA, i + 2
                else:
                    self._state = _COMMENT
            elif state == _COMMENT:
                match = _COMMENT_END.search(data, i)
                if match is None:
                    self._pending = data[max(i, end - 3) :]
                    return False
                self._state, i = _DATA, match.end()
            elif state == _BOGUS_COMMENT:
                i = data.find(b">", i)
                if i < 0:
                    return False
                self._state, i = _DATA, i + 1
            elif state == _TAG_NAME:
                match = _TAG_NAME_END.search(data, i)
                if match is None:
                    return False
                i = match.end()
                self._state = _DATA if data[i - 1] == _GT else _BEFORE_ATTR
            elif state == _BEFORE_ATTR:  # also after a quoted value, or after "/"
                i = _ATTRIBUTES.match(data, i).end()  # type: ignore[union-attr]  # matches b"": never None
                match = _NOT_SPACE_OR_SLASH.search(data, i)
                if match is None:
                    return False
                i = match.start()
                if data[i] == _GT:
                    self._state, i = _DATA, i + 1
                else:  # a new attribute; its first character may even be "=" or a quote
                    self._name[:] = data[i : i + 1]
                    self._state, i = _ATTR_NAME, i + 1
            elif state == _ATTR_NAME:
                match = _ATTR_NAME_END.search(data, i)
                stop = end if match is None else match.start()
                self._name += data[i : min(stop, i + max(0, _NAME_KEPT - len(self._name)))]
                if match is None:
                    return False
                self._handler = EVENT_HANDLER.fullmatch(self._name) is not None
                byte, i = data[stop], stop + 1
                if self._handler and byte == _EQUALS:
                    return True
                self._state = {_EQUALS: _BEFORE_VALUE, _GT: _DATA, _SLASH: _BEFORE_ATTR}.get(byte, _AFTER_ATTR)
            elif state in (_AFTER_ATTR, _BEFORE_VALUE):
                match = _NOT_SPACE.search(data, i)
                if match is None:
                    return False
                i = match.start()
                byte = data[i]
                if byte == _GT:
                    self._state, i = _DATA, i + 1
                elif state == _AFTER_ATTR:  # "=" gives the name a value; anything else starts another
                    if byte == _EQUALS and self._handler:
                        return True
                    self._state, i = (_BEFORE_VALUE, i + 1) if byte == _EQUALS else (_BEFORE_ATTR, i)
                elif byte in b"\"'":
                    self._state, self._quote, i = _QUOTED, data[i : i + 1], i + 1
                else:
                    self._state = _UNQUOTED
            elif state == _QUOTED:
                i = data.find(self._quote, i)
                if i < 0:
                    return False
                self._state, i = _BEFORE_ATTR, i + 1
            else:  # _UNQUOTED
                match = _UNQUOTED_END.search(data, i)
                if match is None:
                    return False
                i = match.end()
                self._state = _DATA if data[i - 1] == _GT else _BEFORE_ATTR
        return False


# Formats whose signature is ASCII, which a JavaScript engine reads as a name (GIF89a, RIFF).
TEXT_SIGNATURES = {"gif": 6, "webp": 4}
_TEXT_RUN = re.compile(rb"[\t\n\x0b\x0c\r\x20-\x7e]*+")
_SCRIPT_OPENER = re.compile(rb"[/'\"`]")


def reads_as_script(head: bytes, signature_length: int) -> bool:
    """True when an image with an ASCII signature of this length starts like a script.

    A GIF/JS polyglot (``GIF89a/*…*/=alert(1)``) must stay valid JavaScript through the binary
    bytes of the image, so before the first of them the text after the signature opens a comment,
    or assigns (``=``) or labels (``:``) something and opens a comment, string, template or regular
    expression; or the file has no binary bytes at all. A real image turns binary within a few
    bytes: its width or size would have to be these exact characters.
    """
    run = _TEXT_RUN.match(head, signature_length).group()  # type: ignore[union-attr]  # matches b"": never None
    code = run.lstrip(b"\t\n\x0b\x0c\r ")
    if code.startswith((b"/*", b"//", b"<!--")):
        return True
    all_text = signature_length + len(run) == len(head)
    return code[:1] in (b"=", b":") and (all_text or _SCRIPT_OPENER.search(code) is not None)
