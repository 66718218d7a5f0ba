"""Monitors of the shop, the results of their checks, and the compact history kept of them.

Fields, choices, constraints and indexes only: the rules (when a monitor is down,
when it flaps, what the incident is told) live in services.py, the checks
themselves in checks.py, the schedule in runner.py, the history's rollups in
retention.py.

What is kept, and for how long (settings ``MONITOR_*_RETENTION_*``):

- ``CheckResult``: one row per check, for 48 hours;
- ``MinuteRollup``: per monitor and minute, counts, latency sum and maximum, metric sums, for 7 days;
- ``HourRollup``: the same per hour, for 100 days (the status page's 90 days, the business
  metrics' 4-week baseline);
- ``ErrorCount``: the error-rate feed's errors and requests per monitor and minute, for 48 hours.

The two metric columns of results and rollups mean, by kind: performance p50 and p95 (ms);
business orders and conversion; error rate errors and requests in the window; nothing for HTTP.
"""

from __future__ import annotations

import secrets

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy

from incidents.models import SEVERITIES, Component
from notifications.urlsafety import validate_destination


def new_token() -> str:
    return secrets.token_urlsafe(32)


class Monitor(models.Model):
    class Kind(models.TextChoices):
        HTTP = "http", gettext_lazy("HTTP(S) check")
        PERFORMANCE = "performance", gettext_lazy("Performance probe")
        BUSINESS = "business", gettext_lazy("Business metrics")
        ERROR_RATE = "error_rate", gettext_lazy("Error-rate feed")

    class State(models.TextChoices):
        UNKNOWN = "unknown", gettext_lazy("Unknown")
        UP = "up", gettext_lazy("Up")
        DOWN = "down", gettext_lazy("Down")

    class Method(models.TextChoices):
        GET = "GET", gettext_lazy("GET")
        HEAD = "HEAD", gettext_lazy("HEAD")
        POST = "POST", gettext_lazy("POST")

    class Told(models.TextChoices):
        """What the monitor's incident was last told: the failure rule fired, or the recovery rule."""

        NOTHING = "", gettext_lazy("Nothing")
        FAILING = "failing", gettext_lazy("Failing")
        RECOVERED = "recovered", gettext_lazy("Recovered")

    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=12, choices=Kind.choices)
    component = models.ForeignKey(
        Component,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="monitors",
        help_text=gettext_lazy("The status page component its incidents affect; HTTP checks count towards its uptime."),
    )
    severity = models.CharField(
        max_length=2,
        choices=SEVERITIES.choices,
        help_text=gettext_lazy("Of the incident it opens (storefront down P0; latency, conversion, error rate P1)."),
    )
    enabled = models.BooleanField(default=True)
    interval_seconds = models.PositiveIntegerField(
        validators=[MinValueValidator(5), MaxValueValidator(86_400)],
        help_text=gettext_lazy("Every 30 s for HTTP, 60 s for performance and error rate, 300 s for business metrics."),
    )
    failures_to_open = models.PositiveSmallIntegerField(
        default=2,
        validators=[MinValueValidator(1), MaxValueValidator(20)],
        help_text=gettext_lazy("Consecutive failed checks that open (or update) the incident."),
    )
    recoveries_to_close = models.PositiveSmallIntegerField(
        default=2,
        validators=[MinValueValidator(1), MaxValueValidator(20)],
        help_text=gettext_lazy("Consecutive passed checks that move it to monitoring."),
    )
    flap_threshold = models.PositiveSmallIntegerField(
        default=4,
        validators=[MinValueValidator(1), MaxValueValidator(100)],
        help_text=gettext_lazy("More state changes than this within an hour: the monitor is flapping."),
    )
    flap_hold_minutes = models.PositiveSmallIntegerField(
        default=15,
        validators=[MinValueValidator(1), MaxValueValidator(1440)],
        help_text=gettext_lazy(
            "While flapping, the incident is opened or recovered at most once per this many minutes."
        ),
    )
    incident_public = models.BooleanField(
        default=True,
        help_text=gettext_lazy("Its incidents show on the public status page (business metrics: off by default)."),
    )

    # HTTP checks and business metrics: the URL. Performance probes: ``urls``.
    url = models.URLField(max_length=500, blank=True, validators=[validate_destination])
    method = models.CharField(max_length=4, choices=Method.choices, default=Method.GET)
    expected_status = models.PositiveSmallIntegerField(
        default=200, validators=[MinValueValidator(100), MaxValueValidator(599)]
    )
    body_contains = models.CharField(
        max_length=200, blank=True, help_text=gettext_lazy("Text the response body must contain.")
    )
    json_path = models.CharField(
        max_length=200,
        blank=True,
        help_text=gettext_lazy("A dotted path into the JSON body that must be present, e.g. checks.db."),
    )
    json_expected = models.CharField(
        max_length=200,
        blank=True,
        help_text=gettext_lazy("The value found there, as text; empty: any value but false/null/empty."),
    )
    timeout_seconds = models.FloatField(default=10.0, validators=[MinValueValidator(0.5), MaxValueValidator(60)])
    latency_threshold_ms = models.PositiveIntegerField(
        null=True, blank=True, help_text=gettext_lazy("A slower answer fails the check (empty: no limit).")
    )
    # Performance probes: each URL fetched ``samples`` times per check; p50/p95 of all of them.
    urls = models.JSONField(default=list, blank=True)
    samples = models.PositiveSmallIntegerField(default=3, validators=[MinValueValidator(1), MaxValueValidator(10)])
    p50_threshold_ms = models.PositiveIntegerField(default=1000)
    p95_threshold_ms = models.PositiveIntegerField(default=2000)
    # Business metrics: fields of the JSON endpoint (dotted paths), compared with the same hour of
    # the same weekday over the last 4 weeks (the median); below drop_fraction of it is a failure.
    orders_field = models.CharField(max_length=100, blank=True, default="orders")
    conversion_field = models.CharField(max_length=100, blank=True, default="conversion_rate")
    drop_fraction = models.FloatField(default=0.5, validators=[MinValueValidator(0.01), MaxValueValidator(0.99)])
    # Error-rate feeds: errors / requests posted to the feed over the window, against the threshold.
    error_rate_threshold = models.FloatField(
        default=0.001, validators=[MinValueValidator(0.000001), MaxValueValidator(0.99)]
    )
    window_seconds = models.PositiveIntegerField(
        default=300, validators=[MinValueValidator(60), MaxValueValidator(3600)]
    )
    min_requests = models.PositiveIntegerField(
        default=100, help_text=gettext_lazy("Fewer requests than this in the window: the rate is not judged.")
    )
    token = models.CharField(max_length=64, default=new_token, help_text=gettext_lazy("The error-rate feed's secret."))

    # The runner's: when it is next due, who holds it, what it has seen.
    next_run_at = models.DateTimeField()
    claim = models.CharField(max_length=32, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    state = models.CharField(max_length=8, choices=State.choices, default=State.UNKNOWN)
    state_changed_at = models.DateTimeField(null=True, blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    consecutive_successes = models.PositiveIntegerField(default=0)
    # The first failed check of the current run of failures: the incident's "started".
    failing_since = models.DateTimeField(null=True, blank=True)
    # When the state changed (up <-> down) within the last hour, ISO 8601: flapping is counted from it.
    transitions = models.JSONField(default=list, blank=True)
    flapping = models.BooleanField(default=False)
    told = models.CharField(max_length=10, choices=Told.choices, default=Told.NOTHING, blank=True)
    told_at = models.DateTimeField(null=True, blank=True)
    last_checked_at = models.DateTimeField(null=True, blank=True)
    last_ok = models.BooleanField(null=True, blank=True)
    last_latency_ms = models.PositiveIntegerField(null=True, blank=True)
    last_message = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["name"]
        indexes = [models.Index(fields=["next_run_at"], name="monitor_due_idx", condition=Q(enabled=True))]

    def __str__(self) -> str:
        return self.name

    @property
    def monitor_key(self) -> str:
        """The incident's ``monitor_key``: one open incident per monitor."""
        return f"monitor:{self.pk}"


class CheckResult(models.Model):
    """One check. ``scheduled_at`` is the slot it ran for: a slot is recorded once, whoever ran it."""

    monitor = models.ForeignKey(Monitor, on_delete=models.CASCADE, related_name="results")
    scheduled_at = models.DateTimeField()
    late_ms = models.PositiveIntegerField(default=0, help_text=gettext_lazy("How long after its slot it started."))
    ok = models.BooleanField()
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    value_1 = models.FloatField(null=True, blank=True)
    value_2 = models.FloatField(null=True, blank=True)
    message = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-scheduled_at"]
        constraints = [models.UniqueConstraint(fields=["monitor", "scheduled_at"], name="check_result_once_per_slot")]
        indexes = [models.Index(fields=["scheduled_at"], name="check_result_at_idx")]

    def __str__(self) -> str:
        return f"{self.monitor_id} {self.scheduled_at:%Y-%m-%d %H:%M:%S} {'ok' if self.ok else 'failed'}"


class Rollup(models.Model):
    monitor = models.ForeignKey(Monitor, on_delete=models.CASCADE, related_name="+")
    start = models.DateTimeField()
    checks = models.PositiveIntegerField(default=0)
    failures = models.PositiveIntegerField(default=0)
    latency_count = models.PositiveIntegerField(default=0)
    latency_sum_ms = models.BigIntegerField(default=0)
    latency_max_ms = models.PositiveIntegerField(null=True, blank=True)
    value_count = models.PositiveIntegerField(default=0)
    value_1_sum = models.FloatField(default=0.0)
    value_2_sum = models.FloatField(default=0.0)

    class Meta:
        abstract = True
        ordering = ["-start"]

    def __str__(self) -> str:
        return f"{self.monitor_id} {self.start:%Y-%m-%d %H:%M} {self.checks - self.failures}/{self.checks}"


class MinuteRollup(Rollup):
    class Meta(Rollup.Meta):
        constraints = [models.UniqueConstraint(fields=["monitor", "start"], name="minute_rollup_once")]
        indexes = [models.Index(fields=["start"], name="minute_rollup_start_idx")]


class HourRollup(Rollup):
    class Meta(Rollup.Meta):
        constraints = [models.UniqueConstraint(fields=["monitor", "start"], name="hour_rollup_once")]
        indexes = [models.Index(fields=["start"], name="hour_rollup_start_idx")]


class RollupMark(models.Model):
    """How far the rollups have got: everything before ``done_until`` is rolled up (one row per resolution)."""

    resolution = models.CharField(max_length=10, unique=True)
    done_until = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.resolution} until {self.done_until:%Y-%m-%d %H:%M}"


class ErrorCount(models.Model):
    """What an error-rate feed was posted, per minute: error events and requests served."""

    monitor = models.ForeignKey(Monitor, on_delete=models.CASCADE, related_name="+")
    minute = models.DateTimeField()
    errors = models.BigIntegerField(default=0)
    requests = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["monitor", "minute"], name="error_count_once")]
        indexes = [models.Index(fields=["minute"], name="error_count_minute_idx")]

    def __str__(self) -> str:
        return f"{self.monitor_id} {self.minute:%Y-%m-%d %H:%M} {self.errors}/{self.requests}"
