"""The viewer's time zone, activated for each request, so every time a page shows is their local time.

Where it comes from, first found wins:

1. the session's ``TIME_ZONE_SESSION_KEY``: the zone the user saved (``accounts``' preference, copied into
   the session when they sign in or change it), so a signed-in page costs no query for it;
2. the ``TIME_ZONE_COOKIE`` the base templates' small script sets from the browser
   (``Intl.DateTimeFormat().resolvedOptions().timeZone``);
3. ``settings.TIME_ZONE``.

An unknown or malformed name is ignored (never a 500): the next source is tried.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable
from functools import lru_cache

from django.http import HttpRequest, HttpResponse
from django.utils import timezone

TIME_ZONE_SESSION_KEY = "desk_time_zone"
TIME_ZONE_COOKIE = "desk_tz"


@lru_cache(maxsize=1)
def zone_names() -> frozenset[str]:
    """Every IANA zone name this machine knows (read once: it scans the zone files)."""
    return frozenset(zoneinfo.available_timezones())


def zone_named(name: str) -> zoneinfo.ZoneInfo | None:
    """The zone of an IANA name (``Europe/Berlin``), or None for anything else."""
    if not name or len(name) > 64 or name not in zone_names():
        return None
    return zoneinfo.ZoneInfo(name)


def request_zone(request: HttpRequest) -> zoneinfo.ZoneInfo | None:
    session = getattr(request, "session", None)
    # Only a session the browser already has (its cookie): reading it is then no extra query, since
    # the authentication reads the same cached session; a visitor without one costs nothing.
    if session is not None and session.session_key:
        zone = zone_named(str(session.get(TIME_ZONE_SESSION_KEY) or ""))
        if zone is not None:
            return zone
    return zone_named(request.COOKIES.get(TIME_ZONE_COOKIE, ""))


class TimeZoneMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        zone = request_zone(request)
        if zone is None:
            timezone.deactivate()
        else:
            timezone.activate(zone)
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
