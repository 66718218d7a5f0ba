"""Building raw messages for the gateway tests, and the thread fixtures written in each client's style."""

from __future__ import annotations

import itertools
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime
from pathlib import Path
from string import Template

from tests.tickets.factories import T0

FIXTURES = Path(__file__).parent / "fixtures"
_ids = itertools.count(1)


def new_message_id(domain: str = "mail.example.com") -> str:
    return f"<test-{next(_ids)}@{domain}>"


def compose(
    *,
    sender: str = "Alice <alice@example.com>",
    to: str = "support@sofacoverpro.com",
    subject: str = "My sofa cover does not fit",
    body: str = "The cover for the three-seater is too small.",
    html: str | None = None,
    message_id: str | None = None,
    in_reply_to: str | None = None,
    references: str | None = None,
    headers: dict[str, str] | None = None,
    attachments: list[tuple[str, str, bytes]] = (),  # type: ignore[assignment]
) -> bytes:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = format_datetime(T0)
    message["Message-ID"] = message_id or new_message_id()
    if in_reply_to:
        message["In-Reply-To"] = in_reply_to
    if references:
        message["References"] = references
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(body)
    if html is not None:
        message.add_alternative(html, subtype="html")
    for filename, content_type, data in attachments:
        maintype, subtype = content_type.split("/", 1)
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return message.as_bytes(policy=SMTP)


def fixture(name: str, **values: str) -> bytes:
    """A .eml fixture with its $placeholders filled (Message-ID, In-Reply-To, References, Subject)."""
    text = (FIXTURES / name).read_text(encoding="utf-8")
    return Template(text).substitute(values).replace("\r\n", "\n").replace("\n", "\r\n").encode("utf-8")


def dsn(
    *,
    recipient: str = "alice@example.com",
    action: str = "failed",
    status: str = "5.1.1",
    returned_message_id: str = "",
    returned_headers: str | None = None,
    message_id: str | None = None,
) -> bytes:
    """A delivery status notification (RFC 3464) as Postfix sends it, returning the headers of the mail that
    failed: ``returned_headers`` as received (a real mail's), or a few naming ``returned_message_id``."""
    original = (
        returned_headers.strip().replace("\r\n", "\n").split("\n")
        if returned_headers is not None
        else [
            "From: SofaCover Pro Support <support@sofacoverpro.com>",
            f"To: {recipient}",
            "Subject: We're investigating an issue",
            f"Message-ID: {returned_message_id}",
        ]
    )
    boundary = "DSN-boundary-42"
    lines = [
        "From: MAILER-DAEMON@mx.example.com (Mail Delivery System)",
        "To: support@sofacoverpro.com",
        "Subject: Undelivered Mail Returned to Sender",
        f"Message-ID: {message_id or new_message_id('mx.example.com')}",
        "Auto-Submitted: auto-replied",
        "MIME-Version: 1.0",
        f'Content-Type: multipart/report; report-type=delivery-status; boundary="{boundary}"',
        "",
        f"--{boundary}",
        "Content-Type: text/plain; charset=us-ascii",
        "",
        f"I'm sorry to have to inform you that your message could not be delivered to {recipient}.",
        "",
        f"--{boundary}",
        "Content-Type: message/delivery-status",
        "",
        "Reporting-MTA: dns; mx.example.com",
        "",
        f"Final-Recipient: rfc822; {recipient}",
        f"Action: {action}",
        f"Status: {status}",
        f"Diagnostic-Code: smtp; 550 {status} <{recipient}>: Recipient address rejected: User unknown",
        "",
        f"--{boundary}",
        "Content-Type: text/rfc822-headers",
        "",
        *original,
        "",
        f"--{boundary}--",
        "",
    ]
    return "\r\n".join(lines).encode()
