"""Client address for rate limits.

REMOTE_ADDR unless DJANGO_TRUSTED_PROXIES says how many reverse proxies sit in
front of us, in which case the address that many hops from the right of
X-Forwarded-For. Anything unparsable counts as one shared "unknown" client, so
a malformed request is limited, not a 500.
"""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest

UNKNOWN = "0.0.0.0"


def client_ip(request: HttpRequest) -> str:
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
