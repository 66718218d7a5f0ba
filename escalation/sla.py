"""Pure SLA arithmetic: business calendars, pauses and deadlines.

No ORM, no clock, no settings: every function takes what it needs and
returns a value, so the same inputs always give the same deadline and any
deadline can be re-derived and explained from the ticket's history.

Time is measured as *open, unpaused* time: the calendar's opening hours
(or all the time for a 24x7 calendar) minus holidays minus the segments
when the clock was paused (waiting on the customer).

A target is clock time (a ``timedelta``: minutes and hours count open hours)
or ``BusinessDays``. A business day is one open day's opening hours, whatever
their length: each open, unpaused stretch of a day runs its share of that day,
so N business days from any instant land N open days later at the same share
of the day (Friday 17:30 + 1 business day = Monday 17:30 on 09:00-18:00
weekdays). On a 24x7 calendar a business day is 24 hours.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from fractions import Fraction
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
    hours: Mapping[int, Sequence[Sequence[time]]] = field(default_factory=dict)
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


DAY = timedelta(days=1)
MICROSECOND = timedelta(microseconds=1)

# The units a policy writes its targets in (escalation.models.SlaPolicy.Unit has the same values).
MINUTES, HOURS, BUSINESS_DAYS = "minutes", "hours", "business_days"
UNITS = (MINUTES, HOURS, BUSINESS_DAYS)


@dataclass(frozen=True, order=True, init=False)
class BusinessDays:
    """A target counted in business days (see the module docstring); fractions for the 75 % warning."""

    days: Fraction

    def __init__(self, days: int | Fraction) -> None:
        object.__setattr__(self, "days", Fraction(days))
        if self.days < 0:
            raise ValueError("duration must not be negative")

    def __mul__(self, factor: int | Fraction) -> BusinessDays:
        return BusinessDays(self.days * Fraction(factor))

    def __truediv__(self, divisor: int | Fraction) -> BusinessDays:
        return BusinessDays(self.days / Fraction(divisor))


Span = timedelta | BusinessDays


def target(amount: int, unit: str) -> Span:
    """A policy's stored target (``amount`` in ``unit``) as a span of clock time or business days."""
    if unit == MINUTES:
        return timedelta(minutes=amount)
    if unit == HOURS:
        return timedelta(hours=amount)
    if unit == BUSINESS_DAYS:
        return BusinessDays(amount)
    raise ValueError(f"unknown target unit {unit!r}")


def _times(length: timedelta, share: Fraction) -> timedelta:
    """``share`` of ``length``, rounded up to the microsecond: the first instant that much has run."""
    micros = length // MICROSECOND * share
    return timedelta(microseconds=-(-micros.numerator // micros.denominator))


def open_intervals(calendar: Calendar, start: datetime, until: datetime) -> Iterator[tuple[datetime, datetime]]:
    """The calendar's open intervals within [start, until), in UTC, in order."""
    for begin, end, _ in _open_spans(calendar, start, until):
        yield begin, end


def _open_spans(calendar: Calendar, start: datetime, until: datetime) -> Iterator[tuple[datetime, datetime, timedelta]]:
    """``open_intervals``, each with the whole opening of its day (its business day's length; 24 h when 24x7)."""
    start, until = _aware(start), _aware(until)
    if start >= until:
        return
    if calendar.always_open:
        yield start, until, DAY
        return
    zone = calendar.zone
    day = start.astimezone(zone).date() - timedelta(days=1)  # an interval may start the evening before
    last = until.astimezone(zone).date()
    while day <= last:
        if day not in calendar.holidays:
            opening = _day_opening(calendar, day)
            length = sum((end - begin for begin, end in opening), timedelta())
            for begin, end in opening:
                begin, end = max(begin, start), min(end, until)
                if begin < end:
                    yield begin, end, length
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
def _opening(time_zone: str, day: date, hours: Sequence[Sequence[time]]) -> tuple[tuple[datetime, datetime], ...]:
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
    spans: Iterable[tuple[datetime, datetime, timedelta]], pauses: Sequence[Pause]
) -> Iterator[tuple[datetime, datetime, timedelta]]:
    """The spans' unpaused parts, each with its day's length."""
    segments = merge_pauses(pauses)
    first = 0  # segments ending before the current interval never matter again
    for begin, end, day in spans:
        cursor = begin
        while first < len(segments) and (ended_at := segments[first].end) is not None and ended_at <= cursor:
            first += 1
        for segment in segments[first:]:
            p_start, p_end = segment.start, segment.end
            if p_start >= end:
                break
            if p_start > cursor:
                yield cursor, p_start, day
            if p_end is None or p_end >= end:
                cursor = end
                break
            cursor = p_end
        if cursor < end:
            yield cursor, end, day


def clock_intervals(
    calendar: Calendar, start: datetime, until: datetime, pauses: Sequence[Pause] = ()
) -> Iterator[tuple[datetime, datetime]]:
    """Open, unpaused intervals within [start, until)."""
    for begin, end, _ in _minus_pauses(_open_spans(calendar, start, until), pauses):
        yield begin, end


def elapsed(calendar: Calendar, start: datetime, end: datetime, pauses: Sequence[Pause] = ()) -> timedelta:
    """How much clock time ran between start and end."""
    return sum((b - a for a, b in clock_intervals(calendar, start, end, pauses)), timedelta())


def elapsed_days(calendar: Calendar, start: datetime, end: datetime, pauses: Sequence[Pause] = ()) -> Fraction:
    """How many business days ran between start and end: each open, unpaused stretch is its share of its day."""
    return sum(
        (
            Fraction((b - a) // MICROSECOND, day // MICROSECOND)
            for a, b, day in _minus_pauses(_open_spans(calendar, start, end), pauses)
        ),
        Fraction(0),
    )


def elapsed_share(
    calendar: Calendar, start: datetime, end: datetime, target: Span, pauses: Sequence[Pause] = ()
) -> float:
    """The share of ``target`` that ran between start and end (above 1 once it is exceeded)."""
    if isinstance(target, BusinessDays):
        return float(elapsed_days(calendar, start, end, pauses) / target.days) if target.days else 1.0
    return elapsed(calendar, start, end, pauses) / target if target else 1.0


def add(calendar: Calendar, start: datetime, duration: Span, pauses: Sequence[Pause] = ()) -> datetime | None:
    """The moment ``duration`` (clock time or business days) has run since ``start``.

    None when the clock cannot reach it: an open-ended pause begins first, or
    the calendar has no open time within the horizon.
    """
    return add_many(calendar, start, [duration], pauses)[0]


def add_many(
    calendar: Calendar, start: datetime, durations: Sequence[Span], pauses: Sequence[Pause] = ()
) -> list[datetime | None]:
    """``add`` for each of ``durations`` from the same start, walking the clock once for all of them.

    The walk looks ahead in windows (14 days, then doubling up to the horizon) so
    a short target never computes years of calendar; a deadline falls in the
    first open interval where the clock time (or the business days) run so far
    reaches it. Business days on a 24x7 calendar are 24 hours each.
    """
    start = _aware(start)
    clock: list[tuple[timedelta, int]] = []  # (target, index), shortest first
    days: list[tuple[Fraction, int]] = []
    for index, duration in enumerate(durations):
        if isinstance(duration, BusinessDays):
            if calendar.always_open:
                clock.append((_times(DAY, duration.days), index))
            else:
                days.append((duration.days, index))
        elif duration < timedelta(0):
            raise ValueError("duration must not be negative")
        else:
            clock.append((duration, index))
    clock.sort(reverse=True)  # popped from the end
    days.sort(reverse=True)
    found: list[datetime | None] = [None] * len(durations)
    open_ended = [_aware(p.start) for p in pauses if p.end is None]
    ran, ran_days = timedelta(0), Fraction(0)
    window = timedelta(days=14)
    cursor, horizon = start, start + HORIZON
    while (clock or days) and cursor < horizon:
        until = min(cursor + window, horizon)
        for begin, end, day in _minus_pauses(_open_spans(calendar, cursor, until), pauses):
            length = end - begin
            # Zero time runs out at the first moment the clock runs.
            while clock and clock[-1][0] - ran <= length:
                duration, index = clock.pop()
                found[index] = begin + (duration - ran)
            ran += length
            if days:
                share = Fraction(length // MICROSECOND, day // MICROSECOND)
                while days and days[-1][0] - ran_days <= share:
                    left, index = days.pop()
                    found[index] = begin + _times(day, left - ran_days)
                ran_days += share
            if not (clock or days):
                return found
        if open_ended and min(open_ended) <= until:
            return found  # the clock stops for good before the rest is reached
        cursor = until
        window *= 2
    return found


# --- deadlines ---------------------------------------------------------------


@dataclass(frozen=True)
class Targets:
    """A priority's targets; ``update`` None when the priority has no update cadence."""

    first_response: Span
    resolution: Span
    update: Span | None = None


@dataclass(frozen=True)
class History:
    """What the deadlines depend on, read from the ticket and its timeline."""

    created_at: datetime
    first_responded_at: datetime | None = None
    resolved_at: datetime | None = None
    last_agent_reply_at: datetime | None = None
    tier_entered_at: datetime | None = None
    tier_target: Span | None = None
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


def _warned(target: Span) -> Span:
    """The warning goes out when 75 % of the target has run."""
    if isinstance(target, BusinessDays):
        return target * Fraction(3, 4)
    return target * 3 / 4


def warning_at(calendar: Calendar, start: datetime, target: Span, pauses: Sequence[Pause] = ()) -> datetime | None:
    """When 75 % of ``target`` has run: the breach warning goes out then."""
    return add(calendar, start, _warned(target), pauses)


def remaining_share(
    calendar: Calendar, start: datetime, target: Span, now: datetime, pauses: Sequence[Pause] = ()
) -> float:
    """The share of ``target`` still left at ``now`` (negative once breached)."""
    empty = target.days <= 0 if isinstance(target, BusinessDays) else target <= timedelta(0)
    if empty:
        return 0.0
    return 1.0 - elapsed_share(calendar, start, now, target, pauses)
