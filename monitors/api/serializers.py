"""Input and output shapes of the monitors API."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from django.utils.translation import gettext
from drf_spectacular.utils import extend_schema_field, inline_serializer
from rest_framework import serializers

from accounts import permissions as roles
from incidents.models import Component
from sofacover.parsers import StrictJSONTypes

from ..models import CheckResult, Monitor

CONFIG_FIELDS = [
    "name",
    "kind",
    "component",
    "severity",
    "enabled",
    "interval_seconds",
    "failures_to_open",
    "recoveries_to_close",
    "flap_threshold",
    "flap_hold_minutes",
    "incident_public",
    "url",
    "method",
    "expected_status",
    "body_contains",
    "json_path",
    "json_expected",
    "timeout_seconds",
    "latency_threshold_ms",
    "urls",
    "samples",
    "p50_threshold_ms",
    "p95_threshold_ms",
    "orders_field",
    "conversion_field",
    "drop_fraction",
    "error_rate_threshold",
    "window_seconds",
    "min_requests",
]
STATE_FIELDS = [
    "state",
    "flapping",
    "consecutive_failures",
    "consecutive_successes",
    "failing_since",
    "state_changed_at",
    "last_checked_at",
    "last_ok",
    "last_latency_ms",
    "last_message",
    "next_run_at",
    "created_at",
    "updated_at",
]


class MonitorSerializer(serializers.ModelSerializer):
    component: serializers.SlugRelatedField = serializers.SlugRelatedField(
        slug_field="slug", read_only=True, allow_null=True
    )
    # Empty for the monitors that fetch no single address (probes list ``urls``; error-rate feeds are posted to):
    # a string, not a "uri", in the schema.
    url = serializers.CharField(read_only=True)
    urls = serializers.ListField(child=serializers.CharField(), read_only=True)
    token = serializers.SerializerMethodField(
        help_text="The error-rate feed's secret: managers only (null for anyone else, and for other kinds)."
    )
    events_url = serializers.SerializerMethodField(
        help_text="Where error trackers post (error-rate monitors, managers only; null otherwise)."
    )

    class Meta:
        model = Monitor
        fields = ["id", *CONFIG_FIELDS, *STATE_FIELDS, "token", "events_url"]
        read_only_fields = fields

    def _for_manager(self, monitor: Monitor) -> bool:
        request = self.context.get("request")
        return monitor.kind == Monitor.Kind.ERROR_RATE and request is not None and roles.is_manager(request.user)

    @extend_schema_field({"type": "string", "nullable": True})
    def get_token(self, monitor: Monitor) -> str | None:
        return monitor.token if self._for_manager(monitor) else None

    @extend_schema_field({"type": "string", "nullable": True})
    def get_events_url(self, monitor: Monitor) -> str | None:
        if not self._for_manager(monitor):
            return None
        return self.context["request"].build_absolute_uri(reverse("monitor-events", kwargs={"pk": monitor.pk}))


class MonitorWriteSerializer(StrictJSONTypes, serializers.ModelSerializer):
    """A monitor's configuration. On create, ``name`` and ``kind`` are required; severity and interval
    default by kind (HTTP: P0 every 30 s; performance: P1 every 60 s; business: P1 every 300 s, not on
    the status page; error rate: P1 every 60 s). On edit, only the fields sent change."""

    component = serializers.SlugRelatedField(
        slug_field="slug", queryset=Component.objects.all(), allow_null=True, required=False
    )
    urls = serializers.ListField(
        child=serializers.CharField(max_length=500),
        max_length=20,
        required=False,
        help_text="Performance probes: the URLs whose p50/p95 are measured.",
    )

    class Meta:
        model = Monitor
        fields = CONFIG_FIELDS
        extra_kwargs = {"severity": {"required": False}, "interval_seconds": {"required": False}}

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if self.instance is None and "kind" not in attrs:
            raise serializers.ValidationError({"kind": [gettext("This field is required.")]})
        return attrs


class CheckResultSerializer(serializers.ModelSerializer):
    class Meta:
        model = CheckResult
        fields = ["scheduled_at", "late_ms", "ok", "latency_ms", "status_code", "value_1", "value_2", "message"]
        read_only_fields = fields


def _feed_count(help_text: str) -> serializers.IntegerField:
    return serializers.IntegerField(min_value=0, max_value=1_000_000_000, required=False, help_text=help_text)


# Inline: a serializer's field may not be called ``errors`` (Serializer.errors).
FeedSerializer = inline_serializer(
    name="MonitorFeedPost",
    fields={
        "errors": _feed_count("Error events to add."),
        "requests": _feed_count("Requests served to add."),
    },
)
FeedResultSerializer = inline_serializer(
    name="MonitorFeedCounted",
    fields={
        "errors": serializers.IntegerField(help_text="Error events counted from this post."),
        "requests": serializers.IntegerField(help_text="Requests counted from this post."),
    },
)


class UptimeSerializer(serializers.Serializer):
    days = serializers.IntegerField()
    checks = serializers.IntegerField()
    failures = serializers.IntegerField()
    uptime_pct = serializers.FloatField(allow_null=True)
    target_pct = serializers.FloatField()
    met = serializers.BooleanField(allow_null=True)


class DayUptimeSerializer(serializers.Serializer):
    date = serializers.DateField()
    uptime_pct = serializers.FloatField(allow_null=True)
    worst_state = serializers.ChoiceField(choices=["up", "degraded", "down", "unknown"])


class ComponentUptimeSerializer(serializers.Serializer):
    slug = serializers.CharField()
    name = serializers.CharField()
    uptime = UptimeSerializer()
    series = DayUptimeSerializer(many=True)


class TimingSerializer(serializers.Serializer):
    incidents = serializers.IntegerField()
    mttd_seconds = serializers.FloatField(allow_null=True)
    mttd_target_seconds = serializers.FloatField()
    mttd_met = serializers.BooleanField(allow_null=True)
    resolved_p0_p1 = serializers.IntegerField()
    mttr_seconds = serializers.FloatField(allow_null=True)
    mttr_target_seconds = serializers.FloatField()
    mttr_met = serializers.BooleanField(allow_null=True)


class UptimeReportSerializer(serializers.Serializer):
    days = serializers.IntegerField()
    components = ComponentUptimeSerializer(many=True)
    timing = TimingSerializer()


class UptimeQuerySerializer(serializers.Serializer):
    days = serializers.IntegerField(min_value=1, max_value=90, default=30)
