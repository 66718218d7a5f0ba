"""The history of checks, kept compact: raw results roll up into minutes, minutes into hours, and
each is pruned after its retention (settings MONITOR_RAW_RETENTION_HOURS, MONITOR_MINUTE_RETENTION_DAYS,
MONITOR_HOUR_RETENTION_DAYS). A beat runs ``rollup_and_prune`` every minute.

A minute is rolled up once it is MONITOR_ROLLUP_GRACE_SECONDS old (longer than any check may
take, so no result lands in a minute already rolled up); an hour once all its minutes are.
``RollupMark`` rows say how far each has got: rows are pruned only once rolled up, and two
runs at once take turns on the mark's row. Re-rolling a range replaces its rows (idempotent).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, Max, Min, Q, QuerySet, Sum
from django.db.models.functions import TruncHour, TruncMinute

from sofacover.dbutil import insert_many

from .models import CheckResult, ErrorCount, HourRollup, MinuteRollup, RollupMark

MINUTE, HOUR = "minute", "hour"
# At most this much history is rolled up per run (a backlog is worked off over the next runs).
CHUNK = timedelta(hours=1)
MAX_CHUNKS = 48


def floor_minute(at: datetime) -> datetime:
    return at.astimezone(UTC).replace(second=0, microsecond=0)


def floor_hour(at: datetime) -> datetime:
    return at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


@dataclass
class RetentionResult:
    minutes: int = 0
    hours: int = 0
    pruned_raw: int = 0
    pruned_minutes: int = 0
    pruned_hours: int = 0
    pruned_counts: int = 0

    def __str__(self) -> str:
        return (
            f"rolled up {self.minutes} minute and {self.hours} hour rows; pruned {self.pruned_raw} results, "
            f"{self.pruned_minutes} minute and {self.pruned_hours} hour rows, {self.pruned_counts} feed counts"
        )


def marks() -> dict[str, datetime]:
    return dict(RollupMark.objects.values_list("resolution", "done_until"))


def _locked_mark(resolution: str, *, start: datetime) -> RollupMark:
    try:
        with transaction.atomic():
            RollupMark.objects.get_or_create(resolution=resolution, defaults={"done_until": start})
    except IntegrityError:  # another run created it first
        pass
    return RollupMark.objects.select_for_update().get(resolution=resolution)


def _aggregate(rows: QuerySet, bucket) -> QuerySet:
    """Sums per (monitor, bucket) of results or of finer rollups."""
    return rows.annotate(bucket=bucket).values("monitor_id", "bucket")


@dataclass
class Bucket:
    """One rollup row, as insert_many writes it (the fields' attribute names)."""

    monitor_id: int
    start: datetime
    checks: int
    failures: int
    latency_count: int
    latency_sum_ms: int
    latency_max_ms: int | None
    value_count: int
    value_1_sum: float
    value_2_sum: float


def _buckets(rows: QuerySet) -> list[Bucket]:
    return [
        Bucket(
            monitor_id=row["monitor_id"],
            start=row["bucket"],
            checks=row["n"],
            failures=row["failed"],
            latency_count=row["l_count"],
            latency_sum_ms=row["l_sum"] or 0,
            latency_max_ms=row["l_max"],
            value_count=row["v_count"],
            value_1_sum=row["v1"] or 0.0,
            value_2_sum=row["v2"] or 0.0,
        )
        for row in rows
    ]


def _from_results(start: datetime, end: datetime) -> list[Bucket]:
    rows = (
        _aggregate(
            CheckResult.objects.filter(scheduled_at__gte=start, scheduled_at__lt=end),
            TruncMinute("scheduled_at", tzinfo=UTC),
        )
        .annotate(
            n=Count("id"),
            failed=Count("id", filter=Q(ok=False)),
            l_count=Count("latency_ms"),
            l_sum=Sum("latency_ms"),
            l_max=Max("latency_ms"),
            v_count=Count("value_1", filter=Q(value_1__isnull=False) | Q(value_2__isnull=False)),
            v1=Sum("value_1"),
            v2=Sum("value_2"),
        )
        .order_by()
    )
    return _buckets(rows)


def _from_minutes(start: datetime, end: datetime) -> list[Bucket]:
    rows = (
        _aggregate(MinuteRollup.objects.filter(start__gte=start, start__lt=end), TruncHour("start", tzinfo=UTC))
        .annotate(
            n=Sum("checks"),
            failed=Sum("failures"),
            l_count=Sum("latency_count"),
            l_sum=Sum("latency_sum_ms"),
            l_max=Max("latency_max_ms"),
            v_count=Sum("value_count"),
            v1=Sum("value_1_sum"),
            v2=Sum("value_2_sum"),
        )
        .order_by()
    )
    return _buckets(rows)


def _upsert(model: type[MinuteRollup] | type[HourRollup], rows: list[Bucket]) -> int:
    """Write the buckets, replacing rows already there (one statement per batch, not the ORM's per value)."""
    insert_many(rows, model=model, update_conflicts=["monitor", "start"])
    return len(rows)


def _roll_up(
    resolution: str,
    *,
    cutoff: Callable[[], datetime | None],
    source: type[CheckResult] | type[MinuteRollup],
    field: str,
    floor: Callable[[datetime], datetime],
    rows_of: Callable[[datetime, datetime], list[Bucket]],
    target: type[MinuteRollup] | type[HourRollup],
) -> int:
    """Roll ``source`` rows (timed by ``field``) up into ``target``, a CHUNK per transaction from the
    ``resolution``'s mark up to ``cutoff()`` (None: nothing may be rolled up yet); a gap is jumped."""
    written = 0
    for _ in range(MAX_CHUNKS):
        with transaction.atomic():
            until = cutoff()
            if until is None:
                return written
            first = source.objects.aggregate(first=Min(field))["first"]
            mark = _locked_mark(resolution, start=floor(first) if first else until)
            start = mark.done_until
            if start >= until:
                return written
            end = min(until, start + CHUNK)
            rows = rows_of(start, end)
            if not rows:  # a gap (nothing to roll up): jump to the next row there is
                following = source.objects.filter(**{f"{field}__gte": end}).aggregate(first=Min(field))
                end = min(until, floor(following["first"])) if following["first"] else until
            written += _upsert(target, rows)
            mark.done_until = end
            mark.save(update_fields=["done_until"])
    return written


def rollup_minutes(*, now: datetime) -> int:
    """Roll up raw results into minutes, up to MONITOR_ROLLUP_GRACE_SECONDS ago."""
    cutoff = floor_minute(now - timedelta(seconds=settings.MONITOR_ROLLUP_GRACE_SECONDS))
    return _roll_up(
        MINUTE,
        cutoff=lambda: cutoff,
        source=CheckResult,
        field="scheduled_at",
        floor=floor_minute,
        rows_of=_from_results,
        target=MinuteRollup,
    )


def rollup_hours(*, now: datetime) -> int:
    """Roll up minutes into hours, every hour whose minutes are all rolled up."""

    def minutes_done() -> datetime | None:
        minutes_until = marks().get(MINUTE)
        return floor_hour(minutes_until) if minutes_until is not None else None

    return _roll_up(
        HOUR,
        cutoff=minutes_done,
        source=MinuteRollup,
        field="start",
        floor=floor_hour,
        rows_of=_from_minutes,
        target=HourRollup,
    )


def prune(*, now: datetime) -> RetentionResult:
    """Delete what is past its retention, and never what is not rolled up yet."""
    done = marks()
    result = RetentionResult()
    raw_before = now - timedelta(hours=settings.MONITOR_RAW_RETENTION_HOURS)
    if MINUTE in done:
        raw_before = min(raw_before, done[MINUTE])
        result.pruned_raw, _ = CheckResult.objects.filter(scheduled_at__lt=raw_before).delete()
    minutes_before = now - timedelta(days=settings.MONITOR_MINUTE_RETENTION_DAYS)
    if HOUR in done:
        minutes_before = min(minutes_before, done[HOUR])
        result.pruned_minutes, _ = MinuteRollup.objects.filter(start__lt=minutes_before).delete()
    hours_before = now - timedelta(days=settings.MONITOR_HOUR_RETENTION_DAYS)
    result.pruned_hours, _ = HourRollup.objects.filter(start__lt=hours_before).delete()
    counts_before = now - timedelta(hours=settings.MONITOR_RAW_RETENTION_HOURS)
    result.pruned_counts, _ = ErrorCount.objects.filter(minute__lt=counts_before).delete()
    return result


def rollup_and_prune(*, now: datetime) -> RetentionResult:
    minutes = rollup_minutes(now=now)
    hours = rollup_hours(now=now)
    result = prune(now=now)
    result.minutes, result.hours = minutes, hours
    return result
