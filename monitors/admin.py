"""The console's monitors: the list with each one's state, last result and latency; the change page
with its configuration by kind, what it has seen, its uptime and its recent checks.

Agents read (view permission, migration 0002); managers add, change, delete and "check now". The
error-rate feed's secret is shown to managers only. Saving goes through monitors.services (the same
rules as the API).
"""

from __future__ import annotations

import copy
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.text import format_lazy
from django.utils.translation import gettext, gettext_lazy, ngettext

from accounts import permissions as roles
from sofacover.errors import DomainError

from . import selectors, services
from .api.serializers import CONFIG_FIELDS
from .models import Monitor

RESULTS_SHOWN = 50


class MonitorForm(forms.ModelForm):
    """Severity and interval may be left empty (their kind's default); probe URLs are one per line."""

    url = forms.URLField(
        label=gettext_lazy("URL"),
        max_length=500,
        required=False,
        assume_scheme="https",
        help_text=gettext_lazy("HTTP checks and business metrics: the page or JSON endpoint."),
    )
    urls = forms.CharField(
        label=gettext_lazy("URLs"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "cols": 80}),
        help_text=gettext_lazy("Performance probes: one URL per line."),
    )

    class Meta:
        model = Monitor
        fields = CONFIG_FIELDS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in ("severity", "interval_seconds"):
            if name in self.fields:
                self.fields[name].required = False
        if "severity" in self.fields:
            self.fields["severity"].help_text = "Empty: HTTP P0, the others P1."
        if "interval_seconds" in self.fields:
            self.fields[
                "interval_seconds"
            ].help_text = "Empty: HTTP 30 s, performance and error rate 60 s, business 300 s."
        if "urls" in self.fields:
            self.initial["urls"] = "\n".join(self.instance.urls or [])

    def clean_urls(self) -> list[str]:
        return [line.strip() for line in self.cleaned_data.get("urls", "").splitlines() if line.strip()]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.errors:
            return data
        for name, value in services.defaults_for(data.get("kind", self.instance.kind)).items():
            if name in ("severity", "interval_seconds") and data.get(name) in (None, ""):
                data[name] = value
        candidate = copy.copy(self.instance)
        for name, value in data.items():
            setattr(candidate, name, value)
        try:
            services.monitor_validate(candidate)
        except DomainError as exc:
            self.add_error(exc.field if exc.field in self.fields else None, exc.message)
        return data


@admin.register(Monitor)
class MonitorAdmin(admin.ModelAdmin):
    form = MonitorForm
    list_display = [
        "name",
        "kind",
        "component",
        "severity",
        "state_shown",
        "last_result",
        "latency",
        "last_checked_at",
        "next_run_at",
        "enabled",
    ]
    list_filter = ["kind", "state", "flapping", "enabled", "component", "severity"]
    search_fields = ["name", "url"]
    list_select_related = ["component"]
    actions = ["check_now", "new_feed_secret"]
    list_per_page = 100

    fieldsets = [
        (None, {"fields": ["name", "kind", "component", "severity", "enabled", "interval_seconds", "incident_public"]}),
        (
            gettext_lazy("Rules"),
            {
                "fields": ["failures_to_open", "recoveries_to_close", "flap_threshold", "flap_hold_minutes"],
                "description": gettext_lazy(
                    "N failed checks in a row open (or update) the incident; M passed move it to "
                    "monitoring. More than K state changes within an hour: flapping, and the incident is told "
                    "at most once per hold."
                ),
            },
        ),
        (
            gettext_lazy("HTTP check (and the business metrics' endpoint)"),
            {
                "fields": [
                    "url",
                    "method",
                    "expected_status",
                    "body_contains",
                    "json_path",
                    "json_expected",
                    "timeout_seconds",
                    "latency_threshold_ms",
                ]
            },
        ),
        (gettext_lazy("Performance probe"), {"fields": ["urls", "samples", "p50_threshold_ms", "p95_threshold_ms"]}),
        (gettext_lazy("Business metrics"), {"fields": ["orders_field", "conversion_field", "drop_fraction"]}),
        (gettext_lazy("Error-rate feed"), {"fields": ["error_rate_threshold", "window_seconds", "min_requests"]}),
    ]
    seen_fields = [
        "state_shown",
        "open_incident",
        "consecutive_failures",
        "consecutive_successes",
        "failing_since",
        "last_checked_at",
        "last_result",
        "latency",
        "next_run_at",
        "uptime",
        "recent_results",
    ]

    def get_fieldsets(self, request: HttpRequest, obj: Monitor | None = None) -> list:
        fieldsets = list(super().get_fieldsets(request, obj))
        if obj is None:
            return fieldsets
        if obj.kind == Monitor.Kind.ERROR_RATE and roles.is_manager(request.user):
            fieldsets.append((gettext("Feed for error trackers"), {"fields": ["feed"]}))
        seen: list = list(self.seen_fields)
        fieldsets.append((gettext("What it has seen"), {"fields": seen}))
        return fieldsets

    def get_readonly_fields(self, request: HttpRequest, obj: Monitor | None = None) -> list[str]:
        if obj is None:
            return []
        return [*self.seen_fields, "feed", "kind"]  # shown, never edited

    def get_actions(self, request: HttpRequest):
        found = super().get_actions(request)
        if not self.has_change_permission(request):
            found.pop("check_now", None)
            found.pop("new_feed_secret", None)
        return found

    def save_model(self, request: HttpRequest, obj: Monitor, form: forms.ModelForm, change: bool) -> None:
        was_enabled = form.initial.get("enabled") if change else None
        services.monitor_save(monitor=obj, now=timezone.now(), was_enabled=was_enabled)

    @admin.action(description=gettext_lazy("Check now"))
    def check_now(self, request: HttpRequest, queryset) -> None:
        count = services.monitors_due_now(ids=list(queryset.values_list("pk", flat=True)), now=timezone.now())
        self.message_user(
            request,
            ngettext(
                "%(count)d monitor will be checked within seconds.",
                "%(count)d monitors will be checked within seconds.",
                count,
            )
            % {"count": count},
            messages.SUCCESS,
        )

    @admin.action(description=gettext_lazy("New feed secret (error-rate monitors: the old one stops working)"))
    def new_feed_secret(self, request: HttpRequest, queryset) -> None:
        now = timezone.now()
        feeds = list(queryset.filter(kind=Monitor.Kind.ERROR_RATE))
        for monitor in feeds:
            services.monitor_token_rotate(monitor=monitor, now=now)
        self.message_user(
            request,
            ngettext(
                "%(count)d feed secret replaced: give the tracker the new one.",
                "%(count)d feed secrets replaced: give the trackers the new ones.",
                len(feeds),
            )
            % {"count": len(feeds)},
        )

    # --- what it has seen ---------------------------------------------------------------------

    @admin.display(description=gettext_lazy("state"), ordering="state")
    def state_shown(self, monitor: Monitor) -> str:
        text = monitor.get_state_display()
        return f"{text} (flapping)" if monitor.flapping else text

    @admin.display(description=gettext_lazy("last result"))
    def last_result(self, monitor: Monitor) -> str:
        if monitor.last_ok is None:
            return "—"
        return ("passed" if monitor.last_ok else "failed") + (
            f": {monitor.last_message}" if monitor.last_message else ""
        )

    @admin.display(description=gettext_lazy("latency"), ordering="last_latency_ms")
    def latency(self, monitor: Monitor) -> str:
        return "—" if monitor.last_latency_ms is None else f"{monitor.last_latency_ms} ms"

    @admin.display(description=gettext_lazy("open incident"))
    def open_incident(self, monitor: Monitor) -> str:
        incident = selectors.open_incident_for(monitor)
        if incident is None:
            return "—"
        try:
            url = reverse("admin:incidents_incident_change", args=[incident.pk])
        except Exception:  # the incidents console is not registered
            return str(incident)
        return format_html('<a href="{}">{}</a>', url, incident)

    @admin.display(description=gettext_lazy("uptime (HTTP checks of its component)"))
    def uptime(self, monitor: Monitor) -> str:
        if monitor.component is None:
            return "—"
        now = timezone.now()
        parts = []
        for days in (30, 90):
            figure = selectors.component_uptime(monitor.component, days=days, now=now)
            pct = "no checks" if figure["uptime_pct"] is None else f"{figure['uptime_pct']:.3f} %"
            parts.append(f"{days} days: {pct}")
        return f"{monitor.component}: " + ", ".join(parts) + f" (target {figure['target_pct']} %)"

    @admin.display(description=gettext_lazy("feed"))
    def feed(self, monitor: Monitor) -> str:
        path = reverse("monitor-events", kwargs={"pk": monitor.pk})
        return format_html(
            "POST <code>{}</code> with <code>Authorization: Bearer {}</code> "
            '(or <code>?token=</code>, or a <code>Sentry-Hook-Signature</code>). Body: <code>{{"errors": n}}</code>, '
            '<code>{{"requests": n}}</code>, or any tracker event (one error).',
            path,
            monitor.token,
        )

    @admin.display(description=format_lazy(gettext_lazy("recent checks (last {count})"), count=RESULTS_SHOWN))
    def recent_results(self, monitor: Monitor) -> str:
        rows = selectors.results_recent(monitor, limit=RESULTS_SHOWN)
        if not rows:
            return gettext("No checks yet.")
        body = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    timezone.localtime(row.scheduled_at).strftime("%Y-%m-%d %H:%M:%S"),
                    "passed" if row.ok else "failed",
                    "—" if row.latency_ms is None else f"{row.latency_ms} ms",
                    row.status_code or "—",
                    f"{row.late_ms} ms",
                    row.message,
                )
                for row in rows
            ),
        )
        return format_html(
            "<table><thead><tr><th>slot</th><th>result</th><th>latency</th><th>status</th><th>late</th>"
            "<th>message</th></tr></thead><tbody>{}</tbody></table>",
            body,
        )
