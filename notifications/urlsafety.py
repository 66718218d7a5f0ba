"""SSRF guard for destinations that managers type in (Slack incoming webhooks, generic webhooks).

Three checks, because one is never enough:

1. on save, the URL's host is resolved and every address must be public
   (``validate_destination``, a model field validator, so the admin form and
   ``full_clean`` both run it);
2. at send time the host is resolved again and re-checked before connecting,
   and every redirect hop is re-checked the same way (redirects are never
   followed automatically, and at most ``MAX_REDIRECTS`` are followed);
3. after the TCP connection is made, the peer address actually connected to
   is checked before a single byte is sent, so a DNS answer that changes
   between the check and the connect (rebinding) is still refused.

Loopback and private networks are allowed only when the deployment says so
explicitly: ``NOTIFY_ALLOW_PRIVATE_URLS = True`` (tests with a loopback
server) or a CIDR in ``NOTIFY_PRIVATE_URL_ALLOWLIST``.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Mapping
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

MAX_REDIRECTS = 3
SCHEMES = {"http", "https"}
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class BlockedDestination(Exception):
    """The destination is not a public address (or cannot be resolved)."""


def _allowlist() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [ipaddress.ip_network(cidr, strict=False) for cidr in getattr(settings, "NOTIFY_PRIVATE_URL_ALLOWLIST", [])]


def address_allowed(address: str | IPAddress) -> bool:
    """True for a globally routable unicast address, or one the settings explicitly allow."""
    ip = ipaddress.ip_address(address.split("%", 1)[0] if isinstance(address, str) else address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if getattr(settings, "NOTIFY_ALLOW_PRIVATE_URLS", False):
        return True
    if any(ip in network for network in _allowlist()):
        return True
    return ip.is_global and not (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_reserved
        or ip.is_multicast
        or ip.is_unspecified
        or (isinstance(ip, ipaddress.IPv6Address) and ip.sixtofour is not None)
        or (isinstance(ip, ipaddress.IPv6Address) and ip.teredo is not None)
    )


def resolve(host: str, port: int) -> list[str]:
    """Every address the host resolves to (an IP literal resolves to itself)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise BlockedDestination(gettext("the host “%(host)s” cannot be resolved") % {"host": host}) from exc
    return sorted({str(info[4][0]) for info in infos})  # an IP address for every stream socket family


def check_url(url: str) -> None:
    """Refuse a URL whose scheme is not http(s) or whose host resolves to any non-public address.

    :raises BlockedDestination: with a message safe to show (it never contains the URL's path or query)
    """
    parts = urlsplit(url)
    if parts.scheme not in SCHEMES or not parts.hostname:
        raise BlockedDestination(gettext("only http:// and https:// URLs with a host name are allowed"))
    if parts.username or parts.password:
        raise BlockedDestination(gettext("URLs with a user name or password are not allowed"))
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise BlockedDestination(gettext("the port is not valid")) from exc
    addresses = resolve(parts.hostname, port)
    refused = [address for address in addresses if not address_allowed(address)]
    if refused or not addresses:
        raise BlockedDestination(
            gettext(
                "%(host)s resolves to a private, loopback, link-local or reserved address "
                "(%(addresses)s); alerts may only go to public addresses"
            )
            % {"host": parts.hostname, "addresses": ", ".join(refused) or "none"}
        )


def validate_destination(value: str) -> None:
    """Model field validator: the URL must reach a public address (empty means unconfigured)."""
    if not value:
        return
    try:
        check_url(value)
    except BlockedDestination as exc:
        raise ValidationError(
            gettext("This destination is refused: %(error)s.") % {"error": exc}, code="blocked_destination"
        ) from exc


# --- connect-time check ------------------------------------------------------------


def _checked(sock: socket.socket) -> socket.socket:
    peer = sock.getpeername()[0]
    if not address_allowed(peer):
        sock.close()
        raise BlockedDestination(f"the connection reached the non-public address {peer}")
    return sock


# types-urllib3, which selenium pulls in, describes urllib3 1.26 and hides urllib3 2's own annotations:
# it lacks _new_conn and PoolManager.pool_classes_by_scheme, which urllib3 2 has.


class GuardedHTTPConnection(HTTPConnection):
    def _new_conn(self) -> socket.socket:
        return _checked(super()._new_conn())  # type: ignore[misc]  # see above: a stub of urllib3 1.26


class GuardedHTTPSConnection(HTTPSConnection):
    def _new_conn(self) -> socket.socket:
        return _checked(super()._new_conn())  # type: ignore[misc]  # see above: a stub of urllib3 1.26


class GuardedHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = GuardedHTTPConnection


class GuardedHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = GuardedHTTPSConnection


class GuardedAdapter(HTTPAdapter):
    """A requests adapter whose connections refuse non-public peers after connecting."""

    def init_poolmanager(self, *args, **kwargs) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {  # type: ignore[attr-defined]  # see above: urllib3 1.26 stub
            "http": GuardedHTTPConnectionPool,
            "https": GuardedHTTPSConnectionPool,
        }


def guarded_session() -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # an environment proxy would connect for us and bypass the peer check
    adapter = GuardedAdapter(max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def post_json(
    url: str,
    payload: Mapping[str, Any],
    *,
    timeout: tuple[float, float] | float,
    headers: dict[str, str] | None = None,
) -> requests.Response:
    """POST JSON to a manager-entered URL: checked before connecting, at connect time, and on each redirect.

    Redirects are followed by hand (at most MAX_REDIRECTS): 307/308 repeat the POST,
    301/302/303 become a GET, as browsers do. Returns the final ``requests.Response``.

    :raises BlockedDestination: a hop targets a non-public address, or too many redirects
    """
    body: Mapping[str, Any] | None
    method, body = "POST", payload
    with guarded_session() as session:
        for _ in range(MAX_REDIRECTS + 1):
            check_url(url)
            response = session.request(
                method,
                url,
                json=body if method == "POST" else None,
                headers=headers,
                timeout=timeout,
                allow_redirects=False,
            )
            if not response.is_redirect:
                return response
            location = response.headers.get("Location", "")
            response.close()
            url = urljoin(url, location)
            if response.status_code in (301, 302, 303):
                method, body = "GET", None
        raise BlockedDestination(f"more than {MAX_REDIRECTS} redirects")
