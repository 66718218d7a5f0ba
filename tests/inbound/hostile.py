"""Fifty malformed or hostile messages, each with what the gateway must do with it: store or refuse.

Built in code (the 25 MB one would not belong in the repository). ``$victim`` in a message is
replaced by the test with another customer's ticket reference.
"""

from __future__ import annotations

import base64
import io
import zipfile
from dataclasses import dataclass

from .mails import compose

STORED, REFUSED = "stored", "refused"
HEAD = (
    "From: Mallory <mallory@example.net>\r\nTo: support@sofacoverpro.com\r\n"
    "Date: Mon, 2 Mar 2026 09:00:00 +0000\r\nMIME-Version: 1.0\r\n"
)


@dataclass(frozen=True)
class Case:
    name: str
    raw: bytes
    expected: str


def _head(n: int, extra: str = "", subject: str = "hostile") -> str:
    return f"{HEAD}Message-ID: <hostile-{n}@example.net>\r\nSubject: {subject}\r\n{extra}"


def _zip(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _b64(data: bytes) -> str:
    encoded = base64.b64encode(data).decode()
    return "\r\n".join(encoded[i : i + 76] for i in range(0, len(encoded), 76))


def _attached(n: int, filename: str, content_type: str, data: bytes, text: str = "see attached") -> bytes:
    return compose(
        sender="Mallory <mallory@example.net>",
        message_id=f"<hostile-{n}@example.net>",
        body=text,
        attachments=[(filename, content_type, data)],
    )


def cases() -> list[Case]:
    big_zeros = _zip({"zeros.bin": b"\0" * (50 * 1024 * 1024)})  # 50 MB of zeros in ~50 KB
    nested = _zip({f"layer{i}.zip": big_zeros for i in range(8)})  # a small 42.zip
    deep = "".join(f'Content-Type: multipart/mixed; boundary="b{i}"\r\n\r\n--b{i}\r\n' for i in range(60))
    many_parts = "".join(
        f"--p\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=f{i}.bin\r\n\r\n"
        f"x\r\n"
        for i in range(300)
    )
    html_attacks = [
        "<p>hi</p><script>alert(document.cookie)</script>",
        '<img src=x onerror="alert(1)">hello',
        '<a href="javascript:alert(1)">click</a>',
        '<iframe src="https://evil.example/"></iframe>text',
        '<svg onload="alert(1)"><circle r=1 /></svg>svg',
        '<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">data</a>',
        '<meta http-equiv="refresh" content="0;url=https://evil.example/">meta',
        "<style>body{background:url(javascript:alert(1))}</style>styled",
        "<!--<script>alert(1)</script>-->comment<b onmouseover=alert(1)>bold</b>",
    ]
    built: list[Case] = [
        # --- broken MIME ---
        Case(
            "multipart without boundary",
            (_head(1, "Content-Type: multipart/mixed\r\n") + "\r\nbody\r\n").encode(),
            STORED,
        ),
        Case(
            "boundary never closed",
            (
                _head(2, 'Content-Type: multipart/mixed; boundary="x"\r\n')
                + "\r\n--x\r\nContent-Type: text/plain\r\n\r\nhi\r\n"
            ).encode(),
            STORED,
        ),
        Case(
            "empty boundary",
            (_head(3, 'Content-Type: multipart/mixed; boundary=""\r\n') + "\r\n--\r\nhi\r\n").encode(),
            STORED,
        ),
        Case(
            "truncated base64",
            (
                _head(4, "Content-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n") + "\r\naGVsbG8gd29y\r\n"
            ).encode(),
            STORED,
        ),
        Case(
            "base64 with junk",
            (
                _head(5, "Content-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n") + "\r\n!!!***@@@\r\n"
            ).encode(),
            STORED,
        ),
        Case(
            "broken quoted-printable",
            (
                _head(6, "Content-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n")
                + "\r\n=ZZ=4=\r\n"
            ).encode(),
            STORED,
        ),
        Case(
            "unknown transfer encoding",
            (_head(7, "Content-Type: text/plain\r\nContent-Transfer-Encoding: x-rot13\r\n") + "\r\nuryyb\r\n").encode(),
            STORED,
        ),
        Case("header line without a colon", (_head(8, "This is not a header\r\n") + "\r\nbody\r\n").encode(), STORED),
        Case("headers only", _head(9).encode(), STORED),
        Case("random bytes", bytes(range(256)) * 3 + b"\r\n", REFUSED),
        Case(
            "NUL in headers and body",
            (_head(11, "X-Nul: a\0b\r\n", subject="nul\0here") + "\r\nbo\0dy\r\n").encode(),
            STORED,
        ),
        Case(
            "raw 8-bit headers", _head(12, subject="caf\xe9 \u2603").encode("utf-8") + b"\r\nbody \xff\xfe\r\n", STORED
        ),
        Case("bare LF line endings", _head(13).replace("\r\n", "\n").encode() + b"\nbody\n", STORED),
        Case(
            "no From at all",
            b"To: support@sofacoverpro.com\r\nSubject: who\r\nMessage-ID: <h14@x>\r\n\r\nbody\r\n",
            REFUSED,
        ),
        Case("empty From", (_head(15).replace("Mallory <mallory@example.net>", "<>")).encode() + b"\r\nx\r\n", REFUSED),
        # --- charsets ---
        Case(
            "unknown charset",
            (_head(16, 'Content-Type: text/plain; charset="x-unknown-42"\r\n') + "\r\nhello\r\n").encode(),
            STORED,
        ),
        Case(
            "utf-7 smuggling a script tag",
            (
                _head(17, 'Content-Type: text/plain; charset="utf-7"\r\n')
                + "\r\n+ADw-script+AD4-alert(1)+ADw-/script+AD4-\r\n"
            ).encode(),
            STORED,
        ),
        Case(
            "latin-1 bytes labelled utf-8",
            _head(18, 'Content-Type: text/plain; charset="utf-8"\r\n').encode() + b"\r\ncaf\xe9 cr\xe8me\r\n",
            STORED,
        ),
        Case(
            "odd-length utf-16",
            _head(19, 'Content-Type: text/plain; charset="utf-16"\r\n').encode() + b"\r\n\xff\xfeh\x00i\x00!\r\n",
            STORED,
        ),
        Case(
            "encoded word in an unknown charset",
            _head(20, subject="=?x-foo?B?aGVsbG8=?=").encode() + b"\r\nx\r\n",
            STORED,
        ),
        Case("broken encoded word", _head(21, subject="=?utf-8?Q?broken=ZZ").encode() + b"\r\nx\r\n", STORED),
        Case(
            "iso-2022-jp",
            _head(22, 'Content-Type: text/plain; charset="iso-2022-jp"\r\n').encode()
            + b"\r\n\x1b$B$3$s$K$A$O\x1b(B\r\n",
            STORED,
        ),
        Case(
            "subject that encodes a header injection",
            _head(23, subject="=?utf-8?Q?hi=0D=0ABcc:_victim@example.com?=").encode() + b"\r\nx\r\n",
            STORED,
        ),
        # --- huge headers ---
        Case(
            "headers past 256 KiB",
            (_head(24) + "".join(f"X-Filler-{i}: {'a' * 900}\r\n" for i in range(320))).encode() + b"\r\nx\r\n",
            REFUSED,
        ),
        Case("a 5000-line folded subject", _head(25, subject="s" + "\r\n s" * 5000).encode() + b"\r\nx\r\n", STORED),
        Case(
            "ten thousand References",
            _head(26, "References:" + "".join(f"\r\n <r{i}@x>" for i in range(10_000)) + "\r\n").encode()
            + b"\r\nx\r\n",
            STORED,
        ),
        Case(
            "a To list of 20,000 addresses",
            _head(27, "Cc:" + ",".join(f"\r\n u{i}@x.example" for i in range(20_000)) + "\r\n").encode() + b"\r\nx\r\n",
            REFUSED,
        ),
        Case("a 10,000-character line", _head(28).encode() + b"\r\n" + b"y" * 10_000 + b"\r\n", REFUSED),
        Case(
            "a 2,000-character Message-ID",
            _head(29).replace("<hostile-29@example.net>", "<" + "m" * 2000 + "@x>").encode() + b"\r\nx\r\n",
            REFUSED,
        ),
        # --- size and parts ---
        Case("a 25 MB attachment", _attached(30, "video.zip", "application/zip", b"\x50\x4b" * (12_500_000)), REFUSED),
        Case(
            "300 MIME parts",
            (_head(31, 'Content-Type: multipart/mixed; boundary="p"\r\n') + "\r\n" + many_parts + "--p--\r\n").encode(),
            REFUSED,
        ),
        Case(
            "60 levels of nesting", (_head(32) + deep + "Content-Type: text/plain\r\n\r\nbottom\r\n").encode(), REFUSED
        ),
        Case(
            "twenty attachments",
            compose(
                sender="mallory@example.net",
                message_id="<hostile-33@example.net>",
                attachments=[(f"note{i}.txt", "text/plain", b"plain note") for i in range(20)],
            ),
            STORED,
        ),
        # --- archives ---
        Case("a zip bomb", _attached(34, "report.zip", "application/zip", big_zeros), STORED),
        Case("a nested zip bomb", _attached(35, "layers.zip", "application/zip", nested), STORED),
        Case("a zip named .png", _attached(36, "photo.png", "image/png", big_zeros), STORED),
        Case("a zip named .docx", _attached(37, "letter.docx", "application/msword", big_zeros), STORED),
        # --- HTML and active content ---
        *[
            Case(
                f"html attack {i}",
                compose(sender="mallory@example.net", message_id=f"<hostile-html-{i}@example.net>", body="", html=html),
                STORED,
            )
            for i, html in enumerate(html_attacks)
        ],
        Case(
            "html only, no text part",
            (
                _head(47, 'Content-Type: text/html; charset="utf-8"\r\n')
                + "\r\n<body onload=alert(1)><p>only html</p><script>x()</script></body>\r\n"
            ).encode(),
            STORED,
        ),
        Case("an .html attachment", _attached(48, "invoice.html", "text/html", b"<script>alert(1)</script>"), STORED),
        Case(
            "a .txt attachment holding a script",
            _attached(49, "log.txt", "text/plain", b"ok\n<script>alert(1)</script>"),
            STORED,
        ),
        Case(
            "a path in the attachment's name",
            _attached(50, "../../../etc/passwd\u202etxt.log", "text/plain", b"root:x:0:0"),
            STORED,
        ),
        # --- threading ---
        Case(
            "forged References to another customer's ticket",
            compose(
                sender="mallory@example.net",
                message_id="<hostile-51@example.net>",
                subject="Re: [$victim] your order",
                in_reply_to="<$victim_thread>",
                references="<$victim_thread>",
                body="Attach me to someone else's ticket.",
            ),
            STORED,
        ),
        Case(
            "a report that is no DSN",
            (
                _head(52, 'Content-Type: multipart/report; report-type=delivery-status; boundary="r"\r\n')
                + "\r\n--r\r\nContent-Type: text/plain\r\n\r\nnope\r\n--r--\r\n"
            ).encode(),
            STORED,
        ),
    ]
    return built
