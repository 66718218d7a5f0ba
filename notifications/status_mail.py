"""Status page subscribers' mail: the double opt-in confirmation, and the links every such mail carries.

Written to the outbox in the caller's transaction (support.usecases.status_subscribe).
Links are built from DESK_BASE_URL, never from a request's Host header.
"""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.template.loader import render_to_string
from django.urls import reverse

from incidents.models import Subscriber

from . import services
from .models import Notification

# A pending address asking again gets its confirmation again, at most once in this many seconds.
CONFIRM_RESEND_SECONDS = 3600


def _absolute(path: str) -> str:
    return settings.DESK_BASE_URL.rstrip("/") + path


def confirm_url(subscriber: Subscriber) -> str:
    return _absolute(reverse("status:confirm", kwargs={"token": subscriber.token}))


def unsubscribe_url(subscriber: Subscriber) -> str:
    """The one-click unsubscribe link: a page with a button, and the RFC 8058 POST target."""
    return _absolute(reverse("status:unsubscribe", kwargs={"token": subscriber.token}))


def list_unsubscribe_headers(subscriber: Subscriber) -> dict[str, str]:
    """The headers of RFC 2369 and RFC 8058 for mail to a subscriber: mail clients offer one-click unsubscribe."""
    return {
        "List-Unsubscribe": f"<{unsubscribe_url(subscriber)}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }


def confirmation_key(subscriber: Subscriber, *, now: datetime) -> str:
    """One confirmation per subscriber and token, and per hour: asking again within the hour mails nothing
    more (the address cannot be flooded); after it the same link is mailed again (the first mail got lost)."""
    window = int(now.timestamp()) // CONFIRM_RESEND_SECONDS
    return f"status-confirm:{subscriber.pk}:{subscriber.token.hex}:{window}"


def confirmation_queue(*, subscriber: Subscriber, now: datetime) -> bool:
    """Queue the mail asking ``subscriber`` to confirm; True when written (False: deduplicated)."""
    context = {
        "confirm_url": confirm_url(subscriber),
        "status_url": _absolute(reverse("status:page")),
    }
    return services.queue(
        channel=Notification.Channel.EMAIL,
        kind=Notification.Kind.STATUS_CONFIRM,
        recipient=subscriber.email,
        subject="Confirm your SofaCover Pro status updates",
        body=render_to_string("notifications/status/confirm.txt", context),
        body_html=render_to_string("notifications/status/confirm.html", context),
        dedupe_key=confirmation_key(subscriber, now=now),
        now=now,
    )
