"""The provider door: Mailgun's inbound routes, forwarding the raw MIME message.

A Mailgun route whose action is ``forward("https://desk.example.com/api/v1/mail/inbound/mailgun/")``
posts ``multipart/form-data`` with, among others (documentation.mailgun.com, "Receiving
messages via HTTP through a forward() action" and "Securing webhooks"):

- ``body-mime``: the whole message as received (Mailgun sends it when the URL ends in "mime";
  the desk's URL is set up so in the route, or the route stores and forwards the MIME);
- ``timestamp``, ``token``, ``signature``: signature = hex HMAC-SHA256, keyed with the account's
  HTTP webhook signing key (MAIL_WEBHOOK_SIGNING_KEY), of timestamp followed by token.

The desk refuses a post whose signature is wrong, whose timestamp is more than
MAIL_WEBHOOK_MAX_AGE_SECONDS away from now, or whose token it has seen before (replay).
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime
from email import message_from_bytes
from email.message import Message
from email.policy import compat32

from django.core.cache import cache

TOKEN_CACHE_PREFIX = "inbound:mailgun-token:"


def signature(*, key: str, timestamp: str, token: str) -> str:
    return hmac.new(key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256).hexdigest()


def signature_valid(*, key: str, timestamp: str, token: str, signed: str, now: datetime, max_age: int) -> bool:
    """Mailgun's check, plus freshness; each token is accepted once."""
    if not key or not token or not signed or len(token) > 200:
        return False
    try:
        age = abs(now.timestamp() - int(timestamp))
    except ValueError:
        return False
    if age > max_age:
        return False
    if not hmac.compare_digest(signature(key=key, timestamp=timestamp, token=token), signed):
        return False
    return cache.add(f"{TOKEN_CACHE_PREFIX}{hashlib.sha256(token.encode()).hexdigest()}", 1, timeout=max_age * 2)


def form_fields(content_type_header: str, body: bytes, *, max_fields: int = 200) -> dict[str, bytes]:
    """The fields of a multipart/form-data body, as bytes (a field may hold a whole message of any size).

    Django's form parsing keeps non-file fields under DATA_UPLOAD_MAX_MEMORY_SIZE, far below a
    message with attachments; the MIME parser reads the body the caller has already size-checked.
    """
    if not content_type_header.lower().startswith("multipart/form-data"):
        return {}
    header = content_type_header.replace("\r", " ").replace("\n", " ").encode("latin-1", "replace")
    form = message_from_bytes(b"Content-Type: " + header + b"\r\n\r\n" + body, policy=compat32)
    parts = form.get_payload() if form.is_multipart() else []
    fields: dict[str, bytes] = {}
    for part in parts if isinstance(parts, list) else []:
        if not isinstance(part, Message) or len(fields) >= max_fields:
            continue
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str) or name in fields:
            continue
        value = part.get_payload(decode=True)
        fields[name] = value if isinstance(value, bytes) else b""
    return fields
