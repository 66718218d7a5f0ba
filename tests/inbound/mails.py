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
