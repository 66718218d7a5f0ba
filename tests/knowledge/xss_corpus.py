"""Known XSS vectors (OWASP XSS filter evasion cheat sheet style), as markdown or raw HTML in a body.

Every one must come out of knowledge.rendering.render_markdown with no live
script: ``assert_inert`` is the check, shared by every test that renders text.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

VECTORS: list[str] = [
    # javascript: links in markdown, every case, spacing and encoding
    "[x](javascript:alert(1))",
    "[x](JaVaScRiPt:alert(1))",
    "[x]( javascript:alert(1))",
    "[x](javascript&#58;alert(1))",
    "[x](jav&#x0D;ascript:alert(1))",
    "[x](jav&#x09;ascript:alert(1))",
    "[x](jav\tascript:alert(1))",
    "[x](&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(1))",
    "[x](&#x6A&#x61&#x76&#x61&#x73&#x63&#x72&#x69&#x70&#x74&#x3A;alert(1))",
    "[x](%6A%61%76%61%73%63%72%69%70%74:alert(1))",
    "[x](\\u006aavascript:alert(1))",
    "[x](javascript://%0Aalert(1))",
    "[x](<javascript:alert(1)>)",
    "[multi\nline\nlink](javascript:alert(1))",
    "[x][ref]\n\n[ref]: javascript:alert(1)",
    '[x][ref]\n\n[ref]: JAVASCRIPT:alert(1) "title"',
    "![i](javascript:alert(1))",
    '![i](x "onerror=alert(1)")',
    "<javascript:alert(1)>",
    # other dangerous schemes
    "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "![i](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)",
    "[x](vbscript:msgbox(1))",
    "[x](livescript:alert(1))",
    "[x](file:///etc/passwd)",
    # raw HTML
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//evil.example/xss.js></SCRIPT>",
    "<scr<script>ipt>alert(1)</scr</script>ipt>",
    "<img src=x onerror=alert(1)>",
    "<IMG SRC=\"javascript:alert('XSS');\">",
    "<img src=`javascript:alert(1)`>",
    '<img """><script>alert(1)</script>">',
    "<img src=x:alert(alt) onerror=eval(src) alt=0>",
    "<svg onload=alert(1)>",
    "<svg><script>alert(1)</script></svg>",
    '<svg><use href="data:image/svg+xml;base64,PHN2ZyBpZD0neCc+PC9zdmc+#x"/></svg>',
    '<svg><a xlink:href="javascript:alert(1)"><text y="20">x</text></a></svg>',
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    '<math href="javascript:alert(1)">x</math>',
    "<iframe src=javascript:alert(1)></iframe>",
    "<iframe srcdoc='<script>alert(1)</script>'></iframe>",
    '<object data="javascript:alert(1)"></object>',
    '<embed src="javascript:alert(1)">',
    "<style>body{background:url(javascript:alert(1))}</style>",
    '<div style="width: expression(alert(1));">x</div>',
    "<p style=\"background-image: url('javascript:alert(1)')\">x</p>",
    '<a href="&#106;avascript:alert(1)">x</a>',
    '<a href="&#x6A;avascript&#x3A;alert(1)">x</a>',
    '<a href="jav&#x0A;ascript:alert(1)">x</a>',
    '<a href=" javascript:alert(1)">x</a>',
    '<a href="javascript&colon;alert(1)">x</a>',
    '<a href="http://ok.example" onclick="alert(1)">x</a>',
    "<a href='x' onmouseover='alert(1)'>x</a>",
    '<form action="javascript:alert(1)"><button>x</button></form>',
    '<form><button formaction="javascript:alert(1)">x</button></form>',
    "<input onfocus=alert(1) autofocus>",
    '<meta http-equiv="refresh" content="0;url=javascript:alert(1)">',
    '<base href="javascript:alert(1)//">',
    '<link rel="stylesheet" href="javascript:alert(1)">',
    "<details open ontoggle=alert(1)>",
    "<body onload=alert(1)>",
    "<video><source onerror=alert(1)></video>",
    "<audio src=x onerror=alert(1)>",
    "<marquee onstart=alert(1)>",
    '<table background="javascript:alert(1)"><tr><td>x</td></tr></table>',
    '<td background="javascript:alert(1)">x</td>',
    "<!--<img src=x onerror=alert(1)>-->",
    "<![CDATA[<script>alert(1)</script>]]>",
    '<noscript><p title="</noscript><img src=x onerror=alert(1)>">',
    "<xmp><img src=x onerror=alert(1)></xmp>",
    "<template><img src=x onerror=alert(1)></template>",
    # breaking out of attributes and code
    '"><script>alert(1)</script>',
    "'><img src=x onerror=alert(1)>",
    '`"><img src=x onerror=alert(1)>`',
    "```\n</code></pre><script>alert(1)</script>\n```",
    "`<script>alert(1)</script>`",
    '[x](http://ok.example "title\\" onmouseover=\\"alert(1)")',
    '[x](http://ok.example" onmouseover="alert(1))',
    # nested markdown inside HTML and the other way round
    '<a href="[x](javascript:alert(1))">y</a>',
    '<div markdown="1">[x](javascript:alert(1))</div>',
    "[<img src=x onerror=alert(1)>](http://ok.example)",
    "**<svg/onload=alert(1)>**",
    "> <script>alert(1)</script>",
    "| a |\n|---|\n| <img src=x onerror=alert(1)> |",
    "# <img src=x onerror=alert(1)>",
    # unicode, null bytes, odd whitespace
    "<scr\x00ipt>alert(1)</scr\x00ipt>",
    "[x](java\x00script:alert(1))",
    '<a href="java\x00script:alert(1)">x</a>',
    r"<img src=x on\u0065rror=alert(1)>",
    "<img src=x on&#101;rror=alert(1)>",
    r'<a href="\u006a\u0061vascript:alert(1)">x</a>',
    "[x](\u2028javascript:alert(1))",
    "<img/src=x/onerror=alert(1)>",
    "<img\nsrc=x\nonerror=alert(1)>",
    "<<script>alert(1);//<</script>",
]

FORBIDDEN_TAGS = frozenset(
    {
        "script",
        "iframe",
        "object",
        "embed",
        "style",
        "form",
        "meta",
        "base",
        "link",
        "svg",
        "math",
        "frame",
        "frameset",
        "applet",
        "button",
        "textarea",
        "select",
        "template",
        "noscript",
        "xmp",
        "video",
        "audio",
        "source",
        "body",
        "details",
        "marquee",
    }
)
URL_ATTRIBUTES = frozenset({"href", "src", "action", "formaction", "xlink:href", "background", "poster", "data"})
SAFE_SCHEMES = frozenset({"http", "https", "mailto"})


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in FORBIDDEN_TAGS:
            self.problems.append(f"<{tag}> tag")
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"{name} attribute on <{tag}>")
            if name == "style":
                self.problems.append(f"style attribute on <{tag}>")
            if name in URL_ATTRIBUTES and value is not None:
                scheme = url_scheme(value)
                if scheme is not None and scheme not in SAFE_SCHEMES:
                    self.problems.append(f"{name}={value!r} on <{tag}>")

    handle_startendtag = handle_starttag


_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")


def url_scheme(url: str) -> str | None:
    """The scheme a browser would use, or None for a relative URL.

    As the WHATWG URL parser does: leading/trailing C0 controls and spaces are
    trimmed, tabs and newlines anywhere are removed, then a scheme is letters
    followed by letters, digits, "+", "-" or "." up to the first ":".
    """
    cleaned = url.strip("".join(chr(c) for c in range(0x21)))
    cleaned = re.sub(r"[\t\n\r]", "", cleaned)
    match = _SCHEME.match(cleaned)
    return match.group(1).lower() if match else None


def problems(html: str) -> list[str]:
    collector = _Collector()
    collector.feed(html)
    collector.close()
    return collector.problems


def assert_inert(html: str, *, source: str = "") -> None:
    found = problems(html)
    assert not found, f"live markup {found} in {html!r} (from {source!r})"
