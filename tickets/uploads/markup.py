"""Finding HTML and script in a file read piece by piece, and images whose header is also a script."""

from __future__ import annotations

import re

# Start tags that are a web page by themselves, load or run something, or make a browser stop
# reading tags (raw text: script, style, title, textarea, ...), and script URLs. A tag name ends
# where a browser ends it: at whitespace, "/" or ">". Each match is at most MARKER_OVERLAP bytes
# long, and that much of each piece is kept for the next, so a marker split between two reads is
# still found.
ACTIVE_MARKERS = re.compile(
    rb"<(?:!doctype[\t\n\x0c\r ]{1,16}html|html|head|body|script|style|svg|math|iframe|frameset|object|embed"
    rb"|applet|img|image|video|audio|link|meta|base|xmp|noscript|noembed|noframes|plaintext|title|textarea)"
    rb"(?=[\t\n\x0c\r />])"
    rb"|<\?xml|(?:java|vb)script[\t\n\x0c\r ]{0,16}:|data[\t\n\x0c\r ]{0,16}:[\t\n\x0c\r ]{0,16}text/html",
    re.IGNORECASE,
)
MARKER_OVERLAP = 64
EVENT_HANDLER = re.compile(rb"on[a-z]+")

_TAG_NAME_END = re.compile(rb"[\t\n\x0c\r />]")
_ATTR_NAME_END = re.compile(rb"[\t\n\x0c\r />=]")
_UNQUOTED_END = re.compile(rb"[\t\n\x0c\r >]")
_NOT_SPACE = re.compile(rb"[^\t\n\x0c\r ]")
_NOT_SPACE_OR_SLASH = re.compile(rb"[^\t\n\x0c\r /]")
_COMMENT_END = re.compile(rb"--!?>")
_NAME_KEPT = 40  # longer than any event-handler name
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
    return 65 <= byte <= 90 or 97 <= byte <= 122


class MarkupScanner:
    """Finds HTML and script markers in a file fed to it piece by piece.

    Besides ACTIVE_MARKERS it runs the part of the HTML tokenizer that decides where tags,
    comments and quoted attribute values begin and end, so it sees an event-handler attribute
    (``<b title=">" onclick=…>``) on any tag, where a browser would. Between pieces it keeps
    its state, the last MARKER_OVERLAP bytes and at most a few bytes of lookahead: a file of any
    size is read in bounded memory and nothing hides on a boundary. Elements whose content a
    browser does not read as tags (script, style, textarea, svg, ...) are markers themselves, so
    the tokenizer never needs to follow a browser into them.
    """

    def __init__(self) -> None:
        self._window = b""
        self._pending = b""
        self._state = _DATA
        self._name = bytearray()
        self._quote = b""

    def feed(self, chunk: bytes) -> bool:
        """Read the next piece of the file; True once it holds HTML or script."""
        window = self._window + chunk
        if ACTIVE_MARKERS.search(window):
            return True
        self._window = window[-MARKER_OVERLAP:]
        data, self._pending = self._pending + chunk, b""
        return self._tokenize(data)

    def _tokenize(self, data: bytes) -> bool:  # one branch per tokenizer state
        i, end = 0, len(data)
        while i < end:
            state = self._state
            if state == _DATA:
                i = data.find(b"<", i)
                if i < 0:
                    return False
                self._state, i = _TAG_OPEN, i + 1
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
            elif state in (_BEFORE_ATTR, _AFTER_ATTR, _BEFORE_VALUE):
                match = (_NOT_SPACE_OR_SLASH if state == _BEFORE_ATTR else _NOT_SPACE).search(data, i)
                if match is None:
                    return False
                i = match.start()
                byte = data[i]
                if byte == _GT:
                    self._state, i = _DATA, i + 1
                elif state == _BEFORE_VALUE:
                    if byte in b"\"'":
                        self._state, self._quote, i = _QUOTED, data[i : i + 1], i + 1
                    else:
                        self._state = _UNQUOTED
                elif state == _AFTER_ATTR and byte in (_EQUALS, _SLASH):
                    self._state, i = (_BEFORE_VALUE if byte == _EQUALS else _BEFORE_ATTR), i + 1
                else:  # a new attribute; its first character may even be "=" or a quote
                    self._name[:] = data[i : i + 1]
                    self._state, i = _ATTR_NAME, i + 1
            elif state == _ATTR_NAME:
                match = _ATTR_NAME_END.search(data, i)
                stop = end if match is None else match.start()
                self._name += data[i : min(stop, i + max(0, _NAME_KEPT - len(self._name)))]
                if match is None:
                    return False
                if EVENT_HANDLER.fullmatch(bytes(self._name).lower()):
                    return True
                byte, i = data[stop], stop + 1
                self._state = {_EQUALS: _BEFORE_VALUE, _GT: _DATA, _SLASH: _BEFORE_ATTR}.get(byte, _AFTER_ATTR)
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
# A GIF/JS polyglot (GIF89a/*…*/=alert(1)) continues that name with a comment, an assignment
# or a label before the first binary byte. A real image's header turns binary within a byte or
# two, unless it is over 8,000 pixels wide with these exact bytes in its width.
_SCRIPT_AFTER_SIGNATURE = re.compile(rb"[\t\n\x0b\x0c\r ]*(?:/[*/]|<!--|[=:][\t\n\x0b\x0c\r\x20-\x7e])")


def reads_as_script(head: bytes, signature_length: int) -> bool:
    """True when an image with an ASCII signature of this length starts like a script."""
    return _SCRIPT_AFTER_SIGNATURE.match(head, signature_length) is not None
