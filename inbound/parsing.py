"""Reading a raw message: headers, the text to store, attachments, and what kind of mail it is.

Pure functions of the bytes; nothing here touches the database. Anything the parser
cannot make sense of (no sender, too many parts, headers past the limit) raises
``MalformedMail``: the gateway refuses it with an SMTP error and logs it, and stores
nothing. Everything else is read leniently: an unknown or wrong charset is decoded
as UTF-8 with replacement characters, a broken header is kept as its raw text.
"""

from __future__ import annotations

import codecs
import hashlib
import mimetypes
import re
from dataclasses import dataclass, field
from email import message_from_bytes
from email.header import decode_header, make_header
from email.message import Message
from email.policy import compat32
from email.utils import getaddresses, parseaddr

from django.conf import settings

from sofacover.errors import DomainError

from .text import html_to_text

# Past these a message is refused as malformed rather than read.
MAX_HEADER_BYTES = 256 * 1024
MAX_PARTS = 200
MAX_DEPTH = 20
MESSAGE_ID_MAX = 255
# What the delivery status notifications of RFC 3464 say about each recipient.
DSN_FIELDS = ("final-recipient", "original-recipient", "action", "status", "diagnostic-code")
# The parts of a DSN that describe the failure and return the original: read, not attached.
REPORT_PARTS = ("message/delivery-status", "message/rfc822", "text/rfc822-headers", "message/rfc822-headers")
MSG_ID = re.compile(r"<([^<>\s]{1,250})>")
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class MailRejected(DomainError):
    """The gateway refuses this message: an SMTP door answers ``smtp_reply``; nothing was stored."""

    code = "mail_rejected"
    smtp_reply = "550 5.6.0 Message refused"


class MalformedMail(MailRejected):
    code = "mail_malformed"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.smtp_reply = f"550 5.6.0 Malformed message: {message}"


class MailTooLarge(MailRejected):
    code = "mail_too_large"

    def __init__(self, size: int) -> None:
        super().__init__(f"{size} bytes is over the limit of {settings.MAIL_MAX_BYTES}")
        self.smtp_reply = "552 5.3.4 Message too big for system"


@dataclass(frozen=True)
class MailAttachment:
    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class DeliveryReport:
    """One failed (or delayed) recipient in a DSN."""

    recipient: str
    action: str
    status: str
    diagnostic: str

    @property
    def permanent(self) -> bool:
        return self.action == "failed" and self.status.startswith("5")


@dataclass(frozen=True)
class ParsedMail:
    raw: bytes
    message_id: str
    sender: str
    sender_name: str
    subject: str
    # Bodies as the sender wrote them (text, or the HTML part made text); reply-stripping is text.py's.
    text: str
    from_html: bool
    in_reply_to: tuple[str, ...] = ()
    references: tuple[str, ...] = ()
    to: tuple[str, ...] = ()
    cc: tuple[str, ...] = ()
    return_path: str | None = None
    auto_submitted: str = ""
    precedence: str = ""
    is_list: bool = False
    auto_response_suppressed: bool = False
    x_loop: tuple[str, ...] = ()
    attachments: tuple[MailAttachment, ...] = ()
    # A delivery status notification (multipart/report; report-type=delivery-status).
    is_report: bool = False
    reports: tuple[DeliveryReport, ...] = ()
    # The Message-IDs quoted in the report's copy of the original headers.
    reported_message_ids: tuple[str, ...] = ()
    defects: tuple[str, ...] = field(default=())

    @property
    def thread_ids(self) -> tuple[str, ...]:
        """In-Reply-To first, then References newest first: the order a thread is looked up in."""
        seen: dict[str, None] = {}
        for ref in (*self.in_reply_to, *reversed(self.references)):
            seen.setdefault(ref, None)
        return tuple(seen)

    @property
    def own_id(self) -> str:
        """The Message-ID its sender's client gave it, which replies refer to; "" when the gateway made one up."""
        return "" if is_fallback_id(self.message_id) else self.message_id

    @property
    def returned_ids(self) -> tuple[str, ...]:
        """The Message-IDs a delivery report names as the mail it returns: those of the original's
        headers it quotes, then its own In-Reply-To and References (some servers thread it so)."""
        return tuple(dict.fromkeys((*self.reported_message_ids, *self.thread_ids)))


def clean_text(value: str) -> str:
    """No NUL or other control characters (PostgreSQL refuses NUL): tabs and newlines stay."""
    return CONTROL.sub("", value.replace("\r\n", "\n").replace("\r", "\n"))


def header_text(value: object) -> str:
    """A header's value as text: RFC 2047 words decoded, unknown charsets read as UTF-8, one line."""
    if value is None:
        return ""
    raw = str(value)
    try:
        text = str(make_header(decode_header(raw)))
    except (LookupError, ValueError, UnicodeError, TypeError, AssertionError):
        text = raw
    return " ".join(clean_text(text).split())


def _header(message: Message, name: str) -> str:
    return header_text(message.get(name))


def _all(message: Message, name: str) -> list[str]:
    return [header_text(value) for value in message.get_all(name, [])]


def message_ids(value: str) -> tuple[str, ...]:
    """The <msg-id>s in an In-Reply-To or References header, in order, at most 100."""
    return tuple(f"<{match}>" for match in MSG_ID.findall(value))[-100:]


def normalise_address(value: str) -> str:
    return value.strip().lower()


def _address(value: str) -> tuple[str, str]:
    name, address = parseaddr(value)
    address = normalise_address(address)
    if "@" not in address or len(address) > 254 or any(c.isspace() for c in address):
        return "", ""
    return header_text(name)[:150], address


def _addresses(message: Message, name: str) -> tuple[str, ...]:
    found = []
    for _, address in getaddresses(_all(message, name))[:100]:
        address = normalise_address(address)
        if "@" in address and len(address) <= 254:
            found.append(address)
    return tuple(dict.fromkeys(found))


def decode_payload(part: Message) -> str:
    """A text part's content as str, whatever charset it claims (unknown ones read as UTF-8)."""
    data = part.get_payload(decode=True)
    if not isinstance(data, bytes):
        return ""
    charset = part.get_content_charset() or "utf-8"
    try:
        codecs.lookup(charset)
    except (LookupError, ValueError):
        charset = "utf-8"
    try:
        return data.decode(charset, errors="replace")
    except (LookupError, ValueError, UnicodeError):
        return data.decode("utf-8", errors="replace")


def _filename(part: Message) -> str:
    try:
        name = part.get_filename() or ""
    except (LookupError, ValueError, UnicodeError, TypeError, AssertionError):
        name = ""
    name = header_text(name)
    if not name:
        extension = mimetypes.guess_extension(part.get_content_type()) or ""
        name = f"attachment{extension}"
    return name


def _is_attachment(part: Message) -> bool:
    disposition = (part.get("Content-Disposition") or "").split(";", 1)[0].strip().lower()
    return disposition == "attachment" or (disposition == "inline" and not part.get_content_type().startswith("text/"))


def _walk(message: Message, depth: int = 0) -> list[Message]:
    """The leaf parts, depth first; an attached message (message/rfc822) is a leaf, not opened."""
    if depth > MAX_DEPTH:
        raise MalformedMail("MIME parts nested too deeply")
    if not message.is_multipart() or message.get_content_type() == "message/rfc822":
        return [message]
    children = message.get_payload()
    if not isinstance(children, list):
        return [message]
    leaves: list[Message] = []
    for child in children:
        if isinstance(child, Message):
            leaves.extend(_walk(child, depth + 1))
        if len(leaves) > MAX_PARTS:
            raise MalformedMail(f"more than {MAX_PARTS} MIME parts")
    return leaves


def _attached_message(part: Message) -> bytes:
    inner = part.get_payload()
    if not isinstance(inner, list) or not inner or not isinstance(inner[0], Message):
        return b""
    try:
        return inner[0].as_bytes()
    except (LookupError, ValueError, UnicodeError, TypeError):
        return b""


def _header_block_size(raw: bytes) -> int:
    end = raw.find(b"\r\n\r\n")
    if end < 0:
        end = raw.find(b"\n\n")
    return len(raw) if end < 0 else end


# The domain of the Message-IDs the gateway makes up for mail without one (or with one too long).
FALLBACK_DOMAIN = "inbound.invalid"


def fallback_message_id(raw: bytes) -> str:
    return f"<sha256-{hashlib.sha256(raw).hexdigest()}@{FALLBACK_DOMAIN}>"


def is_fallback_id(message_id: str) -> bool:
    """A Message-ID the gateway made up: the sender's client never knew it, so no mail refers to it."""
    return message_id.endswith(f"@{FALLBACK_DOMAIN}>")


def _message_id(message: Message, raw: bytes) -> str:
    found = message_ids(_header(message, "Message-ID"))
    if not found or len(found[0]) > MESSAGE_ID_MAX:
        return fallback_message_id(raw)
    return found[0]


def _delivery_reports(message: Message) -> tuple[tuple[DeliveryReport, ...], tuple[str, ...]]:
    """The per-recipient blocks of a DSN, and the Message-IDs of the original it returns."""
    reports: list[DeliveryReport] = []
    returned_ids: list[str] = []
    for part in message.walk():
        content_type = part.get_content_type()
        if content_type == "message/delivery-status":
            blocks = part.get_payload()
            for block in blocks if isinstance(blocks, list) else []:
                if not isinstance(block, Message):
                    continue
                recipient = _header(block, "Final-Recipient") or _header(block, "Original-Recipient")
                if not recipient:
                    continue
                address = normalise_address(recipient.split(";", 1)[-1])
                reports.append(
                    DeliveryReport(
                        recipient=address[:254],
                        action=_header(block, "Action").lower()[:20],
                        status=_header(block, "Status")[:20],
                        diagnostic=_header(block, "Diagnostic-Code")[:300],
                    )
                )
        elif content_type in ("message/rfc822", "text/rfc822-headers", "message/rfc822-headers"):
            if content_type == "message/rfc822":
                inner = part.get_payload()
                original = inner[0] if isinstance(inner, list) and inner else None
            else:
                payload = part.get_payload(decode=True)
                original = message_from_bytes(payload if isinstance(payload, bytes) else b"", policy=compat32)
            if isinstance(original, Message):
                returned_ids.extend(message_ids(_header(original, "Message-ID")))
    return tuple(reports[:100]), tuple(returned_ids[:100])


def parse(raw: bytes, *, max_bytes: int | None = None) -> ParsedMail:
    """Read a message as received.

    :raises MailTooLarge: over ``max_bytes`` (settings.MAIL_MAX_BYTES)
    :raises MalformedMail: not a message the desk can take: no sender, headers or parts past the limits
    """
    limit = settings.MAIL_MAX_BYTES if max_bytes is None else max_bytes
    if len(raw) > limit:
        raise MailTooLarge(len(raw))
    if not raw.strip():
        raise MalformedMail("empty message")
    if _header_block_size(raw) > MAX_HEADER_BYTES:
        raise MalformedMail("headers too large")
    try:
        message = message_from_bytes(raw, policy=compat32)
    except (RecursionError, MemoryError) as exc:  # pragma: no cover - the limits above come first
        raise MalformedMail("unreadable") from exc
    sender_name, sender = _address(_header(message, "From"))
    if not sender:
        sender_name, sender = _address(_header(message, "Sender"))
    return_path = None
    if "Return-Path" in message:
        return_path = normalise_address(_header(message, "Return-Path").strip("<> "))
    content_type = message.get_content_type()
    is_report = content_type == "multipart/report" and ((message.get_param("report-type") or "") == "delivery-status")
    if not sender and not is_report and return_path != "":
        raise MalformedMail("no sender address (From)")

    try:
        leaves = _walk(message)
    except RecursionError as exc:
        raise MalformedMail("MIME parts nested too deeply") from exc
    texts: list[str] = []
    htmls: list[str] = []
    attachments: list[MailAttachment] = []
    for part in leaves:
        part_type = part.get_content_type()
        if is_report and part_type in REPORT_PARTS:
            continue
        if part_type in ("text/plain", "text/html") and not _is_attachment(part):
            (texts if part_type == "text/plain" else htmls).append(decode_payload(part))
            continue
        if part_type.startswith("multipart/"):
            continue  # a multipart with no parts
        payload = _attached_message(part) if part_type == "message/rfc822" else part.get_payload(decode=True)
        if isinstance(payload, bytes) and payload:
            attachments.append(MailAttachment(_filename(part), part_type, payload))
    # A blank text part beside an HTML one (some clients send that) does not hide the HTML.
    from_html = bool(htmls) and not any(part.strip() for part in texts)
    body = html_to_text("\n".join(htmls)) if from_html else "\n".join(texts)
    reports, returned_ids = _delivery_reports(message) if is_report else ((), ())
    auto_response_suppress = _header(message, "X-Auto-Response-Suppress").lower()
    return ParsedMail(
        raw=raw,
        message_id=_message_id(message, raw),
        sender=sender,
        sender_name=sender_name,
        subject=_header(message, "Subject")[:200],
        text=clean_text(body),
        from_html=from_html,
        in_reply_to=message_ids(_header(message, "In-Reply-To")),
        references=message_ids(" ".join(_all(message, "References"))),
        to=_addresses(message, "To"),
        cc=_addresses(message, "Cc"),
        return_path=return_path,
        auto_submitted=_header(message, "Auto-Submitted").lower(),
        precedence=_header(message, "Precedence").lower(),
        is_list=bool(_header(message, "List-Id") or _header(message, "List-Unsubscribe")),
        auto_response_suppressed=any(word in auto_response_suppress for word in ("all", "autoreply", "oof")),
        x_loop=tuple(value.lower() for value in _all(message, "X-Loop")),
        attachments=tuple(attachments),
        is_report=is_report,
        reports=reports,
        reported_message_ids=returned_ids,
        defects=tuple(type(defect).__name__ for defect in message.defects),
    )
