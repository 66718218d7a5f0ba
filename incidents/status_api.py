"""``GET /api/v1/status/``: the public status page as JSON, from the same snapshot as the page.

No sign-in: the document is the same for everyone. As everywhere in the API, a token
that is not valid is refused (401) rather than ignored. The serializers below document its shape for the
OpenAPI schema; the answer itself is the snapshot, encoded once per snapshot in each
process.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from django.utils import timezone
from django.utils.cache import patch_cache_control
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.views import APIView

from tickets.models import Ticket

from . import status as status_page
from .models import Incident
from .status_views import PUBLIC_MAX_AGE, PerSnapshot

MAINTENANCE_STATUSES = [("scheduled", "Scheduled"), ("in_progress", "In progress"), ("completed", "Completed")]


class StatusComponentRefSerializer(serializers.Serializer):
    slug = serializers.SlugField()
    name = serializers.CharField()


class StatusUpdateSerializer(serializers.Serializer):
    id = serializers.CharField(help_text="Stable identifier of the update.")
    at = serializers.DateTimeField()
    status = serializers.ChoiceField(choices=Incident.Status.choices, help_text="The incident's status it announced.")
    status_label = serializers.CharField()
    body = serializers.CharField(allow_blank=True)


class StatusIncidentSerializer(serializers.Serializer):
    id = serializers.CharField(help_text="Stable identifier of the incident (the page's anchor incident-<id>).")
    title = serializers.CharField()
    severity = serializers.ChoiceField(choices=Ticket.Priority.choices)
    severity_label = serializers.CharField()
    state = serializers.ChoiceField(
        choices=status_page.State.CHOICES,
        help_text="What it does to the components it affects: P0 major outage, P1 partial outage, P2/P3 degraded.",
    )
    state_label = serializers.CharField()
    status = serializers.ChoiceField(choices=Incident.Status.choices)
    status_label = serializers.CharField()
    components = StatusComponentRefSerializer(many=True)
    started_at = serializers.DateTimeField()
    resolved_at = serializers.DateTimeField(allow_null=True)
    updates = StatusUpdateSerializer(many=True, help_text="Its public updates, newest first.")


class StatusDaySerializer(serializers.Serializer):
    date = serializers.DateField()
    state = serializers.ChoiceField(choices=status_page.State.CHOICES, help_text="The worst state of the day.")
    state_label = serializers.CharField()
    uptime_percent = serializers.FloatField(
        min_value=0, max_value=100, help_text="Rounded down to two decimals; today counts up to now."
    )
    uptime_source = serializers.ChoiceField(
        choices=[("checks", "Uptime checks"), ("incidents", "Incidents")],
        help_text="`checks`: the share of the day's uptime checks that passed; `incidents`: no check ran that day, "
        "so the time without a P0/P1 incident.",
    )


class StatusComponentSerializer(serializers.Serializer):
    slug = serializers.SlugField()
    name = serializers.CharField()
    description = serializers.CharField(allow_blank=True)
    state = serializers.ChoiceField(choices=status_page.State.CHOICES)
    state_label = serializers.CharField()
    uptime_percent = serializers.FloatField(
        min_value=0,
        max_value=100,
        help_text="Over the days listed: from the uptime checks (over the days they ran) when the component has any, "
        "else from its P0/P1 incidents.",
    )
    uptime_source = serializers.ChoiceField(choices=[("checks", "Uptime checks"), ("incidents", "Incidents")])
    uptime_source_label = serializers.CharField()
    days = StatusDaySerializer(many=True, help_text=f"The last {status_page.HISTORY_DAYS} days, oldest first.")


class StatusMaintenanceSerializer(serializers.Serializer):
    id = serializers.CharField()
    title = serializers.CharField()
    description = serializers.CharField(allow_blank=True)
    status = serializers.ChoiceField(choices=MAINTENANCE_STATUSES)
    status_label = serializers.CharField()
    components = StatusComponentRefSerializer(many=True)
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField()


class StatusHistoryDaySerializer(serializers.Serializer):
    date = serializers.DateField()
    incidents = StatusIncidentSerializer(many=True, help_text="Resolved incidents that started that day, newest first.")
    maintenance = StatusMaintenanceSerializer(many=True, help_text="Maintenance completed that day.")


class StatusSerializer(serializers.Serializer):
    version = serializers.CharField(help_text="Changes whenever the page does.")
    generated_at = serializers.DateTimeField()
    state = serializers.ChoiceField(choices=status_page.State.CHOICES, help_text="The worst state of all.")
    state_label = serializers.CharField(help_text='The banner, e.g. "All systems operational".')
    components = StatusComponentSerializer(many=True)
    incidents = StatusIncidentSerializer(many=True, help_text="Open incidents, newest first.")
    maintenance = StatusMaintenanceSerializer(many=True, help_text="In progress and scheduled, soonest first.")
    history = StatusHistoryDaySerializer(
        many=True, help_text=f"The last {status_page.PAST_INCIDENT_DAYS} days, newest first (days without any too)."
    )


def document(data: dict[str, Any]) -> dict[str, Any]:
    """The snapshot as the API shows it: everything but the feed's entries."""
    return {key: value for key, value in data.items() if key != "feed"}


_encoded = PerSnapshot()


class StatusView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="status_retrieve",
        summary="The public status page",
        description=(
            "Components in order with their current state and "
            f"{status_page.HISTORY_DAYS} days of uptime, open incidents with their public updates, "
            "maintenance in progress and scheduled, and the last days' past incidents. No sign-in; "
            "served from a snapshot refreshed on every incident change and at least every minute."
        ),
        responses={200: StatusSerializer},
        # Security requirement objects, which drf-spectacular passes on as they are (its annotation says names).
        auth=[{}, {"tokenAuth": []}, {"cookieAuth": []}],  # type: ignore[list-item]
        tags=["status"],
    )
    def get(self, request: Request) -> HttpResponse:
        data = status_page.snapshot(now=timezone.now())
        body = _encoded.get(data, lambda d: JSONRenderer().render(document(d)))
        response = HttpResponse(body, content_type="application/json")
        patch_cache_control(response, public=True, max_age=PUBLIC_MAX_AGE)
        return response
