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
  committed carries the old generation and is not served;
- it is also fresh for at most ``SNAPSHOT_TTL`` and never past the next midnight
  (the history moves a day) or the next start or end of a maintenance window;
- while one request rebuilds it, the others serve the previous one, and when the
  database cannot answer the previous one is served too (``LAST_KEY``, kept a day):
  the page stays up when the desk is overloaded.

The uptime of a day comes from one function, ``uptime_days``, fed with the outage
intervals of ``outage_intervals`` (P0/P1 incidents, started → resolved). Uptime checks
(issue 14) replace the intervals, not the arithmetic.
"""

from __future__ import annotations

import logging
import math
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, transaction
from django.db.models import Q
from django.utils.crypto import salted_hmac

from tickets.models import Ticket

from .models import Component, Incident, IncidentEvent, Maintenance

logger = logging.getLogger(__name__)

SNAPSHOT_KEY = "incidents:status:snapshot"
# Moves on with every change (snapshot_forget); a snapshot carries the generation it was built at.
GENERATION_KEY = "incidents:status:generation"
# The last snapshot built, kept longer: served while another request rebuilds, or when the database fails.
LAST_KEY = "incidents:status:last"
REBUILD_LOCK_KEY = "incidents:status:rebuilding"
SNAPSHOT_TTL = timedelta(seconds=60)
LAST_TTL = timedelta(days=1)
REBUILD_LOCK_SECONDS = 30

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


def public_id(kind: str, pk: int) -> str:
    """A stable identifier for a row on the public page that does not give away its number
    (which would count the incidents the page does not show)."""
    return salted_hmac("incidents.status.public-id", f"{kind}:{pk}", algorithm="sha256").hexdigest()[:16]


# --- freshness ------------------------------------------------------------------------------------


def _forget_now() -> None:
    cache.set(GENERATION_KEY, uuid.uuid4().hex, None)
    cache.delete(SNAPSHOT_KEY)


def snapshot_forget() -> None:
    """Drop the cached snapshot once the current transaction commits (at once outside one)."""
    transaction.on_commit(_forget_now)


def snapshot(*, now: datetime) -> dict[str, Any]:
    """The public snapshot: the cached one while it is fresh, else built and cached.

    While another request rebuilds, or when the database fails, the last one built is served.
    :raises DatabaseError: the database fails and there is no snapshot at all to serve
    """
    found = cache.get_many([SNAPSHOT_KEY, GENERATION_KEY])
    entry, generation = found.get(SNAPSHOT_KEY), found.get(GENERATION_KEY)
    if entry is not None and entry["generation"] == generation and now < entry["fresh_until"]:
        return entry["data"]
    locked = cache.add(REBUILD_LOCK_KEY, 1, REBUILD_LOCK_SECONDS)
    if not locked:
        last = cache.get(LAST_KEY)
        if last is not None:
            return last["data"]
    try:
        data = snapshot_build(now=now)
    except DatabaseError:
        last = cache.get(LAST_KEY)
        if last is None:
            raise
        logger.warning(
            "The status page could not be rebuilt; serving the one built at %s", last["data"]["generated_at"]
        )
        return last["data"]
    finally:
        if locked:
            cache.delete(REBUILD_LOCK_KEY)
    entry = {"generation": generation, "fresh_until": data.pop("fresh_until"), "data": data}
    timeout = max(1, math.ceil((entry["fresh_until"] - now).total_seconds()))
    cache.set(SNAPSHOT_KEY, entry, timeout)
    cache.set(LAST_KEY, entry, int(LAST_TTL.total_seconds()))
    return data


# --- days and uptime ------------------------------------------------------------------------------


def desk_zone() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


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
    incidents: Iterable[Incident], affects: dict[int, list[int]], *, now: datetime
) -> dict[int, list[Interval]]:
    """Per component id, when it was down: its P0/P1 incidents, from started to resolved (or now)."""
    down: dict[int, list[Interval]] = defaultdict(list)
    for incident in incidents:
        if incident.severity not in OUTAGE_SEVERITIES:
            continue
        for component_id in affects.get(incident.pk, ()):
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
    down = _merged(intervals)
    per_day = []
    total = lost = timedelta(0)
    for day in days:
        length = day.end - day.start
        missing = sum(
            (min(end, day.end) - max(start, day.start) for start, end in down if start < day.end and end > day.start),
            timedelta(0),
        )
        per_day.append(_percent(length - missing, length))
        total += length
        lost += missing
    return per_day, _percent(total - lost, total)


def _day_index(days: Sequence[Day], moment: datetime, *, end: bool = False) -> int:
    """The index of the day ``moment`` falls on, clamped to the window; an ``end`` at midnight
    belongs to the day before (it touched nothing of the next)."""
    if end:
        moment -= timedelta(microseconds=1)
    local = moment.astimezone(desk_zone()).date()
    index = (local - days[0].date).days
    return max(0, min(len(days) - 1, index))


# --- the snapshot ---------------------------------------------------------------------------------


def _update(event: IncidentEvent) -> dict[str, Any]:
    return {
        "id": public_id("event", event.pk),
        "at": event.at,
        "status": event.status,
        "status_label": Incident.Status(event.status).label,
        "body": event.body,
    }


def _incident(incident: Incident, components: list[Component], updates: list[IncidentEvent]) -> dict[str, Any]:
    state = SEVERITY_STATE[Severity(incident.severity)]
    return {
        "id": public_id("incident", incident.pk),
        "title": incident.title,
        "severity": incident.severity,
        "severity_label": Severity(incident.severity).label,
        "state": state,
        "state_label": State.LABELS[state],
        "status": incident.status,
        "status_label": Incident.Status(incident.status).label,
        "components": [{"slug": c.slug, "name": c.name} for c in components],
        "started_at": incident.started_at,
        "resolved_at": incident.resolved_at,
        "updates": [_update(event) for event in sorted(updates, key=lambda e: (e.at, e.pk), reverse=True)],
    }


def _maintenance(window: Maintenance, components: list[Component], *, now: datetime) -> dict[str, Any]:
    if window.ends_at <= now:
        status, label = "completed", "Completed"
    elif window.starts_at <= now:
        status, label = "in_progress", "In progress"
    else:
        status, label = "scheduled", "Scheduled"
    return {
        "id": public_id("maintenance", window.pk),
        "title": window.title,
        "description": window.description,
        "status": status,
        "status_label": label,
        "components": [{"slug": c.slug, "name": c.name} for c in components],
        "starts_at": window.starts_at,
        "ends_at": window.ends_at,
    }


def snapshot_build(*, now: datetime) -> dict[str, Any]:
    """Everything the public page shows, read in a fixed number of queries.

    Only public rows and public fields are read into it: public components (name,
    description), public incidents (title, severity, status, components, started and
    resolved times, public updates) and maintenance windows that are not cancelled.
    ``fresh_until`` says until when it may be served (``snapshot`` takes it out).
    """
    days = days_until(now, HISTORY_DAYS)
    window_start = days[0].start
    components = list(Component.objects.filter(public=True).order_by("position", "name"))
    by_id = {c.pk: c for c in components}

    # Public incidents touching the 90 days (open ones whatever their start), and their public components.
    # No index serves this filter: incidents are few, and the page is built once a minute at most.
    incidents = list(
        Incident.objects.filter(Q(public=True) & (Q(resolved_at__isnull=True) | Q(resolved_at__gte=window_start)))
        .only("id", "title", "severity", "status", "started_at", "resolved_at")
        .order_by("-started_at", "-pk")
    )
    affects: dict[int, list[int]] = defaultdict(list)
    links = Incident.components.through.objects.filter(
        Q(incident__resolved_at__isnull=True) | Q(incident__resolved_at__gte=window_start),
        incident__public=True,
        component__public=True,
    ).values_list("incident_id", "component_id")
    for incident_id, component_id in links:
        affects[incident_id].append(component_id)
    position = {c.pk: n for n, c in enumerate(components)}
    for component_ids in affects.values():
        component_ids.sort(key=position.__getitem__)

    open_incidents = [i for i in incidents if i.resolved_at is None]
    history_days = days[-PAST_INCIDENT_DAYS:]
    past = [i for i in incidents if i.resolved_at is not None and i.started_at >= history_days[0].start]
    shown_ids = [i.pk for i in open_incidents] + [i.pk for i in past]
    updates: dict[int, list[IncidentEvent]] = defaultdict(list)
    if shown_ids:
        events = IncidentEvent.objects.filter(public=True, incident_id__in=shown_ids).only(
            "id", "incident_id", "at", "status", "body"
        )
        for event in events:
            updates[event.incident_id].append(event)

    windows = list(
        Maintenance.objects.filter(cancelled=False, ends_at__gte=window_start)
        .prefetch_related("components")
        .order_by("starts_at", "pk")
    )
    window_components = {
        w.pk: [by_id[c.pk] for c in sorted(w.components.all(), key=lambda c: (c.position, c.name)) if c.pk in by_id]
        for w in windows
    }

    def components_of(incident: Incident) -> list[Component]:
        return [by_id[cid] for cid in affects.get(incident.pk, ()) if cid in by_id]

    # Current states: open incidents by severity, maintenance in progress.
    current: dict[int, list[str]] = defaultdict(list)
    overall = [SEVERITY_STATE[Severity(i.severity)] for i in open_incidents]
    for incident in open_incidents:
        for component in components_of(incident):
            current[component.pk].append(SEVERITY_STATE[Severity(incident.severity)])
    for window in windows:
        if window.starts_at <= now < window.ends_at:
            for component in window_components[window.pk]:
                current[component.pk].append(State.MAINTENANCE)

    # Each day's worst state per component, and its uptime.
    worst: dict[int, list[list[str]]] = {c.pk: [[] for _ in days] for c in components}
    for incident in incidents:
        state = SEVERITY_STATE[Severity(incident.severity)]
        first, last = _day_index(days, incident.started_at), _day_index(days, incident.resolved_at or now, end=True)
        for component in components_of(incident):
            for index in range(first, max(first, last) + 1):
                worst[component.pk][index].append(state)
    for window in windows:
        if window.starts_at >= now:
            continue
        first, last = _day_index(days, window.starts_at), _day_index(days, min(window.ends_at, now), end=True)
        for component in window_components[window.pk]:
            for index in range(first, max(first, last) + 1):
                worst[component.pk][index].append(State.MAINTENANCE)
    down = outage_intervals(incidents, affects, now=now)

    component_rows = []
    for component in components:
        state = State.worst(current[component.pk])
        overall.append(state)
        per_day, total = uptime_days(down.get(component.pk, []), days)
        component_rows.append(
            {
                "slug": component.slug,
                "name": component.name,
                "description": component.description,
                "state": state,
                "state_label": State.LABELS[state],
                "uptime_percent": total,
                "days": [
                    {
                        "date": day.date,
                        "state": (day_state := State.worst(worst[component.pk][index])),
                        "state_label": State.LABELS[day_state],
                        "uptime_percent": per_day[index],
                    }
                    for index, day in enumerate(days)
                ],
            }
        )
    banner = State.worst(overall)

    past_by_day: dict[date, list[dict[str, Any]]] = defaultdict(list)
    for incident in past:  # newest first
        past_by_day[incident.started_at.astimezone(desk_zone()).date()].append(
            _incident(incident, components_of(incident), updates[incident.pk])
        )
    maintenance_by_day: dict[date, list[dict[str, Any]]] = defaultdict(list)
    for window in reversed(windows):
        if window.ends_at <= now and window.starts_at >= history_days[0].start:
            maintenance_by_day[window.starts_at.astimezone(desk_zone()).date()].append(
                _maintenance(window, window_components[window.pk], now=now)
            )

    shown_windows = [_maintenance(w, window_components[w.pk], now=now) for w in windows if w.ends_at > now]
    open_rows = [_incident(i, components_of(i), updates[i.pk]) for i in open_incidents]
    data = {
        "version": uuid.uuid4().hex,
        "generated_at": now,
        "state": banner,
        "state_label": State.BANNERS[banner],
        "components": component_rows,
        "incidents": open_rows,
        "maintenance": shown_windows,
        "history": [
            {
                "date": day.date,
                "incidents": past_by_day.get(day.date, []),
                "maintenance": maintenance_by_day.get(day.date, []),
            }
            for day in reversed(history_days)
        ],
        "feed": _feed(now=now, windows=windows),
        "fresh_until": _fresh_until(now, windows),
    }
    return data


def _feed(*, now: datetime, windows: list[Maintenance]) -> list[dict[str, Any]]:
    """The Atom feed's entries, newest first: public updates of public incidents, maintenance announced."""
    events = (
        IncidentEvent.objects.filter(public=True, incident__public=True, at__lte=now)
        .select_related("incident")
        .only("id", "at", "status", "body", "incident__id", "incident__title", "incident__severity")
        .order_by("-at", "-pk")[:FEED_SIZE]
    )
    entries: list[dict[str, Any]] = [
        {
            "id": public_id("event", event.pk),
            "incident": public_id("incident", event.incident.pk),
            "title": f"{event.incident.title}: {Incident.Status(event.status).label}",
            "at": event.at,
            "body": event.body,
        }
        for event in events
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
