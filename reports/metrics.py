"""Every metric of the reports, computed in the database with aggregation.

No function here loops over tickets in Python: each table is one or a few
aggregate queries whose number does not depend on how many tickets there are.

Definitions (they are also printed on the reports page):

- **In range.** Response metrics count tickets *created* in the range; resolution
  metrics, CSAT, survey response rate and first-contact resolution count tickets
  *resolved* in the range (their latest resolution, ``resolved_at``). A ticket
  filed before the range and resolved inside it therefore counts for resolution
  but not for response. The range is whole days in the desk's time zone.
- **Within target** compares the reply or resolution time with the deadline the
  SLA engine stored on the ticket (``first_response_due_at``,
  ``resolution_due_at``). Those deadlines already skip paused time (waiting on the
  customer, resolved) and the policy's calendar. A stored deadline of null on a
  ticket that was answered means the clock never reached the target before the
  answer: within target. A response share counts only tickets whose outcome is
  known: answered, or unanswered past the deadline.
- **Breaches** are the SLA engine's own ``SlaBreach`` records (tickets with at
  least one breach of that kind), so the reports agree with the alerts sent.
- **Durations** (median, p90, MTTR) are wall-clock seconds from filing to the
  first public agent reply or to the resolution, pauses included.
- **First-contact resolution:** resolved with exactly one public agent reply (the
  first public agent reply is also the latest) and never reopened (no
  ``reopened`` event).
- No data gives null values, never a division by zero.
- **Where they are read.** The scorecard, the pages and the API read these
  figures from the reports' rollup (``rollup``: a fact row per ticket, daily rows
  per day and dimensions, duration histograms), kept current inside every ticket
  change; the tests compute the same figures from the tickets
  (``tests/reports/live_reference.py``) and hold the two equal. Medians and p90s
  stay exact: the histogram says which bucket the wanted rank falls in, and the
  fact rows of that one bucket, read in value order, give the value itself. Only
  what the clock decides is asked of the tickets at read time: unanswered
  tickets past their deadline, the backlog.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta  # noqa: F401  (timedelta: part of this module's surface)
from typing import Any, Literal

from django.db import connection
from django.db.models import Count, DateTimeField, F, QuerySet, Sum, Value
from django.db.models.functions import Coalesce

from tickets.models import Ticket

from . import incident_metrics, queries
from .filters import ReportFilters, desk_zone
from .models import DailyRollup, DurationHistogram, TicketFact
from .queries import (  # noqa: F401  (the building blocks, as they always were importable here)
    BACKLOG_BUCKETS,
    CSAT_TARGET,
    DEFAULT_TARGET_SHARES,
    FCR_TARGET,
    MTTD_TARGET_SECONDS,
    MTTR_TARGET_SECONDS,
    PRIORITIES,
    RESOLUTION_SECONDS,
    RESPONSE_SECONDS,
    SURVEY_RESPONSE_TARGET,
    WORST_OFFENDERS,
    PercentileCont,
    PriorityRow,
    Satisfaction,
    Seconds,
    _round,
    _share,
    deflected_tickets,
    escalations_by_rule_and_reason,
    percentiles,
    target_shares,
    tickets_created_in,
    tickets_filtered,
    tickets_resolved_in,
    week_starts,
)
from .rollup import RESOLUTION, RESPONSE, ROLLUP_SUMS

FRACTIONS = (0.5, 0.9)
Percentiles = dict[str | None, dict[float, float | None]]


# --- reading the rollup -----------------------------------------------------------


def facts_filtered(f: ReportFilters) -> QuerySet[TicketFact]:
    return TicketFact.objects.filter(**f.ticket_lookups()).order_by()


def facts_created_in(f: ReportFilters) -> QuerySet[TicketFact]:
    return facts_filtered(f).filter(created_day__gte=f.start, created_day__lte=f.end)


def facts_resolved_in(f: ReportFilters) -> QuerySet[TicketFact]:
    return facts_filtered(f).filter(resolved_day__gte=f.start, resolved_day__lte=f.end)


@dataclass
class Totals:
    """The daily rows of the range summed per (priority, day), and what the clock adds to them."""

    rows: dict[tuple[str, date], Counter]
    overdue: dict[tuple[str, date], int]  # unanswered and past the response deadline, by day created

    def by(self, key) -> dict[Any, Counter]:
        found: dict[Any, Counter] = defaultdict(Counter)
        for (priority, day), sums in self.rows.items():
            found[key(priority, day)].update(sums)
        for (priority, day), n in self.overdue.items():
            found[key(priority, day)]["overdue"] += n
        return found


def totals(f: ReportFilters, *, now: datetime | None) -> Totals:
    """The daily rows of the range per (priority, day); with ``now``, the overdue unanswered tickets too."""
    rows: Iterable[Mapping[str, Any]] = (  # (the sums' names are built: no TypedDict knows them)
        DailyRollup.objects.filter(day__gte=f.start, day__lte=f.end, **f.ticket_lookups())
        .values("priority", "day")
        .annotate(**{f"s_{s}": Coalesce(Sum(s), 0) for s in ROLLUP_SUMS})
        .order_by()
    )
    overdue = {}
    if now is not None:
        overdue = {
            (r["priority"], r["created_day"]): r["n"]
            for r in facts_created_in(f)
            .filter(response_seconds__isnull=True, first_response_due_at__lte=now)
            .values("priority", "created_day")
            .annotate(n=Count("pk"))
            .order_by()
        }
    return Totals(
        rows={(r["priority"], r["day"]): Counter({s: r[f"s_{s}"] for s in ROLLUP_SUMS}) for r in rows},
        overdue=overdue,
    )


def _seconds(microseconds: int, n: int) -> float | None:
    return None if not n else microseconds / n / 1e6


def sla_by_priority(
    f: ReportFilters,
    *,
    now: datetime,
    sums: Totals | None = None,
    durations: tuple[Percentiles, Percentiles] | None = None,
) -> list[PriorityRow]:
    """Per priority: response (tickets created in range) and resolution (resolved in range)."""
    sums = sums or totals(f, now=now)
    shares = target_shares()
    found = sums.by(lambda priority, day: priority)
    rows = []
    for p in PRIORITIES:
        s = found.get(p, Counter())
        rows.append(
            PriorityRow(
                p,
                tickets=s["created"],
                response_measured=s["answered"] + s["overdue"],
                response_met=s["response_met"],
                response_breaches=s["response_breached"],
                resolved=s["resolved"],
                resolution_met=s["resolution_met"],
                resolution_breaches=s["resolution_breached"],
                response_target_share=shares[p][0],
                resolution_target_share=shares[p][1],
                mean_resolution_seconds=_round(_seconds(s["resolution_microseconds"], s["resolved"])),
            )
        )
    response, resolution = durations or duration_percentiles(f)
    for row in rows:
        ps, pr = response.get(row.priority, {}), resolution.get(row.priority, {})
        row.median_first_response_seconds, row.p90_first_response_seconds = _round(ps.get(0.5)), _round(ps.get(0.9))
        row.median_resolution_seconds, row.p90_resolution_seconds = _round(pr.get(0.5)), _round(pr.get(0.9))
    return rows


def satisfaction(f: ReportFilters, *, sums: Totals | None = None) -> Satisfaction:
    """CSAT, survey response rate, FCR and MTTR P0/P1 over tickets resolved in range."""
    sums = sums or totals(f, now=None)  # the clock plays no part in these
    s = sums.by(lambda priority, day: None).get(None, Counter())
    urgent = sums.by(lambda priority, day: priority in ("P0", "P1")).get(True, Counter())
    scored = sum(score * s[f"score_{score}"] for score in range(1, 6))
    return Satisfaction(
        resolved_tickets=s["resolved"],
        ratings=s["ratings"],
        csat_average=_round(scored / s["ratings"] if s["ratings"] else None, 2),
        first_contact_resolved=s["first_contact"],
        distribution={str(score): s[f"score_{score}"] for score in range(1, 6)},
        mttr_p0_p1_seconds=_round(_seconds(urgent["resolution_microseconds"], urgent["resolved"])),
    )


def weekly_trends(f: ReportFilters, *, now: datetime, sums: Totals | None = None) -> list[dict[str, Any]]:
    """Per week (Monday, desk time): response share by creation; resolution share, CSAT and FCR by resolution."""
    sums = sums or totals(f, now=now)
    weeks = week_starts(f)
    found = sums.by(lambda priority, day: (day - weeks[0]).days // 7)
    rows = []
    for i, monday in enumerate(weeks):
        s = found.get(i, Counter())
        scored = sum(score * s[f"score_{score}"] for score in range(1, 6))
        rows.append(
            {
                "week": monday.isoformat(),
                "tickets": s["created"],
                "responded_within_target": _share(s["response_met"], s["answered"] + s["overdue"]),
                "resolved": s["resolved"],
                "resolved_within_target": _share(s["resolution_met"], s["resolved"]),
                "csat_average": _round(scored / s["ratings"] if s["ratings"] else None, 2),
                "survey_response_rate": _share(s["ratings"], s["resolved"]),
                "first_contact_resolution_rate": _share(s["first_contact"], s["resolved"]),
            }
        )
    return rows


def backlog_by_age(f: ReportFilters, *, now: datetime) -> list[dict[str, Any]]:
    """Active tickets now (date range ignored; the other filters apply), by priority and age."""
    return queries.backlog_of(facts_filtered(f).filter(active=True), now=now)


# --- exact percentiles from the histogram -------------------------------------------


def duration_percentiles(f: ReportFilters) -> tuple[Percentiles, Percentiles]:
    """Median and p90 of first response and resolution, per priority and overall (key None). Exact.

    The histogram counts, per bucket, the durations of the range (one small query);
    from those counts each wanted rank is a bucket and an offset in it, and one query
    reads the fact rows from that bucket on, in value order (an index walk, no sort):
    rows k and k+1 of the range, interpolated like percentile_cont. Buckets never
    decide a value, only where to start reading, so nothing is approximated.

    The histogram keeps only day and priority: with a tier, category, channel or agent
    filter, the percentiles come straight from the matching fact rows instead.
    """
    clocks = (
        (RESPONSE, "response_seconds", "response_bucket", "created_day"),
        (RESOLUTION, "resolution_seconds", "resolution_bucket", "resolved_day"),
    )
    if any(getattr(f, name) is not None for name in ("tier", "category", "channel", "agent")):
        exact = []
        for _, value, _, day in clocks:
            facts = facts_filtered(f).filter(**{f"{day}__gte": f.start, f"{day}__lte": f.end})
            by_priority = percentiles(facts, F(value), by="priority", fractions=FRACTIONS)
            exact.append({**by_priority, **percentiles(facts, F(value), by=None, fractions=FRACTIONS)})
        return exact[0], exact[1]
    counts: dict[str, dict[str | None, Counter]] = {RESPONSE: defaultdict(Counter), RESOLUTION: defaultdict(Counter)}
    histogram = DurationHistogram.objects.filter(day__gte=f.start, day__lte=f.end)
    if f.priority:
        histogram = histogram.filter(priority=f.priority)
    for r in histogram.values("clock", "priority", "bucket").annotate(n=Sum("n")).order_by():
        if r["n"]:
            counts[r["clock"]][r["priority"]][r["bucket"]] += r["n"]
            counts[r["clock"]][None][r["bucket"]] += r["n"]
    wanted: list[tuple[str, str | None, int, int]] = []  # (clock, group, bucket, offset): read 2 rows from there
    plans: dict[tuple[str, str | None], tuple[int, dict[float, tuple[int, int]]]] = {}
    for clock, groups in counts.items():
        for group, buckets in groups.items():
            n = sum(buckets.values())
            at: dict[float, tuple[int, int]] = {}
            for p in FRACTIONS:
                low = int(p * (n - 1))
                at[p] = (low, len(wanted))
                wanted.append((clock, group, *_bucket_of(buckets, low)))
            plans[(clock, group)] = (n, at)
    values = _read_ranks(f, wanted, {c[0]: c[1:] for c in clocks})
    results: dict[str, Percentiles] = {RESPONSE: {}, RESOLUTION: {}}
    for (clock, group), (n, at) in plans.items():
        results[clock][group] = {}
        for p, (low, i) in at.items():
            got = values[i]
            if not got:  # the facts changed between the two reads: nothing rather than a wrong value
                results[clock][group][p] = None
                continue
            below = got[0]
            above = got[1] if len(got) > 1 and low + 1 < n else below
            results[clock][group][p] = below + (above - below) * (p * (n - 1) - low)
    return results[RESPONSE], results[RESOLUTION]


def _bucket_of(buckets: Counter, rank: int) -> tuple[int, int]:
    """The bucket holding the 0-based ``rank`` among the counted values, and the rank's offset in it."""
    before = 0
    for bucket in sorted(buckets):
        if rank < before + buckets[bucket]:
            return bucket, rank - before
        before += buckets[bucket]
    raise ValueError("rank beyond the counted values")


RANK_INDEX = {RESPONSE: "fact_response_rank_idx", RESOLUTION: "fact_resolution_rank_idx"}
LATE_INDEX = {"response_late_seconds": "fact_response_late_idx", "resolution_late_seconds": "fact_resolution_late_idx"}


def _walking(rows: QuerySet, index: str) -> tuple[str, tuple]:
    """The query's SQL, walking ``index`` (on SQLite said outright: its planner prefers the day range and a sort)."""
    sql, params = rows.query.sql_with_params()
    if connection.vendor == "sqlite":
        table = connection.ops.quote_name(rows.model._meta.db_table)
        sql = sql.replace(f"FROM {table}", f"FROM {table} INDEXED BY {connection.ops.quote_name(index)}", 1)
    return sql, params


def _fetch(rows: QuerySet, index: str) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(*_walking(rows, index))
        return cursor.fetchall()


def _read_ranks(
    f: ReportFilters, wanted: list[tuple[str, str | None, int, int]], columns: dict[str, tuple[str, str, str]]
) -> list[list[float]]:
    """For each (clock, group, bucket, offset): the two values from that offset on; one UNION ALL query."""
    if not wanted:
        return []
    parts: list[str] = []
    params: list[Any] = []
    for i, (clock, group, bucket, offset) in enumerate(wanted):
        value, bucket_column, day = columns[clock]
        rows = TicketFact.objects.filter(
            **{f"{bucket_column}__gte": bucket, f"{day}__gte": f.start, f"{day}__lte": f.end}
        )
        if group is not None:
            rows = rows.filter(priority=group)
        elif f.priority:
            rows = rows.filter(priority=f.priority)
        sql, p = _walking(
            rows.order_by(bucket_column, value).values_list(value)[offset : offset + 2], RANK_INDEX[clock]
        )
        parts.append(f"SELECT {i} AS i, r{i}.* FROM ({sql}) r{i}")
        params.extend(p)
    found: list[list[float]] = [[] for _ in wanted]
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(parts), params)
        for i, v in cursor.fetchall():
            found[i].append(float(v))
    for row in found:
        row.sort()
    return found


def overall_durations(f: ReportFilters) -> dict[str, float | None]:
    """Median and p90 response and resolution times over every priority."""
    response, resolution = duration_percentiles(f)
    return _overall(response, resolution)


def _overall(response: Percentiles, resolution: Percentiles) -> dict[str, float | None]:
    response_all, resolution_all = response.get(None, {}), resolution.get(None, {})
    return {
        "median_first_response_seconds": _round(response_all.get(0.5)),
        "p90_first_response_seconds": _round(response_all.get(0.9)),
        "median_resolution_seconds": _round(resolution_all.get(0.5)),
        "p90_resolution_seconds": _round(resolution_all.get(0.9)),
    }


# --- worst offenders ----------------------------------------------------------------

_Due = Literal["first_response_due_at", "resolution_due_at"]
_Done = Literal["first_responded_at", "resolved_at"]
DEADLINES: dict[str, tuple[_Due, _Done]] = {
    "response": ("first_response_due_at", "first_responded_at"),
    "resolution": ("resolution_due_at", "resolved_at"),
}


def worst_offenders(f: ReportFilters, *, now: datetime, limit: int = WORST_OFFENDERS) -> list[dict[str, Any]]:
    """The tickets created in range that missed their deadlines by the most: responses and resolutions.

    Finished late: the facts' stored lateness, walked latest first. Still running past the
    deadline: the facts' stored deadlines, earliest first, against ``now``. Then one query
    for the winners' details.
    """
    candidates: list[tuple[float, int, str]] = []
    clocks = (
        ("response", "response_late_seconds", "response_seconds", "first_response_due_at"),
        ("resolution", "resolution_late_seconds", "resolved_at", "resolution_due_at"),
    )
    for kind, late, done, due in clocks:
        finished = _fetch(
            facts_created_in(f)
            .filter(**{f"{late}__isnull": False})
            .order_by(F(late).desc(), "ticket_id")
            .values_list(late, "ticket_id")[:limit],
            LATE_INDEX[late],
        )
        running = (
            facts_created_in(f)
            .filter(**{f"{done}__isnull": True, f"{due}__lte": now})
            .order_by(due, "ticket_id")  # the latest first: the earliest deadline
            .annotate(late=queries.Seconds(F(due), Value(now, output_field=DateTimeField())))
            .values_list("late", "ticket_id")[:limit]
        )
        found = sorted([*finished, *running], key=lambda r: (-r[0], r[1]))[:limit]
        candidates += [(seconds, pk, kind) for seconds, pk in found]
    if not candidates:
        return []
    details = {
        r["pk"]: r
        for r in Ticket.objects.filter(pk__in={pk for _, pk, _ in candidates}).values(
            "pk",
            "reference",
            "subject",
            "priority",
            "tier",
            "status",
            "assignee__username",
            "first_response_due_at",
            "first_responded_at",
            "resolution_due_at",
            "resolved_at",
        )
    }
    rows: list[dict[str, Any]] = []
    for seconds, pk, kind in candidates:
        r = details[pk]
        due, done = DEADLINES[kind]
        rows.append(
            {
                "kind": kind,
                "reference": r["reference"],
                "subject": r["subject"],
                "priority": r["priority"],
                "tier": r["tier"],
                "status": r["status"],
                "assignee": r["assignee__username"],
                "due_at": r[due],
                "done_at": r[done],
                "late_seconds": _round(seconds),
                "ticket_id": pk,
            }
        )
    rows.sort(key=lambda r: (-(r["late_seconds"] or 0), r["reference"] or ""))
    return rows[:limit]


# --- the scorecard ---------------------------------------------------------------------


@dataclass
class Metric:
    key: str
    label: str
    value: float | int | None
    unit: str  # "share" | "score" | "seconds" | "count"
    target: float | None = None
    comparison: str = ""  # ">=", ">" or "<" against the target; "" for information only
    available: bool = True
    note: str = ""
    drilldown: dict[str, str] = field(default_factory=dict)

    @property
    def met(self) -> bool | None:
        if self.value is None or self.target is None or not self.comparison:
            return None
        if self.comparison == ">=":
            return self.value >= self.target
        if self.comparison == ">":
            return self.value > self.target
        return self.value < self.target


@dataclass
class Scorecard:
    filters: ReportFilters
    metrics: list[Metric]
    priorities: list[PriorityRow]
    satisfaction: Satisfaction
    durations: dict[str, float | None]
    backlog: list[dict[str, Any]]
    escalations: list[dict[str, Any]]
    offenders: list[dict[str, Any]]
    trends: list[dict[str, Any]]
    incidents: incident_metrics.IncidentFigures | None = None
    uptime: list[incident_metrics.ComponentUptime] = field(default_factory=list)


def _range_lookups(f: ReportFilters, column: str) -> dict[str, str]:
    return {f"{column}__gte": f.start_at.isoformat(), f"{column}__lt": f.end_before.isoformat()}


def scorecard(f: ReportFilters, *, now: datetime, tables: bool = True) -> Scorecard:
    """Every metric against its target, and (``tables``) the worst offenders and weekly trends.

    Read from the rollup in a fixed number of queries, whatever the number of tickets.
    """
    sums = totals(f, now=now)
    percentiles_found = duration_percentiles(f)
    priorities = sla_by_priority(f, now=now, sums=sums, durations=percentiles_found)
    sat = satisfaction(f, sums=sums)
    durations = _overall(*percentiles_found)
    backlog = backlog_by_age(f, now=now)
    escalations = escalations_by_rule_and_reason(f)
    deflected = deflected_tickets(f, now=now)
    incidents = incident_metrics.incident_figures(f, now=now)
    uptime = incident_metrics.component_uptime(last=min(f.end, now.astimezone(desk_zone()).date()))
    metrics: list[Metric] = []
    for row in priorities:
        metrics.append(
            Metric(
                f"response_within_target_{row.priority}",
                f"{row.priority} first response within target",
                row.responded_within_target,
                "share",
                row.response_target_share,
                ">=",
                drilldown={"priority__exact": row.priority, **_range_lookups(f, "created_at")},
            )
        )
    for row in priorities:
        metrics.append(
            Metric(
                f"resolution_within_target_{row.priority}",
                f"{row.priority} resolution within target",
                row.resolved_within_target,
                "share",
                row.resolution_target_share,
                ">=",
                drilldown={"priority__exact": row.priority, **_range_lookups(f, "resolved_at")},
            )
        )
    resolved_range = _range_lookups(f, "resolved_at")
    metrics += [
        Metric(
            "csat_average",
            "CSAT average (1 to 5)",
            sat.csat_average,
            "score",
            CSAT_TARGET,
            ">",
            drilldown=resolved_range,
        ),
        Metric(
            "survey_response_rate",
            "Survey response rate",
            sat.survey_response_rate,
            "share",
            SURVEY_RESPONSE_TARGET,
            ">",
            drilldown=resolved_range,
        ),
        Metric(
            "first_contact_resolution_rate",
            "First-contact resolution",
            sat.first_contact_resolution_rate,
            "share",
            FCR_TARGET,
            ">",
            drilldown=resolved_range,
        ),
        Metric(
            "mttr_p0_p1_seconds",
            "MTTR for P0/P1 (wall clock)",
            sat.mttr_p0_p1_seconds,
            "seconds",
            MTTR_TARGET_SECONDS,
            "<",
            drilldown={"priority__in": "P0,P1", **resolved_range},
        ),
        *_incident_metrics(incidents),
        *_uptime_metrics(uptime),
        Metric(
            "median_first_response_seconds",
            "Median first response",
            durations["median_first_response_seconds"],
            "seconds",
        ),
        Metric("p90_first_response_seconds", "p90 first response", durations["p90_first_response_seconds"], "seconds"),
        Metric("median_resolution_seconds", "Median resolution", durations["median_resolution_seconds"], "seconds"),
        Metric("p90_resolution_seconds", "p90 resolution", durations["p90_resolution_seconds"], "seconds"),
        Metric("backlog_open_tickets", "Open backlog (now)", sum(r["total"] for r in backlog), "count"),
        Metric("escalations", "Escalations", sum(r["escalations"] for r in escalations), "count"),
        Metric(
            "deflected_tickets",
            "Tickets deflected by the knowledge base",
            deflected,
            "count",
            available=deflected is not None,
            note="" if deflected is not None else "Not available: no knowledge base reports deflections.",
        ),
    ]
    return Scorecard(
        filters=f,
        metrics=metrics,
        priorities=priorities,
        satisfaction=sat,
        durations=durations,
        backlog=backlog,
        escalations=escalations,
        offenders=worst_offenders(f, now=now) if tables else [],
        trends=weekly_trends(f, now=now, sums=sums) if tables else [],
        incidents=incidents,
        uptime=uptime,
    )


def _uptime_metrics(rows: list[incident_metrics.ComponentUptime]) -> list[Metric]:
    """Uptime per component over 30 and 90 days, from the uptime checks, against > 99.9 %."""
    target = incident_metrics.uptime_target_share()
    metrics = []
    for row in rows:
        share = row.share
        if share is None:
            note = "Not available: no uptime check of this component in these days."
        else:
            passed = row.checks - row.failures
            note = f"{passed:,} of {row.checks:,} checks passed ({math.floor(share * 10_000) / 100:.2f} %)."
        metrics.append(
            Metric(
                f"uptime_{row.days}d_{row.slug}",
                f"Uptime, {row.name}, last {row.days} days (uptime checks)",
                share,
                "share",
                target,
                ">",
                available=share is not None,
                note=note,
            )
        )
    return metrics


def _incident_metrics(figures: incident_metrics.IncidentFigures) -> list[Metric]:
    """Incidents declared by severity, MTTD, incident MTTR for P0/P1, update cadence, review items on time."""
    return [
        Metric(
            "mttd_seconds",
            "MTTD, mean time to detect (incidents: detected - started)",
            figures.mttd_mean_seconds,
            "seconds",
            MTTD_TARGET_SECONDS,
            "<",
            note=f"{figures.declared} incident{'s' if figures.declared != 1 else ''} declared in the range.",
        ),
        Metric("mttd_median_seconds", "MTTD, median", figures.mttd_median_seconds, "seconds"),
        Metric(
            "incident_mttr_p0_p1_seconds",
            "Incident MTTR for P0/P1 (resolved - started)",
            figures.mttr_p0_p1_seconds,
            "seconds",
            MTTR_TARGET_SECONDS,
            "<",
            note=f"{figures.resolved_p0_p1} P0/P1 incident{'s' if figures.resolved_p0_p1 != 1 else ''} resolved.",
        ),
        *[
            Metric(f"incidents_{severity}", f"{severity} incidents declared", n, "count")
            for severity, n in figures.by_severity.items()
        ],
        Metric(
            "incident_update_cadence_kept",
            "Incident updates on cadence (the SLA policies' update interval)",
            figures.update_cadence_kept,
            "share",
            note=f"{figures.updates_kept} of {figures.updates} updates on time (missed ones included).",
        ),
        Metric(
            "review_items_on_time",
            "Post-incident review items done on time",
            figures.review_items_on_time_share,
            "share",
            note=f"{figures.review_items_on_time} of {figures.review_items_due} items due in the range.",
        ),
    ]
