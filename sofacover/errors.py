"""Domain errors and the one DRF exception handler that turns them into 400/409."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler


class DomainError(Exception):
    """A rule of the desk refused the change. Nothing was written."""

    code = "invalid"
    http_status = status.HTTP_400_BAD_REQUEST

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class Conflict(DomainError):
    code = "conflict"
    http_status = status.HTTP_409_CONFLICT


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    from django_ratelimit.exceptions import Ratelimited

    if isinstance(exc, Ratelimited):
        return Response(
            {"code": "rate_limited", "detail": "Too many attempts. Please wait a while and try again."},
            status=status.HTTP_429_TOO_MANY_REQUESTS,
        )
    if isinstance(exc, DomainError):
        body: dict[str, Any] = {"code": exc.code, "message": exc.message}
        if exc.field:
            body[exc.field] = [exc.message]
        return Response(body, status=exc.http_status)
    return exception_handler(exc, context)


def ratelimited(request: HttpRequest, exception: Exception) -> HttpResponse:
    """Shown when django-ratelimit refuses a request: a 429, in JSON for the API."""
    message = "Too many attempts. Please wait a while and try again."
    if request.path.startswith("/api/"):
        from django.http import JsonResponse

        return JsonResponse({"code": "rate_limited", "detail": message}, status=429)
    return render(request, "429.html", {"message": message}, status=429)


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """404 for any path: JSON under /api/, the portal's page elsewhere."""
    if request.path.startswith("/api/"):
        from django.http import JsonResponse

        return JsonResponse({"detail": "Not found."}, status=404)
    from django.views.defaults import page_not_found

    return page_not_found(request, exception)
