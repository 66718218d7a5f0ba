"""The public status page's snapshot: built once, served from the cache until an incident changes.

The snapshot is a plain dict of public data only (``snapshot_build``): the public
components in order with their current state and 90 days of uptime, the open public
incidents with their public updates, the last days' past incidents, maintenance. The
page, the JSON API and the Atom feed all render from it, so none of them reads an
internal field or runs a query while the snapshot is fresh.

Freshness:

- every service that changes what the page shows calls ``snapshot_forget`` in its
  transaction; when it commits, the cached snapshot is dropped and the generation
  moves on, so the next request builds it again. A snapshot built while a change
  committed carries the old generation and is not served. Each process keeps the
  snapshot it last served and asks the cache at most once a second whether it is
  still current (``LOCAL_TRUST``): the hot path touches neither database nor cache;
- it is also fresh for at most ``SNAPSHOT_TTL`` and never past the next midnight
  (the history moves a day) or the next start or end of a maintenance window;
- while one request rebuilds it, the others serve the previous one, and when the
  database cannot answer the previous one is served too (``DATA_KEY``, kept a day):
  the page stays up when the desk is overloaded.

Uptime comes from the checks where a component has them: ``CheckedUptime`` rows (checks
run and failed per component and desk day), which support hands in from monitors
(``support.usecases.status_uptime_refresh``; incidents never imports monitors). A day
with checks shows their share passed (rounded down, as below); a component with no check
in the 90 days keeps the incident-based figure: ``uptime_days`` over the outage intervals
of ``outage_intervals`` (P0/P1 incidents, started → resolved). Each component and each
day says which it is (``uptime_source``: "checks" or "incidents"). A day's colour (its
``state``) follows the same source as its figure: a day with checks is coloured by their
share passed (``checked_state``: any failure is at least degraded), so a day of failed
checks without an incident is not green beside its 75 %, and a checked day that passed
is not painted by an incident the checks did not see; a day without checks keeps the worst
state of its incidents and maintenance.
"""

from __future__ import annotations

import bisect
import functools
import hashlib
import hmac
import logging
import math
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, transaction
from django.db.models import Q
from django.utils import translation

from tickets.models import Ticket

from .models import CheckedUptime, Component, Incident, IncidentEvent, Maintenance

logger = logging.getLogger(__name__)

SNAPSHOT_KEY = "incidents:status:snapshot"
# Moves on with every change (snapshot_forget); a snapshot carries the generation it was built at.
GENERATION_KEY = "incidents:status:generation"
# The fresh snapshot's head (SNAPSHOT_KEY) names the version of the data, kept apart under DATA_KEY: the last
# snapshot built, kept a day, served while another request rebuilds or when the database fails.
DATA_KEY = "incidents:status:data"
REBUILD_LOCK_KEY = "incidents:status:rebuilding"
SNAPSHOT_TTL = timedelta(seconds=60)
LAST_TTL = timedelta(days=1)
REBUILD_LOCK_SECONDS = 30
# How long a process serves its own copy without asking the cache whether it is still current.
LOCAL_TRUST = timedelta(seconds=1)

HISTORY_DAYS = 90  # the uptime bars
PAST_INCIDENT_DAYS = 14  # the days of past incidents listed with their updates
FEED_SIZE = 50

Severity = Ticket.Priority


class State:
    """A component's state, from best to worst (the order decides which one a day or the page shows)."""

    OPERATIONAL = "operational"
    MAINTENANCE = "under_maintenance"
    DEGRADED = "degraded_performance"
    PARTIAL = "partial_outage"
    MAJOR = "major_outage"

    ORDER = (OPERATIONAL, MAINTENANCE, DEGRADED, PARTIAL, MAJOR)
    LABELS = {
        OPERATIONAL: "Operational",
        MAINTENANCE: "Under maintenance",
        DEGRADED: "Degraded performance",
        PARTIAL: "Partial outage",
        MAJOR: "Major outage",
    }
    # The banner over the page, by the worst state of all.
    BANNERS = {
        OPERATIONAL: "All systems operational",
        MAINTENANCE: "Maintenance in progress",
        DEGRADED: "Degraded performance",
        PARTIAL: "Partial system outage",
        MAJOR: "Major system outage",
    }
    CHOICES = list(LABELS.items())  # in ORDER

    @classmethod
    def worst(cls, states: Iterable[str]) -> str:
        return max(states, key=cls.ORDER.index, default=cls.OPERATIONAL)


# What an open incident does to the components it affects, by severity.
SEVERITY_STATE = {
    Severity.P0: State.MAJOR,
    Severity.P1: State.PARTIAL,
    Severity.P2: State.DEGRADED,
    Severity.P3: State.DEGRADED,
}
# The severities whose incidents count as downtime in the uptime figures.
OUTAGE_SEVERITIES = (Severity.P0, Severity.P1)


@functools.cache
def _id_key(secret: str) -> bytes:
    return hashlib.sha256(b"incidents.status.public-id" + secret.encode()).digest()


def public_id(kind: str, pk: int) -> str:
    """A stable identifier for a row on the public page that does not give away its number
    (which would count the incidents the page does not show): an HMAC of it under SECRET_KEY."""
    return hmac.new(_id_key(settings.SECRET_KEY), f"{kind}:{pk}".encode(), hashlib.sha256).hexdigest()[:16]


# --- freshness ------------------------------------------------------------------------------------


def _forget_now() -> None:
    cache.set(GENERATION_KEY, uuid.uuid4().hex, None)
    cache.delete(SNAPSHOT_KEY)
    _Local.trusted_until = None
    _Local.forgotten += 1


def snapshot_local_forget() -> None:
    """Drop this process's copy (the tests, which clear the cache between them, call it too)."""
    _Local.data, _Local.trusted_until = None, None


def snapshot_forget() -> None:
    """Drop the cached snapshot once the current transaction commits (at once outside one)."""
    transaction.on_commit(_forget_now)


class _Local:
    """The snapshot this process last read or built (one attribute, replaced whole: threads read it
    without a lock): a request that finds the cache's head naming its version reads nothing more
    (the data is not fetched and unpickled again). Until ``trusted_until`` (LOCAL_TRUST after the
    cache last said it is current) the cache is not even asked: a change made in another process
    shows here within that time, one made here at once."""

    data: dict[str, Any] | None = None
    trusted_until: datetime | None = None
    forgotten = 0  # changes committed by this process: one during a build makes it untrusted


def _data(version: str) -> dict[str, Any] | None:
    """The snapshot of ``version``: this process's copy, else the cache's (None when it holds another)."""
    data = _Local.data
    if data is not None and data["version"] == version:
        return data
    stored = cache.get(DATA_KEY)
    if stored is None or stored["version"] != version:
        return None
    _Local.data = stored["data"]
    return stored["data"]


def _last() -> dict[str, Any] | None:
    stored = cache.get(DATA_KEY)
    if stored is not None:
        return _data(stored["version"])
    return _Local.data


def snapshot(*, now: datetime) -> dict[str, Any]:
    """The public snapshot: the cached one while it is fresh, else built and cached. Callers must not change it.

    A fresh request reads two small keys (the head: version, generation, fresh until; and the
    generation) and finds the data in the process or under DATA_KEY. While another request
    rebuilds, or when the database fails, the last one built is served.
    :raises DatabaseError: the database fails and there is no snapshot at all to serve
    """
    data, trusted_until = _Local.data, _Local.trusted_until
    if data is not None and trusted_until is not None and now < trusted_until:
        return data
    found = cache.get_many([SNAPSHOT_KEY, GENERATION_KEY])
    head, generation = found.get(SNAPSHOT_KEY), found.get(GENERATION_KEY)
    if head is not None and head["generation"] == generation and now < head["fresh_until"]:
        data = _data(head["version"])
        if data is not None:
            _Local.trusted_until = min(now + LOCAL_TRUST, head["fresh_until"])
            return data
    locked = cache.add(REBUILD_LOCK_KEY, 1, REBUILD_LOCK_SECONDS)
    if not locked:
        last = _last()
        if last is not None:
            return last
    forgotten = _Local.forgotten
    try:
        data = snapshot_build(now=now)
    except DatabaseError:
        last = _last()
        if last is None:
            raise
        logger.warning("The status page could not be rebuilt; serving the one built at %s", last["generated_at"])
        return last
    finally:
        if locked:
            cache.delete(REBUILD_LOCK_KEY)
    fresh_until = data.pop("fresh_until")
    head = {"generation": generation, "fresh_until": fresh_until, "version": data["version"]}
    cache.set(DATA_KEY, {"version": data["version"], "data": data}, int(LAST_TTL.total_seconds()))
    cache.set(SNAPSHOT_KEY, head, max(1, math.ceil((fresh_until - now).total_seconds())))
    _Local.data = data
    _Local.trusted_until = min(now + LOCAL_TRUST, fresh_until) if _Local.forgotten == forgotten else None
    return data


# --- days and uptime ------------------------------------------------------------------------------


def desk_zone() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def desk_day(now: datetime) -> date:
    """Today in the desk's time zone (the status page's days)."""
    return now.astimezone(desk_zone()).date()


@dataclass(frozen=True, slots=True)
class Day:
    date: date
    start: datetime
    end: datetime  # the next day's start, or now for today


def days_until(now: datetime, count: int) -> list[Day]:
    """The ``count`` days ending today, oldest first, in the desk's time zone (23 or 25 hours across DST)."""
    zone = desk_zone()
    today = now.astimezone(zone).date()
    days = []
    for back in range(count - 1, -1, -1):
        day = today - timedelta(days=back)
        # In UTC: Python subtracts two times of one zone by their wall clocks, which hides DST.
        start = datetime.combine(day, time.min, tzinfo=zone).astimezone(UTC)
        end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=zone).astimezone(UTC)
        days.append(Day(day, start, min(end, now)))
    return days


Interval = tuple[datetime, datetime]


def outage_intervals(
    incidents: Iterable[Any], affects: dict[int, list[int]], *, now: datetime
) -> dict[int, list[Interval]]:
    """Per component id, when it was down: its P0/P1 incidents (rows with id, severity, started_at,
    resolved_at), from started to resolved (or now)."""
    down: dict[int, list[Interval]] = defaultdict(list)
    for incident in incidents:
        if incident.severity not in OUTAGE_SEVERITIES:
            continue
        for component_id in affects.get(incident.id, ()):
            down[component_id].append((incident.started_at, incident.resolved_at or now))
    return down


def _merged(intervals: Iterable[Interval]) -> list[Interval]:
    merged: list[list[datetime]] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [(start, end) for start, end in merged]


def _percent(up: timedelta, total: timedelta) -> float:
    """Rounded down to two decimals: any downtime at all shows below 100 %."""
    if total <= timedelta(0):
        return 100.0
    return math.floor(10_000 * up / total) / 100


def uptime_days(intervals: Iterable[Interval], days: Sequence[Day]) -> tuple[list[float], float]:
    """The uptime percentage of each day and of them all, from the intervals a component was down.

    The one place uptime is computed: issue 14 feeds it the intervals its checks failed.
    Today counts up to now; overlapping intervals count once.
    """
    starts = [day.start for day in days]
    missing = [timedelta(0)] * len(days)
    for start, end in _merged(intervals):
        first = max(0, bisect.bisect_right(starts, start) - 1)
        for index in range(first, len(days)):
            day = days[index]
            if day.start >= end:
                break
            if end > day.start and start < day.end:
                missing[index] += min(end, day.end) - max(start, day.start)
    lengths = [day.end - day.start for day in days]
    per_day = [_percent(length - lost, length) for length, lost in zip(lengths, missing, strict=True)]
    total = sum(lengths, timedelta(0))
    return per_day, _percent(total - sum(missing, timedelta(0)), total)


# --- uptime from the checks (handed in by support) -------------------------------------------------

CHECKS = "checks"
INCIDENTS = "incidents"
UPTIME_SOURCE_LABELS = {CHECKS: "uptime checks", INCIDENTS: "incidents (no uptime checks)"}


class DayCounts(Protocol):
    """One component's checks on one desk day, as support hands them in (monitors.selectors.ComponentDay)."""

    @property
    def component_id(self) -> int: ...
    @property
    def date(self) -> date: ...
    @property
    def checks(self) -> int: ...
    @property
    def failures(self) -> int: ...


def checked_uptime_record(rows: Iterable[DayCounts], *, first: date, last: date, now: datetime) -> int:
    """Store the checks per component and day for the days ``first``..``last`` (inclusive), as they are now:
    rows of those days not handed in (no check that day any more) go. The status page is rebuilt on commit.
    Returns how many rows are stored for the days."""
    fresh = {(row.component_id, row.date): row for row in rows if first <= row.date <= last and row.checks > 0}
    known = set(Component.objects.filter(pk__in={key[0] for key in fresh}).values_list("pk", flat=True))
    fresh = {key: row for key, row in fresh.items() if key[0] in known}
    stale = [
        pk
        for pk, component_id, day in CheckedUptime.objects.filter(date__gte=first, date__lte=last).values_list(
            "pk", "component_id", "date"
        )
        if (component_id, day) not in fresh
    ]
    if stale:
        CheckedUptime.objects.filter(pk__in=stale).delete()
    CheckedUptime.objects.bulk_create(
        [
            CheckedUptime(
                component_id=row.component_id,
                date=row.date,
                checks=row.checks,
                failures=min(row.failures, row.checks),
                updated_at=now,
            )
            for row in fresh.values()
        ],
        update_conflicts=True,
        unique_fields=["component", "date"],
        update_fields=["checks", "failures", "updated_at"],
    )
    snapshot_forget()
    return len(fresh)


CountsByDay = dict[date, tuple[int, int]]


def checked_uptime_of(component_ids: Iterable[int], *, first: date, last: date) -> dict[int, CountsByDay]:
    """Per component id, its (checks, failures) per day in ``first``..``last``; components without checks absent."""
    found: dict[int, dict[date, tuple[int, int]]] = defaultdict(dict)
    rows = CheckedUptime.objects.filter(
        component_id__in=list(component_ids), date__gte=first, date__lte=last
    ).values_list("component_id", "date", "checks", "failures")
    for component_id, day, checks, failures in rows:
        found[component_id][day] = (checks, failures)
    return dict(found)


def checked_percent(checks: int, failures: int) -> float:
    """The share of checks passed, in percent, rounded down to two decimals like ``uptime_days``."""
    return math.floor(10_000 * (checks - failures) / checks) / 100 if checks else 100.0


# A checked day with failures is degraded while at least this share of its checks passed, a partial
# outage below it, a major outage when none passed.
CHECKED_DEGRADED_FROM = 50.0


def checked_state(checks: int, failures: int) -> str:
    """The state a day's checks show, the bar's colour where its uptime figure is the checks': no
    failure is operational, any failure at least degraded."""
    if checks <= 0 or failures <= 0:
        return State.OPERATIONAL
    if failures >= checks:
        return State.MAJOR
    return State.DEGRADED if checked_percent(checks, failures) >= CHECKED_DEGRADED_FROM else State.PARTIAL


def _day_index(starts: Sequence[datetime], moment: datetime, *, end: bool = False) -> int:
    """The index of the day (by the days' starts) ``moment`` falls on, clamped to the window; an
    ``end`` at midnight belongs to the day before (it touched nothing of the next)."""
    index = (bisect.bisect_left if end else bisect.bisect_right)(starts, moment) - 1
    return max(0, index)


# --- the snapshot ---------------------------------------------------------------------------------

STATUS_LABELS = dict(Incident.Status.choices)
SEVERITY_LABELS = dict(Severity.choices)
MAINTENANCE_LABELS = {"scheduled": "Scheduled", "in_progress": "In progress", "completed": "Completed"}
# An incident and an update as the builder reads them: rows of public columns, not model instances.
INCIDENT_COLUMNS = ("id", "title", "severity", "status", "started_at", "resolved_at")
UPDATE_COLUMNS = ("id", "incident_id", "at", "status", "body")


def _update(event: Any) -> dict[str, Any]:
    return {
        "id": public_id("event", event.id),
        "at": event.at,
        "status": event.status,
        "status_label": STATUS_LABELS[event.status],
        "body": event.body,
    }


def _refs(components: Iterable[Component]) -> list[dict[str, str]]:
    return [{"slug": c.slug, "name": c.name} for c in components]


def _incident(incident: Any, components: list[Component], updates: list[Any]) -> dict[str, Any]:
    state = SEVERITY_STATE[incident.severity]
    return {
        "id": public_id("incident", incident.id),
        "title": incident.title,
        "severity": incident.severity,
        "severity_label": SEVERITY_LABELS[incident.severity],
        "state": state,
        "state_label": State.LABELS[state],
        "status": incident.status,
        "status_label": STATUS_LABELS[incident.status],
        "components": _refs(components),
        "started_at": incident.started_at,
        "resolved_at": incident.resolved_at,
        "updates": [_update(event) for event in sorted(updates, key=lambda e: (e.at, e.id), reverse=True)],
    }


def _maintenance(window: Maintenance, components: list[Component], *, now: datetime) -> dict[str, Any]:
    if window.ends_at <= now:
        status = "completed"
    elif window.starts_at <= now:
        status = "in_progress"
    else:
        status = "scheduled"
    return {
        "id": public_id("maintenance", window.pk),
        "title": window.title,
        "description": window.description,
        "status": status,
        "status_label": MAINTENANCE_LABELS[status],
        "components": _refs(components),
        "starts_at": window.starts_at,
        "ends_at": window.ends_at,
    }


def snapshot_build(*, now: datetime) -> dict[str, Any]:
    """Everything the public page shows, read in a fixed number of queries.

    Only public rows and public columns are read: public components (name, description),
    public incidents (title, severity, status, components, started and resolved times, public
    updates) and maintenance windows that are not cancelled. ``fresh_until`` says until when
    it may be served (``snapshot`` takes it out).
    """
    days = days_until(now, HISTORY_DAYS)
    starts = [day.start for day in days]
    window_start = days[0].start
    components = list(Component.objects.filter(public=True).order_by("position", "name"))
    by_id = {c.pk: c for c in components}
    position = {c.pk: n for n, c in enumerate(components)}

    # Public incidents touching the 90 days (open ones whatever their start), and their public components.
    # No index serves this filter: incidents are few, and the page is built once a minute at most.
    touching = Q(resolved_at__isnull=True) | Q(resolved_at__gte=window_start)
    incidents = list(
        Incident.objects.filter(touching, public=True)
        .order_by("-started_at", "-id")
        .values_list(*INCIDENT_COLUMNS, named=True)
    )
    affects: dict[int, list[Component]] = defaultdict(list)
    links = Incident.components.through.objects.filter(
        Q(incident__resolved_at__isnull=True) | Q(incident__resolved_at__gte=window_start),
        incident__public=True,
        component__public=True,
    ).values_list("incident_id", "component_id")
    for incident_id, component_id in sorted(links, key=lambda link: position.get(link[1], -1)):
        if component_id in by_id:
            affects[incident_id].append(by_id[component_id])

    open_incidents = [i for i in incidents if i.resolved_at is None]
    history_start = days[-PAST_INCIDENT_DAYS].start
    past = [i for i in incidents if i.resolved_at is not None and i.started_at >= history_start]
    updates: dict[int, list[Any]] = defaultdict(list)
    shown_ids = [i.id for i in open_incidents] + [i.id for i in past]
    if shown_ids:
        events = IncidentEvent.objects.filter(public=True, incident_id__in=shown_ids).values_list(
            *UPDATE_COLUMNS, named=True
        )
        for event in events:
            updates[event.incident_id].append(event)

    windows = list(
        Maintenance.objects.filter(cancelled=False, ends_at__gte=window_start)
        .prefetch_related("components")
        .order_by("starts_at", "pk")
    )
    window_components = {
        w.pk: sorted((by_id[c.pk] for c in w.components.all() if c.pk in by_id), key=lambda c: position[c.pk])
        for w in windows
    }

    # Current states: open incidents by severity, maintenance in progress.
    current: dict[int, list[str]] = defaultdict(list)
    overall = [SEVERITY_STATE[i.severity] for i in open_incidents]
    for incident in open_incidents:
        for component in affects[incident.id]:
            current[component.pk].append(SEVERITY_STATE[incident.severity])
    for window in windows:
        if window.starts_at <= now < window.ends_at:
            for component in window_components[window.pk]:
                current[component.pk].append(State.MAINTENANCE)

    # Each day's worst state per component (incidents of any severity, maintenance), and its uptime.
    rank = {state: n for n, state in enumerate(State.ORDER)}
    worst = {c.pk: [0] * len(days) for c in components}

    def mark(affected: Iterable[Component], start: datetime, end: datetime, state: str) -> None:
        first = _day_index(starts, start)
        last = max(first, _day_index(starts, end, end=True))
        for component in affected:
            row = worst[component.pk]
            for index in range(first, last + 1):
                row[index] = max(row[index], rank[state])

    for incident in incidents:
        mark(affects[incident.id], incident.started_at, incident.resolved_at or now, SEVERITY_STATE[incident.severity])
    for window in windows:
        if window.starts_at < now:
            mark(window_components[window.pk], window.starts_at, min(window.ends_at, now), State.MAINTENANCE)
    down = outage_intervals(incidents, {pk: [c.pk for c in cs] for pk, cs in affects.items()}, now=now)
    checked = checked_uptime_of(by_id, first=days[0].date, last=days[-1].date)

    component_rows = []
    for component in components:
        state = State.worst(current[component.pk])
        overall.append(state)
        per_day, total = uptime_days(down.get(component.pk, []), days)
        counts = checked.get(component.pk)
        source = INCIDENTS
        if counts:  # checked: the checks' share over the days they ran; a day without checks keeps its incidents
            source = CHECKS
            total = checked_percent(sum(n for n, _ in counts.values()), sum(f for _, f in counts.values()))
        day_rows = []
        for index, day in enumerate(days):
            day_counts = counts.get(day.date) if counts else None
            # The colour follows the figure: the checks' where they ran that day, else the incidents'.
            day_state = checked_state(*day_counts) if day_counts else State.ORDER[worst[component.pk][index]]
            day_rows.append(
                {
                    "date": day.date,
                    "state": day_state,
                    "state_label": State.LABELS[day_state],
                    "uptime_percent": checked_percent(*day_counts) if day_counts else per_day[index],
                    "uptime_source": CHECKS if day_counts else INCIDENTS,
                }
            )
        component_rows.append(
            {
                "slug": component.slug,
                "name": component.name,
                "description": component.description,
                "state": state,
                "state_label": State.LABELS[state],
                "uptime_percent": total,
                "uptime_source": source,
                "uptime_source_label": UPTIME_SOURCE_LABELS[source],
                "days": day_rows,
            }
        )
    banner = State.worst(overall)

    past_by_day: dict[date, list[dict[str, Any]]] = defaultdict(list)
    for incident in past:  # newest first
        on = days[_day_index(starts, incident.started_at)].date
        past_by_day[on].append(_incident(incident, affects[incident.id], updates[incident.id]))
    maintenance_by_day: dict[date, list[dict[str, Any]]] = defaultdict(list)
    for window in reversed(windows):
        if window.ends_at <= now and window.starts_at >= history_start:
            on = days[_day_index(starts, window.starts_at)].date
            maintenance_by_day[on].append(_maintenance(window, window_components[window.pk], now=now))

    return {
        "version": uuid.uuid4().hex,
        "generated_at": now,
        "state": banner,
        "state_label": State.BANNERS[banner],
        "components": component_rows,
        "incidents": [_incident(i, affects[i.id], updates[i.id]) for i in open_incidents],
        "maintenance": [_maintenance(w, window_components[w.pk], now=now) for w in windows if w.ends_at > now],
        "history": [
            {
                "date": day.date,
                "incidents": past_by_day.get(day.date, []),
                "maintenance": maintenance_by_day.get(day.date, []),
            }
            for day in reversed(days[-PAST_INCIDENT_DAYS:])
        ],
        "feed": _feed(now=now, windows=windows),
        "fresh_until": _fresh_until(now, windows),
    }


def _feed(*, now: datetime, windows: list[Maintenance]) -> list[dict[str, Any]]:
    """The Atom feed's entries, newest first: public updates of public incidents, maintenance announced."""
    events = (
        IncidentEvent.objects.filter(public=True, incident__public=True, at__lte=now)
        .order_by("-at", "-id")
        .values_list("id", "at", "status", "body", "incident_id", "incident__title")[:FEED_SIZE]
    )
    # The snapshot is shared by every reader, whatever the language of the request that built it: the
    # feed's titles are put in words in the desk's default language, not the builder's.
    with translation.override(settings.LANGUAGE_CODE):
        entries: list[dict[str, Any]] = [
            {
                "id": public_id("event", event_id),
                "incident": public_id("incident", incident_id),
                "title": f"{title}: {STATUS_LABELS[event_status]}",
                "at": at,
                "body": body,
            }
            for event_id, at, event_status, body, incident_id, title in events
        ]
    for window in windows:
        if window.created_at <= now:
            entries.append(
                {
                    "id": public_id("maintenance", window.pk),
                    "incident": "",
                    "title": f"Scheduled maintenance: {window.title}",
                    "at": window.created_at,
                    "body": window.description,
                    "starts_at": window.starts_at,
                    "ends_at": window.ends_at,
                }
            )
    entries.sort(key=lambda entry: entry["at"], reverse=True)
    return entries[:FEED_SIZE]


def _fresh_until(now: datetime, windows: list[Maintenance]) -> datetime:
    """Now + the TTL, but no later than the next midnight or the next start or end of a maintenance window."""
    zone = desk_zone()
    midnight = datetime.combine(now.astimezone(zone).date() + timedelta(days=1), time.min, tzinfo=zone)
    moments = [now + SNAPSHOT_TTL, midnight]
    moments += [m for w in windows for m in (w.starts_at, w.ends_at) if m > now]
    return min(moments)
