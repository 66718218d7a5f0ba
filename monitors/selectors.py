"""Reads of monitors: lists, recent results, what a check needs, uptime per component, MTTD and MTTR.

Uptime is read from the checks: the share of a component's HTTP checks that passed
(performance, business and error-rate monitors say something is slow or wrong, not
down). Hours already rolled up are read from the hourly rollups, the rest from the
minute rollups and the raw results, so the figure is the same before and after a
rollup. Days are the desk's days (TIME_ZONE).
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from typing import NamedTuple, TypedDict
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import TruncHour
from django.utils import timezone

from incidents.models import Component, Incident
from tickets.models import Ticket

from . import checks
from .models import CheckResult, ErrorCount, HourRollup, MinuteRollup, Monitor
from .retention import HOUR, MINUTE, floor_hour, marks

Kind = Monitor.Kind
BASELINE_WEEKS = 4
# The procedures' targets.
MTTD_TARGET = timedelta(minutes=5)
MTTR_TARGET = timedelta(hours=2)


def monitor_list() -> QuerySet[Monitor]:
    return Monitor.objects.select_related("component")


def monitor_get(pk: int) -> Monitor | None:
    return monitor_list().filter(pk=pk).first()


def results_recent(monitor: Monitor, *, limit: int = 50) -> QuerySet[CheckResult]:
    return CheckResult.objects.filter(monitor=monitor).order_by("-scheduled_at")[:limit]


def open_incident_for(monitor: Monitor) -> Incident | None:
    """The monitor's open incident (incidents allows one per monitor_key)."""
    return Incident.objects.filter(monitor_key=monitor.monitor_key, status__in=Incident.OPEN_STATUSES).first()


def next_due_at() -> datetime | None:
    return Monitor.objects.filter(enabled=True).order_by("next_run_at").values_list("next_run_at", flat=True).first()


# --- what a check needs from the database --------------------------------------------------------


def business_baseline(monitor: Monitor, *, at: datetime) -> checks.Baseline:
    """The median hourly average of orders and conversion at the same hour of the same weekday,
    1 to 4 weeks back, in the desk's time (a DST change keeps the shop's hour)."""
    zone = timezone.get_default_timezone()  # the desk's zone, whoever's request computes it
    local = timezone.localtime(at, zone).replace(minute=0, second=0, microsecond=0, tzinfo=None)
    hours = [
        timezone.make_aware(local - timedelta(weeks=k), zone).astimezone(UTC) for k in range(1, BASELINE_WEEKS + 1)
    ]
    rows = list(
        HourRollup.objects.filter(monitor=monitor, start__in=hours, value_count__gt=0).values_list(
            "value_count", "value_1_sum", "value_2_sum"
        )
    )
    orders = [v1 / n for n, v1, _ in rows] if monitor.orders_field else []
    conversion = [v2 / n for n, _, v2 in rows] if monitor.conversion_field else []
    return checks.Baseline(
        orders=statistics.median(orders) if orders else None,
        conversion=statistics.median(conversion) if conversion else None,
        weeks=len(rows),
    )


def error_counts(monitor: Monitor, *, now: datetime) -> tuple[int, int]:
    """Errors and requests the feed was posted over the monitor's window, up to ``now``."""
    since = (now - timedelta(seconds=monitor.window_seconds)).replace(second=0, microsecond=0)
    totals = ErrorCount.objects.filter(monitor=monitor, minute__gt=since, minute__lte=now).aggregate(
        errors=Sum("errors"), requests=Sum("requests")
    )
    return totals["errors"] or 0, totals["requests"] or 0


# --- uptime ----------------------------------------------------------------------------------------


class DayUptime(TypedDict):
    date: date
    uptime_pct: float | None
    worst_state: str


class Uptime(TypedDict):
    days: int
    checks: int
    failures: int
    uptime_pct: float | None
    target_pct: float
    met: bool | None


def hourly_counts_by_monitor(
    monitor_ids: Iterable[int], *, since: datetime, until: datetime
) -> dict[tuple[int, datetime], tuple[int, int]]:
    """(checks, failures) per monitor and UTC hour in [since, until), from whichever history holds each hour
    (three queries at most, whatever the number of monitors)."""
    ids = list(monitor_ids)
    done = marks()
    hours_until = done.get(HOUR, since)
    minutes_until = max(done.get(MINUTE, since), hours_until)
    counts: dict[tuple[int, datetime], list[int]] = defaultdict(lambda: [0, 0])

    def add(rows: Iterable[tuple[int, datetime, int | None, int | None]]) -> None:
        for monitor_id, hour, n, failed in rows:
            key = (monitor_id, floor_hour(hour))
            counts[key][0] += n or 0
            counts[key][1] += failed or 0

    add(
        HourRollup.objects.filter(monitor_id__in=ids, start__gte=since, start__lt=min(until, hours_until))
        .values("monitor_id", "start")
        .annotate(n=Sum("checks"), failed=Sum("failures"))
        .values_list("monitor_id", "start", "n", "failed")
        .order_by()
    )
    if minutes_until > hours_until:
        add(
            MinuteRollup.objects.filter(
                monitor_id__in=ids, start__gte=max(since, hours_until), start__lt=min(until, minutes_until)
            )
            .annotate(hour=TruncHour("start", tzinfo=UTC))
            .values("monitor_id", "hour")
            .annotate(n=Sum("checks"), failed=Sum("failures"))
            .values_list("monitor_id", "hour", "n", "failed")
            .order_by()
        )
    add(
        CheckResult.objects.filter(
            monitor_id__in=ids, scheduled_at__gte=max(since, minutes_until), scheduled_at__lt=until
        )
        .annotate(hour=TruncHour("scheduled_at", tzinfo=UTC))
        .values("monitor_id", "hour")
        .annotate(n=Count("id"), failed=Count("id", filter=Q(ok=False)))
        .values_list("monitor_id", "hour", "n", "failed")
        .order_by()
    )
    return {key: (n, failed) for key, (n, failed) in counts.items()}


def hourly_counts(monitor_ids: Iterable[int], *, since: datetime, until: datetime) -> dict[datetime, tuple[int, int]]:
    """(checks, failures) per UTC hour in [since, until), from whichever history holds each hour."""
    counts: dict[datetime, list[int]] = defaultdict(lambda: [0, 0])
    for (_, hour), (n, failed) in hourly_counts_by_monitor(monitor_ids, since=since, until=until).items():
        counts[hour][0] += n
        counts[hour][1] += failed
    return {hour: (n, failed) for hour, (n, failed) in counts.items()}


class ComponentDay(NamedTuple):
    component_id: int
    date: date
    checks: int
    failures: int


def component_day_counts(*, days: int, now: datetime) -> list[ComponentDay]:
    """Every component's HTTP checks per desk day (settings.TIME_ZONE, whatever zone a request
    activated) over the ``days`` days ending today: what the status page's bars and the scorecard's
    uptime are built from (``support.usecases.status_uptime_refresh`` hands them to incidents).
    Days without a check are left out. Four queries, whatever the number of monitors."""
    zone = ZoneInfo(settings.TIME_ZONE)
    today = now.astimezone(zone).date()
    first = today - timedelta(days=days - 1)
    since = datetime.combine(first, time.min, tzinfo=zone).astimezone(UTC)
    component_of = dict(
        Monitor.objects.filter(kind=Kind.HTTP, component__isnull=False).values_list("pk", "component_id")
    )
    per_day: dict[tuple[int, date], list[int]] = defaultdict(lambda: [0, 0])
    for (monitor_id, hour), (n, failed) in hourly_counts_by_monitor(component_of, since=since, until=now).items():
        key = (component_of[monitor_id], hour.astimezone(zone).date())
        per_day[key][0] += n
        per_day[key][1] += failed
    return sorted(
        ComponentDay(component_id, day, n, failed)
        for (component_id, day), (n, failed) in per_day.items()
        if n and first <= day <= today
    )


def _availability_monitors(component: Component) -> list[int]:
    return list(Monitor.objects.filter(component=component, kind=Kind.HTTP).values_list("pk", flat=True))


def _day_bounds(days: int, now: datetime) -> tuple[list[date], datetime]:
    zone = timezone.get_default_timezone()  # the desk's zone, whoever's request computes it
    today = timezone.localtime(now, zone).date()
    dates = [today - timedelta(days=n) for n in range(days - 1, -1, -1)]
    return dates, timezone.make_aware(datetime.combine(dates[0], time.min), zone)


def _pct(checks_run: int, failures: int) -> float | None:
    return None if not checks_run else round(100.0 * (checks_run - failures) / checks_run, 3)


def worst_state(uptime_pct: float | None) -> str:
    """A day's colour on the status page: no checks "unknown"; every check passed "up"; some failed
    but the day met the uptime target "degraded"; below the target "down"."""
    if uptime_pct is None:
        return "unknown"
    if uptime_pct >= 100.0:
        return "up"
    return "degraded" if uptime_pct >= settings.MONITOR_UPTIME_TARGET_PCT else "down"


def component_uptime_days(component: Component, *, days: int, now: datetime) -> list[DayUptime]:
    """One entry per desk day, oldest first, ending today: the status page's bars."""
    dates, since = _day_bounds(days, now)
    per_day: dict[date, list[int]] = {day: [0, 0] for day in dates}
    zone = timezone.get_default_timezone()  # the desk's zone, whoever's request computes it
    for hour, (n, failed) in hourly_counts(_availability_monitors(component), since=since, until=now).items():
        day = timezone.localtime(hour, zone).date()
        if day in per_day:
            per_day[day][0] += n
            per_day[day][1] += failed
    series: list[DayUptime] = []
    for day in dates:
        pct = _pct(*per_day[day])
        series.append({"date": day, "uptime_pct": pct, "worst_state": worst_state(pct)})
    return series


def component_uptime(component: Component, *, days: int, now: datetime) -> Uptime:
    """The share of the component's HTTP checks that passed over the last ``days`` desk days."""
    _, since = _day_bounds(days, now)
    counts = hourly_counts(_availability_monitors(component), since=since, until=now).values()
    checks_run, failures = sum(n for n, _ in counts), sum(f for _, f in counts)
    pct = _pct(checks_run, failures)
    target = settings.MONITOR_UPTIME_TARGET_PCT
    return {
        "days": days,
        "checks": checks_run,
        "failures": failures,
        "uptime_pct": pct,
        "target_pct": target,
        "met": None if pct is None else pct >= target,
    }


# --- detection and recovery --------------------------------------------------------------------------


class Timing(TypedDict):
    incidents: int
    mttd_seconds: float | None
    mttd_target_seconds: float
    mttd_met: bool | None
    resolved_p0_p1: int
    mttr_seconds: float | None
    mttr_target_seconds: float
    mttr_met: bool | None


def incident_timing(*, since: datetime, until: datetime) -> Timing:
    """MTTD (detected - started) over incidents started in [since, until); MTTR (resolved - started)
    over the P0/P1 among them that are resolved; each against the procedures' target."""
    rows = list(
        Incident.objects.filter(started_at__gte=since, started_at__lt=until).values_list(
            "severity", "started_at", "detected_at", "resolved_at"
        )
    )
    detect = [(detected - started).total_seconds() for _, started, detected, _ in rows]
    repair = [
        (resolved - started).total_seconds()
        for severity, started, _, resolved in rows
        if resolved is not None and severity in (Ticket.Priority.P0, Ticket.Priority.P1)
    ]
    mttd = statistics.fmean(detect) if detect else None
    mttr = statistics.fmean(repair) if repair else None
    return {
        "incidents": len(rows),
        "mttd_seconds": mttd,
        "mttd_target_seconds": MTTD_TARGET.total_seconds(),
        "mttd_met": None if mttd is None else mttd < MTTD_TARGET.total_seconds(),
        "resolved_p0_p1": len(repair),
        "mttr_seconds": mttr,
        "mttr_target_seconds": MTTR_TARGET.total_seconds(),
        "mttr_met": None if mttr is None else mttr < MTTR_TARGET.total_seconds(),
    }
