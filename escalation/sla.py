"""Pure SLA arithmetic: business calendars, pauses and deadlines.

No ORM, no clock, no settings: every function takes what it needs and
returns a value, so the same inputs always give the same deadline and any
deadline can be re-derived and explained from the ticket's history.

Time is measured as *open, unpaused* time: the calendar's opening hours
(or all the time for a 24x7 calendar) minus holidays minus the segments
when the clock was paused (waiting on the customer).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

# Search at most this far ahead for enough open time; a calendar with no
# opening hours (or all holidays) has no deadline rather than a hang.
HORIZON = timedelta(days=3 * 366)


@dataclass(frozen=True)
class Calendar:
    """When the clock runs. ``hours`` maps weekday (0 = Monday) to local (opens, closes)
    intervals; ``closes == time(0)`` means midnight at the end of that day."""

    time_zone: str = "UTC"
    always_open: bool = True
    hours: Mapping[int, tuple[tuple[time, time], ...]] = field(default_factory=dict)
    holidays: frozenset[date] = frozenset()

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)


ALWAYS = Calendar()


@dataclass(frozen=True)
class Pause:
    """A segment when the clock stood still; ``end`` None while it still does."""

    start: datetime
    end: datetime | None = None


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("SLA arithmetic needs aware datetimes")
    return value.astimezone(UTC)


def _local(day: date, moment: time, zone: ZoneInfo) -> datetime:
    # fold=0: in a repeated hour take the first; a time in a DST gap maps to the
    # instant the offset before the gap gives, so no open time is invented.
    return datetime.combine(day, moment, tzinfo=zone).astimezone(UTC)


def open_intervals(calendar: Calendar, start: datetime, until: datetime) -> Iterator[tuple[datetime, datetime]]:
    """The calendar's open intervals within [start, until), in UTC, in order."""
    start, until = _aware(start), _aware(until)
    if start >= until:
        return
    if calendar.always_open:
        yield start, until
        return
    zone = calendar.zone
    day = start.astimezone(zone).date() - timedelta(days=1)  # an interval may start the evening before
    last = until.astimezone(zone).date()
    while day <= last:
        if day not in calendar.holidays:
            for begin, end in _day_opening(calendar, day):
                begin, end = max(begin, start), min(end, until)
                if begin < end:
                    yield begin, end
        day += timedelta(days=1)


def _day_opening(calendar: Calendar, day: date) -> tuple[tuple[datetime, datetime], ...]:
    hours = calendar.hours.get(day.weekday(), ())
    if not hours:
        return ()
    try:
        return _opening(calendar.time_zone, day, hours)
    except TypeError:  # hours given as lists (not from the policy book): not cacheable, same answer
        return _opening.__wrapped__(calendar.time_zone, day, hours)


@lru_cache(maxsize=4096)
def _opening(time_zone: str, day: date, hours: tuple[tuple[time, time], ...]) -> tuple[tuple[datetime, datetime], ...]:
    """One day's opening hours in UTC; the same every time, and most deadlines cross the same weeks."""
    zone = ZoneInfo(time_zone)
    return tuple(
        (
            _local(day, opens, zone),
            _local(day + timedelta(days=1), time(0), zone) if closes == time(0) else _local(day, closes, zone),
        )
        for opens, closes in hours
    )


def merge_pauses(pauses: Iterable[Pause]) -> tuple[Pause, ...]:
    """The pauses as disjoint segments in order: overlapping, nested, touching and
    equal-start segments become one; empty ones go; an open-ended one swallows the rest.

    Segments are ordered by their start alone: two pauses may start at the same
    instant (a ticket set waiting and resolved in one moment), and an open end
    (None) has no order against a datetime.
    """
    merged: list[Pause] = []
    for pause in sorted(pauses, key=lambda p: _aware(p.start)):
        start, end = _aware(pause.start), _aware(pause.end) if pause.end is not None else None
        if end is not None and end <= start:
            continue  # stood still for no time
        if merged and (merged[-1].end is None or start <= merged[-1].end):
            last = merged[-1]
            if last.end is not None:
                merged[-1] = Pause(last.start, None if end is None else max(last.end, end))
            continue
        merged.append(Pause(start, end))
    return tuple(merged)


def _minus_pauses(
    intervals: Iterable[tuple[datetime, datetime]], pauses: Sequence[Pause]
) -> Iterator[tuple[datetime, datetime]]:
    segments = merge_pauses(pauses)
    first = 0  # segments ending before the current interval never matter again
    for begin, end in intervals:
        cursor = begin
        while first < len(segments) and segments[first].end is not None and segments[first].end <= cursor:
            first += 1
        for segment in segments[first:]:
            p_start, p_end = segment.start, segment.end
            if p_start >= end:
                break
            if p_start > cursor:
                yield cursor, p_start
            if p_end is None or p_end >= end:
                cursor = end
                break
            cursor = p_end
        if cursor < end:
            yield cursor, end


def clock_intervals(
    calendar: Calendar, start: datetime, until: datetime, pauses: Sequence[Pause] = ()
) -> Iterator[tuple[datetime, datetime]]:
    """Open, unpaused intervals within [start, until)."""
    yield from _minus_pauses(open_intervals(calendar, start, until), pauses)


def elapsed(calendar: Calendar, start: datetime, end: datetime, pauses: Sequence[Pause] = ()) -> timedelta:
    """How much clock time ran between start and end."""
    return sum((b - a for a, b in clock_intervals(calendar, start, end, pauses)), timedelta())


def add(calendar: Calendar, start: datetime, duration: timedelta, pauses: Sequence[Pause] = ()) -> datetime | None:
    """The moment ``duration`` of clock time has run since ``start``.

    None when the clock cannot reach it: an open-ended pause begins first, or
    the calendar has no open time within the horizon.
    """
    return add_many(calendar, start, [duration], pauses)[0]


def add_many(
    calendar: Calendar, start: datetime, durations: Sequence[timedelta], pauses: Sequence[Pause] = ()
) -> list[datetime | None]:
    """``add`` for each of ``durations`` from the same start, walking the clock once for all of them.

    The walk looks ahead in windows (14 days, then doubling up to the horizon) so
    a short target never computes years of calendar; a deadline falls in the
    first open interval where the clock time run so far reaches it.
    """
    start = _aware(start)
    if any(duration < timedelta(0) for duration in durations):
        raise ValueError("duration must not be negative")
    found: list[datetime | None] = [None] * len(durations)
    pending = sorted(range(len(durations)), key=durations.__getitem__)  # shortest first
    open_ended = [_aware(p.start) for p in pauses if p.end is None]
    ran = timedelta(0)
    window = timedelta(days=14)
    cursor, horizon = start, start + HORIZON
    while pending and cursor < horizon:
        until = min(cursor + window, horizon)
        for begin, end in clock_intervals(calendar, cursor, until, pauses):
            # Zero time runs out at the first moment the clock runs.
            while pending and durations[pending[0]] - ran <= end - begin:
                index = pending.pop(0)
                found[index] = begin + (durations[index] - ran)
            if not pending:
                return found
            ran += end - begin
        if open_ended and min(open_ended) <= until:
            return found  # the clock stops for good before the rest is reached
        cursor = until
        window *= 2
    return found


# --- deadlines ---------------------------------------------------------------


@dataclass(frozen=True)
class Targets:
    """A priority's targets; ``update`` None when the priority has no update cadence."""

    first_response: timedelta
    resolution: timedelta
    update: timedelta | None = None


@dataclass(frozen=True)
class History:
    """What the deadlines depend on, read from the ticket and its timeline."""

    created_at: datetime
    first_responded_at: datetime | None = None
    resolved_at: datetime | None = None
    last_agent_reply_at: datetime | None = None
    tier_entered_at: datetime | None = None
    tier_target: timedelta | None = None
    pauses: tuple[Pause, ...] = ()


@dataclass(frozen=True)
class Deadlines:
    first_response_due_at: datetime | None
    resolution_due_at: datetime | None
    next_update_due_at: datetime | None
    tier_response_due_at: datetime | None


def deadlines(targets: Targets, calendar: Calendar, history: History) -> Deadlines:
    """Every deadline of a ticket, from its policy, calendar and history.

    - first response and resolution run from creation, skipping closed hours and pauses;
    - the next update is due ``update`` after the latest public agent reply, once the
      first response is made, until resolution;
    - the tier response runs from when the ticket entered its tier until an agent
      replies in that tier.
    A deadline the clock cannot reach yet (paused) is None.
    """
    return deadlines_and_warnings(targets, calendar, history)[0]


def deadlines_and_warnings(
    targets: Targets, calendar: Calendar, history: History
) -> tuple[Deadlines, datetime | None, datetime | None]:
    """``deadlines``, and the first response's and resolution's warning moments, from one walk of the clock."""
    pauses = history.pauses
    first, resolution, first_warn, resolution_warn = add_many(
        calendar,
        history.created_at,
        [targets.first_response, targets.resolution, _warned(targets.first_response), _warned(targets.resolution)],
        pauses,
    )
    update = None
    if targets.update is not None and history.first_responded_at and history.resolved_at is None:
        since = history.last_agent_reply_at or history.first_responded_at
        update = add(calendar, since, targets.update, pauses)
    tier = None
    if history.tier_target is not None and history.tier_entered_at is not None and history.resolved_at is None:
        replied_in_tier = history.last_agent_reply_at and history.last_agent_reply_at >= history.tier_entered_at
        if not replied_in_tier:
            tier = add(calendar, history.tier_entered_at, history.tier_target, pauses)
    return Deadlines(first, resolution, update, tier), first_warn, resolution_warn


def _warned(target: timedelta) -> timedelta:
    """The warning goes out when 75 % of the target has run."""
    return target * 3 / 4


def warning_at(calendar: Calendar, start: datetime, target: timedelta, pauses: Sequence[Pause] = ()) -> datetime | None:
    """When 75 % of ``target`` has run: the breach warning goes out then."""
    return add(calendar, start, _warned(target), pauses)


def remaining_share(
    calendar: Calendar, start: datetime, target: timedelta, now: datetime, pauses: Sequence[Pause] = ()
) -> float:
    """The share of ``target`` still left at ``now`` (negative once breached)."""
    if target <= timedelta(0):
        return 0.0
    used = elapsed(calendar, start, now, pauses)
    return (target - used) / target
