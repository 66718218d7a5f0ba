"""The status page's email subscription: the form's door, the confirmation link, the unsubscribe link.

- ``subscribe`` (the form on /status/): one answer whatever the address's state, so
  nobody learns who is subscribed; every accepted request counts on the
  STATUS_SUBSCRIBE door (each may send mail).
- ``confirm``: GET shows a button and changes nothing (mail scanners open links); POST confirms.
- ``unsubscribe``: GET shows a button; POST unsubscribes, whether from that button or from a
  mail client's RFC 8058 one-click POST (``List-Unsubscribe=One-Click``, without a CSRF token:
  the token in the address is the capability).
"""

from __future__ import annotations

from uuid import UUID

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from incidents import subscriptions
from incidents.models import Subscriber
from incidents.status_views import SubscribeForm, render_page
from sofacover import ratelimit as limits
from sofacover.errors import DomainError
from support import usecases


@require_POST
def subscribe(request: HttpRequest) -> HttpResponse:
    form = SubscribeForm(request.POST)
    if form.is_valid():
        email = form.cleaned_data["email"]
        limits.STATUS_SUBSCRIBE.enter(request, email)
        try:
            usecases.status_subscribe(email=email, now=timezone.now())
        except DomainError as exc:
            form.add_error("email" if exc.field == "email" else None, exc.message)
        else:
            return redirect("status:subscribe-done")
    return render_page(request, form=form, status=400)


@require_safe
def subscribe_done(request: HttpRequest) -> HttpResponse:
    return render(request, "incidents/status/subscribe_done.html")


def _invalid(request: HttpRequest, exc: DomainError) -> HttpResponse:
    return render(request, "incidents/status/link_invalid.html", {"message": exc.message}, status=exc.http_status)


@require_http_methods(["GET", "HEAD", "POST"])
def confirm(request: HttpRequest, token: UUID) -> HttpResponse:
    try:
        if request.method == "POST":
            subscriber = usecases.status_confirm(token=str(token), now=timezone.now())
        else:
            subscriber = subscriptions.subscriber_by_token(token)
            if subscriber.unsubscribed_at is not None:
                raise subscriptions.SubscriptionLinkInvalid(subscriptions.UNSUBSCRIBED)
    except subscriptions.SubscriptionLinkInvalid as exc:
        return _invalid(request, exc)
    template = "confirmed.html" if subscriber.confirmed_at is not None else "confirm.html"
    return render(request, f"incidents/status/{template}", {"masked": _masked(subscriber)})


@csrf_exempt
@require_http_methods(["GET", "HEAD", "POST"])
def unsubscribe(request: HttpRequest, token: UUID) -> HttpResponse:
    try:
        if request.method == "POST":
            subscriber = usecases.status_unsubscribe(token=str(token), now=timezone.now())
        else:
            subscriber = subscriptions.subscriber_by_token(token)
    except subscriptions.SubscriptionLinkInvalid as exc:
        return _invalid(request, exc)
    template = "unsubscribed.html" if subscriber.unsubscribed_at is not None else "unsubscribe.html"
    return render(request, f"incidents/status/{template}", {"masked": _masked(subscriber)})


def _masked(subscriber: Subscriber) -> str:
    """The address as the page shows it: enough for its owner to recognise, not the whole of it
    to someone the link was forwarded to."""
    local, _, domain = subscriber.email.partition("@")
    return f"{local[:2]}{'•' * max(1, len(local) - 2)}@{domain}"
