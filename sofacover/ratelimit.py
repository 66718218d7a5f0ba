"""The one rate limiter for the desk's doors, on django-ratelimit's counters.

Doors that name an account are limited per client address and per (client address,
account), never per account alone: an attacker's attempts from one address throttle
that address, while the account's owner, from any other address, gets in at once.

- LOGIN: the portal login, the agent console login and the API token endpoint share
  one pair of counters, so switching doors buys no attempts. Failures are counted
  (accounts.auth.EmailBackend counts them, as every password check passes there);
  successful logins are not.
- PASSWORD_RESET, SIGNUP and STATUS_SUBSCRIBE (the status page's email subscription):
  every accepted request is counted, since each may send mail.
  account_mail_allowed() also caps the mail one address receives; it never changes
  the answer, so it locks nobody out.
- customer_replies: a customer's replies, from the portal form and the API alike.
- MONITOR_FEED: the error trackers' posts to an error-rate monitor (monitors.api.views), per
  client address (every post) and per monitor (posts its secret let in); a 429 says when to
  come back (Retry-After).

The account is the normalised address, read from the parsed body whatever its content
type. Rates are read from settings.RATELIMITS on every request. Counters are fixed
windows in the default cache, shared between processes only when that cache is:
shared_cache_check() warns under `manage.py check --deploy` when it is not.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any

from django.conf import settings
from django.core import checks
from django.core.cache.backends.memcached import BaseMemcachedCache
from django.core.cache.backends.redis import RedisCache
from django.http import HttpRequest, HttpResponse
from django.utils.module_loading import import_string
from django_ratelimit.core import get_usage, is_ratelimited
from django_ratelimit.decorators import ratelimit
from django_ratelimit.exceptions import Ratelimited

UNKNOWN = "0.0.0.0"
# How an account is keyed: the address as the desk stores it. A path, resolved on use,
# because accounts.auth itself counts login failures through this module.
NORMALISE_ACCOUNT = "accounts.auth.normalise_email"
SHARED_CACHES = (RedisCache, BaseMemcachedCache)


def client_ip(request: HttpRequest) -> str:
    """REMOTE_ADDR unless DJANGO_TRUSTED_PROXIES says how many reverse proxies sit in
    front of us, in which case the address that many hops from the right of
    X-Forwarded-For. Anything unparsable counts as one shared "unknown" client, so
    a malformed request is limited, not a 500."""
    candidate = request.META.get("REMOTE_ADDR", "")
    proxies = getattr(settings, "TRUSTED_PROXIES", 0)
    if proxies:
        hops = [h.strip() for h in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if h.strip()]
        if len(hops) >= proxies:
            candidate = hops[-proxies]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return UNKNOWN


def client_network(request: HttpRequest) -> str:
    """The client as django-ratelimit's "ip" key counts it: an IPv6 /64 (one subscriber), an IPv4 address."""
    address = ipaddress.ip_address(client_ip(request))
    if address.version == 6:
        prefix = getattr(settings, "RATELIMIT_IPV6_MASK", 64)
    else:
        prefix = getattr(settings, "RATELIMIT_IPV4_MASK", 32)
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False).network_address)


def account_key(value: object) -> str:
    """The account part of a key: the normalised address. Anything but a string names no account."""
    if not isinstance(value, str):
        return ""
    return import_string(NORMALISE_ACCOUNT)(value)


@dataclass(frozen=True)
class Door:
    """A way in that names an account, limited per client address and per (client address, account).

    ``per_address`` and ``per_address_account`` name entries of settings.RATELIMITS.
    """

    name: str
    per_address: str
    per_address_account: str

    def _usages(self, request: HttpRequest, account: object, *, increment: bool) -> list[dict[str, Any]]:
        network = client_network(request)
        counters = ((self.per_address, network), (self.per_address_account, f"{network} {account_key(account)}"))
        usages = []
        for rate_name, value in counters:
            usage = get_usage(
                request,
                group=f"{self.name}:{rate_name}",
                key=lambda group, request, value=value: value,
                rate=settings.RATELIMITS[rate_name],
                increment=increment,
            )
            if usage is not None:  # None: rate limiting is switched off (RATELIMIT_ENABLE)
                usages.append(usage)
        return usages

    def refuses(self, request: HttpRequest, account: object) -> bool:
        """Whether this address, or this address and account, has no attempt left. Counts nothing."""
        usages = self._usages(request, account, increment=False)
        return any(u["should_limit"] or u["count"] >= u["limit"] for u in usages)

    def check(self, request: HttpRequest, account: object) -> None:
        """:raises Ratelimited: (a 429) when refuses() says so."""
        if self.refuses(request, account):
            raise Ratelimited()

    def count(self, request: HttpRequest, account: object) -> bool:
        """Count one attempt on both counters; True when it went over a limit."""
        usages = self._usages(request, account, increment=True)  # a list: both counters count
        return any(u["should_limit"] for u in usages)

    def enter(self, request: HttpRequest, account: object) -> None:
        """Count one attempt. :raises Ratelimited: (a 429) when it went over a limit."""
        if self.count(request, account):
            raise Ratelimited()

    def guard(self, field: str) -> Callable:
        """View decorator for a form door: a POST whose address, or address and the account in
        ``field``, has no attempt left is refused (429) before the view reads a password."""

        def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
            @wraps(view)
            def guarded(request: HttpRequest, *args, **kwargs) -> HttpResponse:
                if request.method == "POST":
                    self.check(request, request.POST.get(field, ""))
                return view(request, *args, **kwargs)

            return guarded

        return decorator


LOGIN = Door("login", per_address="login_ip", per_address_account="login_ip_account")
PASSWORD_RESET = Door(
    "password-reset", per_address="password_reset_ip", per_address_account="password_reset_ip_account"
)
SIGNUP = Door("signup", per_address="signup_ip", per_address_account="signup_ip_account")
STATUS_SUBSCRIBE = Door(
    "status-subscribe", per_address="status_subscribe_ip", per_address_account="status_subscribe_ip_account"
)


@dataclass(frozen=True)
class Feed:
    """An inbound feed machines post to (the monitors' error-rate webhook), limited per client
    address and per feed.

    Every post counts against its address before its secret is checked; only the posts a feed's
    secret let in count against that feed, so nobody without the secret spends a feed's allowance,
    and one noisy tracker slows its own feed, not the others. ``per_address`` and ``per_feed`` name
    entries of settings.RATELIMITS.
    """

    name: str
    per_address: str
    per_feed: str

    def _enter(self, request: HttpRequest, rate_name: str, value: str) -> int | None:
        usage = get_usage(
            request,
            group=f"{self.name}:{rate_name}",
            key=lambda group, request: value,
            rate=settings.RATELIMITS[rate_name],
            increment=True,
        )
        if usage is None or not usage["should_limit"]:  # None: rate limiting is switched off
            return None
        return max(1, int(usage["time_left"]))

    def enter_address(self, request: HttpRequest) -> int | None:
        """Count one post for its client address: the seconds until its window ends when over the limit."""
        return self._enter(request, self.per_address, client_network(request))

    def enter_feed(self, request: HttpRequest, feed: str) -> int | None:
        """Count one post let in to ``feed``: the seconds until its window ends when over the limit."""
        return self._enter(request, self.per_feed, feed)


MONITOR_FEED = Feed("monitor-feed", per_address="monitor_feed_ip", per_feed="monitor_feed")


def account_mail_allowed(request: HttpRequest, address: str) -> bool:
    """Count one mail about an account (a reset link, an activation link, "you already have an
    account") to ``address``; False once settings.RATELIMITS["account_mail"] is spent for it.

    Callers send nothing then but answer as usual: the owner already holds the links sent, so
    flooding an inbox from many addresses locks nobody out.
    """
    return not is_ratelimited(
        request,
        group="account-mail",
        key=lambda group, request: account_key(address),
        rate=settings.RATELIMITS["account_mail"],
        increment=True,
    )


def _customer_rate(name: str) -> Callable[[str, HttpRequest], str | None]:
    """A rate from settings.RATELIMITS for customers; None ("no limit") for the desk's staff."""
    return lambda group, request: None if request.user.is_staff else settings.RATELIMITS[name]


def customer_replies(view: Callable) -> Callable:
    """Limit a reply view: per client address and per customer, one pair of counters for the
    portal's reply form and the API's messages endpoint. Staff replies are not limited."""
    view = ratelimit(group="ticket-reply:ip", key="ip", rate=_customer_rate("ticket_ip"), method="POST")(view)
    return ratelimit(group="ticket-reply:user", key="user", rate=_customer_rate("ticket_account"), method="POST")(view)


def shared_cache_check(app_configs: Any, **kwargs: Any) -> list[checks.CheckMessage]:
    """sofacover.W001 (with --deploy): rate-limit counters need a cache every process shares."""
    alias = getattr(settings, "RATELIMIT_USE_CACHE", "default")
    backend_path = settings.CACHES.get(alias, {}).get("BACKEND", "")
    try:
        shared = issubclass(import_string(backend_path), SHARED_CACHES)
    except ImportError:
        shared = False
    if shared:
        return []
    return [
        checks.Warning(
            f"Rate limits are counted in the cache {alias!r} ({backend_path or 'not configured'}), "
            "which each process keeps for itself: with N web processes every login, reset, sign-up "
            "and reply limit allows N times the attempts, and a sign-out reaches only the process that "
            "served it (the others keep the session in their own copy until it expires).",
            hint="Set REDIS_URL so that the cache, and with it every rate-limit counter, is shared.",
            id="sofacover.W001",
        )
    ]
