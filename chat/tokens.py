"""The short-lived signed token that lets an anonymous visitor's browser join their own chat."""

from __future__ import annotations

from django.conf import settings
from django.core import signing

SALT = "chat.visitor"


def visitor_token(*, session_id: int, visitor_id: int) -> str:
    return signing.dumps({"s": session_id, "v": visitor_id}, salt=SALT, compress=False)


def visitor_from_token(token: str, *, session_id: int) -> int | None:
    """The visitor's user id if ``token`` is valid, unexpired and for this chat; else None."""
    try:
        data = signing.loads(token, salt=SALT, max_age=settings.CHAT_TOKEN_MAX_AGE)
    except signing.BadSignature:
        return None
    if not isinstance(data, dict) or data.get("s") != session_id or not isinstance(data.get("v"), int):
        return None
    return int(data["v"])
