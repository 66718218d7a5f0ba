"""The public status page and its Atom feed: no sign-in, rendered from the snapshot (status.py).

Neither reads the database while the snapshot is fresh. The page's body (everything
but the subscription form, which carries the visitor's CSRF token) is rendered
once per snapshot in each process and reused; the subscription doors, which run
use cases, are support's (support/portal/status.py).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from django import forms
from django.conf import settings
from django.contrib.syndication.views import Feed
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import dateformat, timezone, translation
from django.utils.cache import patch_cache_control
from django.utils.feedgenerator import Atom1Feed
from django.utils.html import linebreaks
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_safe

from . import status as status_page

# How long a browser or proxy may keep the feed (the snapshot itself is at most a minute old).
PUBLIC_MAX_AGE = 30


class SubscribeForm(forms.Form):
    email = forms.EmailField(
        label=_("Email address"),
        max_length=254,
        help_text=_("We send a link to confirm it; every mail has a one-click unsubscribe link."),
    )


class PerSnapshot:
    """One rendering per snapshot version and language, kept by the process (a snapshot's version never
    changes content; the page's words follow the visitor's language).

    Per language, the version and its rendering are one tuple, replaced whole: threads read it without a lock.
    """

    def __init__(self) -> None:
        self.entries: dict[str, tuple[str, Any]] = {}

    def get(self, data: dict[str, Any], render_it: Any) -> Any:
        language = translation.get_language() or ""
        version, value = self.entries.get(language, ("", None))
        if version != data["version"]:
            value = render_it(data)
            self.entries[language] = (data["version"], value)
        return value


_body = PerSnapshot()


def page_body(data: dict[str, Any]) -> SafeString:
    """The status page's body for this snapshot: banner, components and uptime, incidents, maintenance, history."""
    return _body.get(data, lambda d: mark_safe(render_to_string("incidents/status/_body.html", {"status": d})))


# Stands for the visitor's CSRF token in the page rendered once for every anonymous visitor.
_CSRF_PLACEHOLDER = f"csrf-{uuid.uuid4().hex}"
_anonymous = PerSnapshot()


def _anonymous_page(data: dict[str, Any]) -> str:
    """The whole page as an anonymous visitor sees it (no user, no messages), with a placeholder token."""
    context = {"body": page_body(data), "status": data, "form": SubscribeForm(), "csrf_token": _CSRF_PLACEHOLDER}
    return render_to_string("incidents/status/page.html", context)


def render_page(request: HttpRequest, *, form: SubscribeForm | None = None, status: int = 200) -> HttpResponse:
    """The page, with ``form`` (a subscription refused, with its errors) or an empty one.

    An anonymous visitor with no message waiting (most of them, and everyone a crowd brings
    during an outage) gets the page rendered once per snapshot, their CSRF token put in; a
    signed-in one (their name and logout form in the header) a page rendered for them.
    """
    data = status_page.snapshot(now=timezone.now())
    if form is None and not request.user.is_authenticated and "messages" not in request.COOKIES:
        html = _anonymous.get(data, _anonymous_page).replace(_CSRF_PLACEHOLDER, get_token(request))
        return HttpResponse(html)
    context = {"body": page_body(data), "status": data, "form": form or SubscribeForm()}
    return render(request, "incidents/status/page.html", context, status=status)


@require_safe
def status_page_view(request: HttpRequest) -> HttpResponse:
    return render_page(request)


def page_url() -> str:
    """The page's address, from DESK_BASE_URL (never from a request's Host header)."""
    return settings.DESK_BASE_URL.rstrip("/") + reverse("status:page")


class StatusFeed(Feed):
    """Atom: the public updates of public incidents and the maintenance announced, newest first."""

    feed_type = Atom1Feed
    title = "SofaCover Pro service status"
    subtitle = "Incident updates and scheduled maintenance for the SofaCover Pro shop."

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data

    def get_object(self, request: HttpRequest, *args: Any, **kwargs: Any) -> dict[str, Any]:
        return self.data

    def link(self) -> str:
        return page_url()

    def feed_url(self) -> str:
        return settings.DESK_BASE_URL.rstrip("/") + reverse("status:feed")

    def feed_guid(self) -> str:
        return page_url()

    def items(self, obj: dict[str, Any]) -> list[dict[str, Any]]:
        return obj["feed"]

    def item_title(self, item: dict[str, Any]) -> str:
        return item["title"]

    def item_description(self, item: dict[str, Any]) -> str:
        text = item["body"] or ""
        if "starts_at" in item:
            zone = status_page.desk_zone()
            when = f"{_when(item['starts_at'].astimezone(zone))} to {_when(item['ends_at'].astimezone(zone))}"
            text = f"{when}.\n\n{text}" if text else f"{when}."
        return linebreaks(text, autoescape=True)

    def item_link(self, item: dict[str, Any]) -> str:
        anchor = f"incident-{item['incident']}" if item["incident"] else f"maintenance-{item['id']}"
        return f"{page_url()}#{anchor}"

    def item_guid(self, item: dict[str, Any]) -> str:
        kind = "update" if item["incident"] else "maintenance"
        return f"{page_url()}#{kind}-{item['id']}"

    item_guid_is_permalink = False

    def item_pubdate(self, item: dict[str, Any]) -> datetime:
        return item["at"]

    def item_updateddate(self, item: dict[str, Any]) -> datetime:
        return item["at"]


def _when(moment: datetime) -> str:
    return dateformat.format(moment, "j M Y H:i T")


_feed = PerSnapshot()


@require_safe
def status_feed(request: HttpRequest) -> HttpResponse:
    """The feed, rendered once per snapshot in each process (its links come from DESK_BASE_URL, not the request)."""
    data = status_page.snapshot(now=timezone.now())
    body = _feed.get(data, lambda d: StatusFeed(d)(request).content)
    response = HttpResponse(body, content_type=Atom1Feed.content_type)
    patch_cache_control(response, public=True, max_age=PUBLIC_MAX_AGE)
    return response
