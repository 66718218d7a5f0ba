"""The monitors API: agents read, managers create and edit; error trackers post to a monitor's feed.

Doors only: parse, one service or selector call, render. Changing a monitor spans no other
app, so it calls monitors.services directly; what a check does to an incident is the runner's
(support.usecases.monitor_checked), never a request's.
"""

from __future__ import annotations

from datetime import timedelta

from django.core.exceptions import RequestDataTooBig
from django.db import transaction
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import permissions, serializers, status, viewsets
from rest_framework.authentication import BaseAuthentication
from rest_framework.decorators import action
from rest_framework.exceptions import NotAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import permissions as roles
from incidents.models import Component
from sofacover.openapi import REFUSAL, VALIDATION_ERROR
from sofacover.parsers import JSONParser
from sofacover.ratelimit import MONITOR_FEED

from .. import selectors, services
from ..models import Monitor
from . import serializers as s

ERRORS = {
    400: OpenApiResponse(VALIDATION_ERROR, description="Invalid input: field names with their messages."),
    401: OpenApiResponse(REFUSAL, description="Not signed in."),
    403: OpenApiResponse(REFUSAL, description="Signed in, but not allowed: agents read, managers write."),
    404: OpenApiResponse(REFUSAL, description="No such monitor."),
}
MONITOR_ID = OpenApiParameter("id", int, OpenApiParameter.PATH, description="The monitor's id.")
RESULTS_SHOWN = 500


def errors(*codes: int) -> dict[int, OpenApiResponse]:
    return {code: ERRORS[code] for code in codes}


def once(request: Request, *names: str) -> None:
    """A parameter given more than once is a 400, not its last value taken.

    :raises ValidationError: naming the parameter
    """
    repeated = {
        name: [gettext("Give this parameter once.")] for name in names if len(request.query_params.getlist(name)) > 1
    }
    if repeated:
        raise serializers.ValidationError(repeated)


class MonitorPermission(permissions.BasePermission):
    message = gettext_lazy("Agents may read monitors; only managers may create, change or delete them.")

    def has_permission(self, request, view) -> bool:
        if not request.user.is_authenticated:
            return False
        if request.method in permissions.SAFE_METHODS:
            return roles.is_agent(request.user)
        return roles.is_manager(request.user)


@extend_schema_view(
    list=extend_schema(
        summary="Monitors (agents)",
        description="Every monitor with its configuration and what it last saw, by name.",
        parameters=[
            OpenApiParameter("kind", str, enum=Monitor.Kind.values),
            OpenApiParameter("state", str, enum=Monitor.State.values),
        ],
        responses={200: s.MonitorSerializer, **errors(400, 401, 403)},
    ),
    retrieve=extend_schema(
        summary="One monitor (agents)",
        parameters=[MONITOR_ID],
        responses={200: s.MonitorSerializer, **errors(401, 403, 404)},
    ),
    create=extend_schema(
        summary="Create a monitor (managers)",
        description=(
            "Due at once. URLs must reach public addresses (the SSRF guard of alert destinations: "
            "NOTIFY_PRIVATE_URL_ALLOWLIST opens private networks)."
        ),
        request=s.MonitorWriteSerializer,
        responses={201: s.MonitorSerializer, **errors(400, 401, 403)},
    ),
    partial_update=extend_schema(
        summary="Change a monitor (managers)",
        description="Only the fields sent change; a monitor's kind cannot. Enabling it again makes it due at once.",
        parameters=[MONITOR_ID],
        request=s.MonitorWriteSerializer,
        responses={200: s.MonitorSerializer, **errors(400, 401, 403, 404)},
    ),
    destroy=extend_schema(
        summary="Delete a monitor and its history (managers)",
        parameters=[MONITOR_ID],
        responses={204: None, **errors(401, 403, 404)},
    ),
)
class MonitorViewSet(viewsets.GenericViewSet):
    serializer_class = s.MonitorSerializer
    permission_classes = [MonitorPermission]
    parser_classes = [JSONParser]
    filter_backends: list = []
    lookup_value_regex = "[0-9]+"
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self):
        return selectors.monitor_list().order_by("name", "id")

    def get_object(self) -> Monitor:
        monitor = selectors.monitor_get(int(self.kwargs["pk"]))
        if monitor is None:
            raise Http404
        return monitor

    def _out(self, monitor: Monitor) -> dict:
        return s.MonitorSerializer(monitor, context={"request": self.request}).data

    def list(self, request: Request) -> Response:
        once(request, "kind", "state")
        monitors = self.get_queryset()
        for name, choices in (("kind", Monitor.Kind.values), ("state", Monitor.State.values)):
            value = request.query_params.get(name)
            if value is not None:
                if value not in choices:
                    raise serializers.ValidationError({name: [f"Choose one of {', '.join(choices)}."]})
                monitors = monitors.filter(**{name: value})
        page = self.paginate_queryset(monitors) or []
        return self.get_paginated_response(s.MonitorSerializer(page, many=True, context={"request": request}).data)

    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(self._out(self.get_object()))

    def create(self, request: Request) -> Response:
        data = s.MonitorWriteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        monitor = services.monitor_create(now=timezone.now(), **data.validated_data)
        return Response(self._out(monitor), status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, pk: str) -> Response:
        monitor = self.get_object()
        data = s.MonitorWriteSerializer(monitor, data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        monitor = services.monitor_update(monitor=monitor, now=timezone.now(), **data.validated_data)
        return Response(self._out(monitor))

    def destroy(self, request: Request, pk: str) -> Response:
        with transaction.atomic():
            self.get_object().delete()
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="A monitor's recent checks, newest first (agents)",
        description=f"The raw results kept (48 hours), at most {RESULTS_SHOWN}; older history is rolled up.",
        parameters=[MONITOR_ID],
        responses={200: s.CheckResultSerializer(many=True), **errors(401, 403, 404)},
    )
    @action(detail=True, methods=["get"])
    def results(self, request: Request, pk: str) -> Response:
        page = self.paginate_queryset(selectors.results_recent(self.get_object(), limit=RESULTS_SHOWN))
        return self.get_paginated_response(s.CheckResultSerializer(page, many=True).data)

    @extend_schema(
        summary="Uptime per component and MTTD/MTTR, against their targets (agents)",
        description=(
            "Per status page component: the share of its HTTP checks that passed over the last `days` days "
            "(target 99.9 %), and one entry per day for the status page's bars. MTTD (detected - started) over "
            "the incidents started in those days (target 5 min), MTTR (resolved - started) over their resolved "
            "P0/P1 (target 2 h)."
        ),
        parameters=[OpenApiParameter("days", int, description="1 to 90 (default 30).")],
        responses={200: s.UptimeReportSerializer, **errors(400, 401, 403)},
    )
    @action(detail=False, methods=["get"], pagination_class=None)
    def uptime(self, request: Request) -> Response:
        once(request, "days")
        query = s.UptimeQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        days, now = query.validated_data["days"], timezone.now()
        components = [
            {
                "slug": component.slug,
                "name": component.name,
                "uptime": selectors.component_uptime(component, days=days, now=now),
                "series": selectors.component_uptime_days(component, days=days, now=now),
            }
            for component in Component.objects.order_by("position", "name")
        ]
        timing = selectors.incident_timing(since=now - timedelta(days=days), until=now)
        return Response(s.UptimeReportSerializer({"days": days, "components": components, "timing": timing}).data)


def too_many(wait: int) -> Response:
    """429, with when to come back: trackers retry a webhook that failed."""
    response = Response(
        {"code": "rate_limited", "detail": f"Too many posts to this feed. Try again in {wait} s."},
        status=status.HTTP_429_TOO_MANY_REQUESTS,
    )
    response["Retry-After"] = str(wait)
    return response


class FeedSecret(BaseAuthentication):
    """The feed signs no one in: the view checks the monitor's secret. This only makes a post
    without one a 401 that says how to authenticate (WWW-Authenticate: Bearer)."""

    def authenticate(self, request):
        return None

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="monitor feed"'


class MonitorEventsView(APIView):
    """The error-rate feed: error trackers post here with the monitor's secret."""

    authentication_classes = [FeedSecret]
    permission_classes = [permissions.AllowAny]
    parser_classes = [JSONParser]

    @extend_schema(
        summary="Post errors (or request counts) to an error-rate monitor",
        description=(
            "For Sentry-compatible error trackers. The monitor's secret goes in `Authorization: Bearer <token>`, "
            "or `?token=` for trackers that only take a URL, or signs the body: `Sentry-Hook-Signature` = hex "
            'HMAC-SHA256 of the raw body keyed with it. `{"errors": n}` and/or `{"requests": n}` add those '
            "counts; any other JSON object (an event or issue webhook) counts as one error. The monitor's check "
            "compares errors with requests over its window (5 minutes) against its threshold (0.1 %)."
        ),
        parameters=[
            OpenApiParameter("id", int, OpenApiParameter.PATH, description="The error-rate monitor's id."),
            OpenApiParameter("token", str, description="The monitor's secret, for trackers that only take a URL."),
            OpenApiParameter(
                "Sentry-Hook-Signature",
                str,
                OpenApiParameter.HEADER,
                description="Hex HMAC-SHA256 of the raw body, keyed with the monitor's secret.",
            ),
        ],
        request=s.FeedSerializer,
        responses={
            202: s.FeedResultSerializer,
            400: ERRORS[400],
            401: OpenApiResponse(REFUSAL, description="No secret, signature or token given."),
            404: OpenApiResponse(REFUSAL, description="No such error-rate monitor, or the secret is wrong."),
            413: OpenApiResponse(REFUSAL, description="The body is larger than the desk accepts."),
            429: OpenApiResponse(
                REFUSAL,
                description="Too many posts from this address, or to this monitor, in the window "
                "(settings.RATELIMITS `monitor_feed_ip`, `monitor_feed`); `Retry-After` says when to come back.",
            ),
        },
        auth=[],
    )
    def post(self, request: Request, pk: int) -> Response:
        wait = MONITOR_FEED.enter_address(request)
        if wait is not None:
            return too_many(wait)
        try:
            body = request.body
        except RequestDataTooBig:
            return Response(
                {"detail": gettext("The request body is too large.")}, status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
            )
        if not body.strip():
            raise serializers.ValidationError({"non_field_errors": [gettext("Post a JSON object.")]})
        header = request.headers.get("Authorization", "")
        token = header[7:].strip() if header[:7].lower() == "bearer " else request.query_params.get("token", "")
        signature = request.headers.get("Sentry-Hook-Signature", "")
        if not token and not signature:
            raise NotAuthenticated(gettext("Send the monitor's secret: Authorization: Bearer <token>."))
        monitor = services.feed_authenticate(monitor_id=pk, token=token, signature=signature, body=body)
        if monitor is None:
            raise Http404
        wait = MONITOR_FEED.enter_feed(request, f"monitor:{monitor.pk}")
        if wait is not None:
            return too_many(wait)
        errors_posted, requests_served = services.feed_counts(request.data)
        services.feed_record(monitor=monitor, errors=errors_posted, requests_served=requests_served, now=timezone.now())
        return Response({"errors": errors_posted, "requests": requests_served}, status=status.HTTP_202_ACCEPTED)
