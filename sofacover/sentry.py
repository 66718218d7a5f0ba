"""Error tracking: sentry-sdk, wired by ``SENTRY_DSN``; nothing at all without it.

The web process (Django) and the Celery worker and beat report unhandled
exceptions and error log records. No personal data leaves the desk by default:

- ``DATA_COLLECTION`` (sentry-sdk's ``data_collection``, which replaces ``send_default_pii``):
  no user, cookies, headers, client address, query strings, request bodies, SQL
  parameters, task arguments, nor the local variables of the stack frames (a frame
  of a view holds the customer's message);
- :func:`scrub` runs on every event before it is sent: it drops what is left of the
  request but its method (paths carry signed tokens: activation, reset and survey
  links; the event's transaction names the URL pattern instead), keeps the user's id
  only, and replaces every email address in any string of the event (exception
  messages, log messages, breadcrumbs) with ``[email]``;
- no Redis breadcrumbs (their keys include the cached sessions' keys);
- :func:`scrub_breadcrumb` does the same to each breadcrumb as it is recorded, and
  cuts an outgoing HTTP request's URL to its origin (a Slack webhook's path is its secret).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from sentry_sdk._types import DataCollectionUserOptions

EMAIL = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
EMAIL_REPLACEMENT = "[email]"
# What the integrations collect by themselves: nothing personal. (sentry-sdk 2.76 deprecates
# ``send_default_pii`` for this option; leaving both unset means ``send_default_pii=False``, and this
# spells each category out, stricter still: no frame variables, query strings or task arguments.)
DATA_COLLECTION: DataCollectionUserOptions = {
    "user_info": False,
    "cookies": {"mode": "off"},
    "http_headers": {"request": {"mode": "off"}},
    "http_bodies": [],
    "url_query_params": {"mode": "off"},
    "database_query_data": False,
    "queues": False,
    "stack_frame_variables": False,
    "gen_ai": {"inputs": False, "outputs": False},
    "graphql": {"document": False, "variables": False},
}
REQUEST_KEPT = ("method",)


def _scrub_value(value: Any) -> Any:
    if isinstance(value, str):
        return EMAIL.sub(EMAIL_REPLACEMENT, value)
    if isinstance(value, dict):
        return {key: _scrub_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub_value(item) for item in value]
    return value


def scrub(event: dict[str, Any], hint: dict[str, Any] | None = None) -> dict[str, Any]:
    """``before_send`` and ``before_send_transaction``: the event without personal data."""
    request = event.get("request")
    if isinstance(request, dict):
        event["request"] = {key: request[key] for key in REQUEST_KEPT if key in request}
    user = event.get("user")
    if isinstance(user, dict):
        event["user"] = {"id": user["id"]} if "id" in user else {}
    return _scrub_value(event)


def scrub_breadcrumb(crumb: dict[str, Any], hint: dict[str, Any] | None = None) -> dict[str, Any]:
    """``before_breadcrumb``: emails out, and an outgoing request's URL down to its origin."""
    data = crumb.get("data")
    if isinstance(data, dict) and isinstance(data.get("url"), str):
        parts = urlsplit(data["url"])
        data["url"] = f"{parts.scheme}://{parts.hostname}" if parts.scheme and parts.hostname else ""
        for key in ("http.query", "http.fragment"):
            data.pop(key, None)
    return _scrub_value(crumb)


def sentry_init(*, dsn: str, environment: str, release: str | None, traces_sample_rate: float) -> bool:
    """Start the SDK when a DSN is given; say whether it was started."""
    if not dsn:
        return False
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.django import DjangoIntegration
    from sentry_sdk.integrations.redis import RedisIntegration

    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        release=release or None,
        # Events are named after the URL pattern, never the path (which may carry a token).
        integrations=[DjangoIntegration(transaction_style="url"), CeleryIntegration()],
        # Its breadcrumbs name the keys: a cached session's key is the session itself.
        disabled_integrations=[RedisIntegration()],
        data_collection=DATA_COLLECTION,
        traces_sample_rate=traces_sample_rate,
        before_send=scrub,  # type: ignore[arg-type]
        before_send_transaction=scrub,  # type: ignore[arg-type]
        before_breadcrumb=scrub_breadcrumb,
    )
    return True
