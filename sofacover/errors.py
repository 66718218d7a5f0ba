"""Domain errors, the one DRF exception handler that turns them into 400/409, and the
answers to requests no view should see (NUL characters, bodies over Django's limits)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils.functional import Promise
from django.utils.translation import gettext
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler


class DomainError(Exception):
    """A rule of the desk refused the change. Nothing was written."""

    code = "invalid"
    http_status: int = status.HTTP_400_BAD_REQUEST

    def __init__(self, message: str | Promise, *, field: str | None = None) -> None:
        # A message marked for translation is put in words now, in the language of the request that raised it.
        self.message = str(message)
        super().__init__(self.message)
        self.field = field


class Conflict(DomainError):
    code = "conflict"
    http_status = status.HTTP_409_CONFLICT


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    from django_ratelimit.exceptions import Ratelimited

    if isinstance(exc, Ratelimited):
        return Response(
            {"code": "rate_limited", "detail": gettext("Too many attempts. Please wait a while and try again.")},
            status=status.HTTP_429_TOO_MANY_REQUESTS,
        )
    if isinstance(exc, DomainError):
        body: dict[str, Any] = {"code": exc.code, "message": exc.message}
        if exc.field:
            body[exc.field] = [exc.message]
        return Response(body, status=exc.http_status)
    if isinstance(exc, RequestDataTooBig | TooManyFieldsSent | TooManyFilesSent):
        # Django refuses a body past its limits while DRF parses it: a 400 in JSON, not the HTML page.
        return Response({"detail": request_refusal(exc)}, status=status.HTTP_400_BAD_REQUEST)
    return exception_handler(exc, context)


def request_refusal(exc: Exception) -> str:
    """What to tell the client whose request Django refused as malformed or too large."""
    from django.conf import settings

    if isinstance(exc, TooManyFilesSent):
        return gettext("Too many files in one request: at most %(count)s.") % {
            "count": settings.DATA_UPLOAD_MAX_NUMBER_FILES
        }
    if isinstance(exc, TooManyFieldsSent):
        return gettext("Too many fields in one request: at most %(count)s.") % {
            "count": settings.DATA_UPLOAD_MAX_NUMBER_FIELDS
        }
    if isinstance(exc, RequestDataTooBig):
        return gettext("The request body is too large.")
    return gettext("The request is malformed.")


# --- NUL characters ---------------------------------------------------------------------------

NUL = "\x00"
# Django's and DRF's own words when a form field or serializer field refuses one.
NUL_MESSAGE = "Null characters are not allowed."


def nul_refusals(request: HttpRequest) -> dict[str, Any]:
    """Where the request carries a NUL character, as a 400 body; empty when it carries none.

    No text the desk stores or looks up may contain NUL: PostgreSQL refuses it in
    every text value (a 500 on PostgreSQL only). Query parameters and form fields
    are named with the usual field message; the path and headers get a ``detail``.
    Form fields are looked at in url-encoded bodies, and in multipart bodies outside
    the API (which CSRF checks parse anyway). The API's JSON and multipart bodies are
    left to its serializers, whose text fields refuse NUL naming the field: an
    anonymous upload is not parsed before the API has authenticated its sender.
    """
    found: dict[str, Any] = {}
    if NUL in request.path:
        found["detail"] = "The address contains a NUL character (%00), which no page or resource has."
    else:
        header = next(
            (key for key, value in request.META.items() if key.startswith("HTTP_") and NUL in str(value)), None
        )
        if header is not None:
            name = header.removeprefix("HTTP_").replace("_", "-").title()
            found["detail"] = f"The {name} header contains a NUL character, which is never valid there."
    fields = request.GET.lists()
    if _form_body_to_check(request):
        fields = [*fields, *request.POST.lists()]
    for name, values in fields:
        if NUL in name or any(NUL in value for value in values):
            found[name.replace(NUL, "%00")] = [NUL_MESSAGE]
    return found


def _form_body_to_check(request: HttpRequest) -> bool:
    if request.method != "POST":
        return False
    if request.content_type == "application/x-www-form-urlencoded":
        return True
    return request.content_type == "multipart/form-data" and not request.path.startswith("/api/")


def reject_nul(get_response: Callable[[HttpRequest], HttpResponse]) -> Callable[[HttpRequest], HttpResponse]:
    """Middleware: a NUL character in the path, a header, a query parameter or a form field is a 400
    before any view, session or user lookup runs (JSON under /api/, a page elsewhere)."""

    def middleware(request: HttpRequest) -> HttpResponse:
        refusals = nul_refusals(request)
        if not refusals:
            return get_response(request)
        if request.path.startswith("/api/"):
            return JsonResponse(refusals, status=400)
        where = [f"“{name}”" for name in refusals if name != "detail"]
        message = refusals.get("detail") or (
            f"The field {', '.join(where)} contains a NUL character (%00), which is never valid."
        )
        # Rendered without the request: the session and the user are not looked up for this request.
        return HttpResponseBadRequest(render_to_string("400.html", {"message": message}))

    return middleware


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """400 for a request Django refused before any view (a body past its limits): JSON under /api/."""
    message = request_refusal(exception)
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": message}, status=400)
    return HttpResponseBadRequest(render_to_string("400.html", {"message": message}))


def ratelimited(request: HttpRequest, exception: Exception) -> HttpResponse:
    """Shown when django-ratelimit refuses a request: a 429, in JSON for the API."""
    message = gettext("Too many attempts. Please wait a while and try again.")
    if request.path.startswith("/api/"):
        return JsonResponse({"code": "rate_limited", "detail": message}, status=429)
    return render(request, "429.html", {"message": message}, status=429)


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """404 for any path: JSON under /api/, the portal's page elsewhere."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Not found."}, status=404)
    from django.views.defaults import page_not_found

    return page_not_found(request, exception)
