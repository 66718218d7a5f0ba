"""The reports' building blocks over the ticket rows: targets, durations, percentiles, filters.

``metrics`` reads the scorecard from the reports' rollup (``rollup``); what it
still asks of the tickets themselves — percentiles, escalations, deflections,
the backlog's buckets — is defined here. The same scorecard computed straight
from the tickets, the reference the rollup must equal, lives with the tests
(``tests/reports/live_reference.py``): nothing in the desk reads it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.apps import apps
from django.db import connection
from django.db.models import (
    Aggregate,
    Count,
    F,
    FloatField,
    Func,
    IntegerField,
    Model,
    Q,
    QuerySet,
    Value,
    Window,
)
from django.db.models.functions import Cast, RowNumber

from escalation.models import Escalation
from escalation.selectors import policy_book
from tickets.models import Ticket

from .filters import ReportFilters

PRIORITIES = [p.value for p in Ticket.Priority]
# The procedures document's shares, used when a priority has no SLA policy row.
DEFAULT_TARGET_SHARES = {"P0": (1.0, 0.9), "P1": (0.95, 0.85), "P2": (0.9, 0.8), "P3": (0.85, 0.75)}
CSAT_TARGET = 4.5
SURVEY_RESPONSE_TARGET = 0.8
FCR_TARGET = 0.7
MTTR_TARGET_SECONDS = 2 * 3600
MTTD_TARGET_SECONDS = 5 * 60
WORST_OFFENDERS = 10
BACKLOG_BUCKETS = [
    ("under_1_day", "Under 1 day", timedelta(0), timedelta(days=1)),
    ("1_to_3_days", "1 to 3 days", timedelta(days=1), timedelta(days=3)),
    ("3_to_7_days", "3 to 7 days", timedelta(days=3), timedelta(days=7)),
    ("7_to_30_days", "7 to 30 days", timedelta(days=7), timedelta(days=30)),
    ("over_30_days", "Over 30 days", timedelta(days=30), None),
]


# --- SQL building blocks -------------------------------------------------------------


class Seconds(Func):
    """Seconds from ``start`` to ``end`` (two datetime expressions), computed by the database."""

    output_field = FloatField()
    arity = 2

    def __init__(self, start: Any, end: Any) -> None:
        super().__init__(start, end)

    def as_sql(self, compiler, connection, function=None, template=None, arg_joiner=None, **extra_context):
        start, end = (compiler.compile(e) for e in self.get_source_expressions())
        return f"EXTRACT(EPOCH FROM ({end[0]} - {start[0]}))", [*end[1], *start[1]]

    def as_postgresql(self, compiler, connection, **extra_context):
        start, end = (compiler.compile(e) for e in self.get_source_expressions())
        # date_part gives double precision; EXTRACT gives numeric, about twice as slow to sort and average.
        return f"date_part('epoch', {end[0]} - {start[0]})", [*end[1], *start[1]]

    def as_sqlite(self, compiler, connection, **extra_context):
        start, end = (compiler.compile(e) for e in self.get_source_expressions())
        # Django stores UTC text ("YYYY-MM-DD HH:MM:SS.ffffff"); julianday counts days with fractions.
        return (
            f"ROUND((julianday({end[0]}) - julianday({start[0]})) * 86400.0, 3)",
            [*end[1], *start[1]],
        )


class PercentileCont(Aggregate):
    """PostgreSQL's ordered-set aggregate: percentile_cont(p) WITHIN GROUP (ORDER BY value)."""

    function = "percentile_cont"
    name = "PercentileCont"
    output_field = FloatField()
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"

    def __init__(self, expression: Any, fraction: float, **extra: Any) -> None:
        super().__init__(expression, fraction=f"{float(fraction):.4f}", **extra)


RESPONSE_SECONDS = Seconds(F("created_at"), F("first_responded_at"))
RESOLUTION_SECONDS = Seconds(F("created_at"), F("resolved_at"))
RESPONDED_IN_TARGET = Q(first_responded_at__isnull=False) & (
    Q(first_response_due_at__isnull=True) | Q(first_responded_at__lte=F("first_response_due_at"))
)
RESOLVED_IN_TARGET = Q(resolved_at__isnull=False) & (
    Q(resolution_due_at__isnull=True) | Q(resolved_at__lte=F("resolution_due_at"))
)


def _share(part: int | None, whole: int | None) -> float | None:
    return None if not whole else round((part or 0) / whole, 4)


def _round(value: float | Decimal | None, places: int = 1) -> float | None:
    return None if value is None else round(float(value), places)


# --- the ticket sets -------------------------------------------------------------------


def tickets_filtered(f: ReportFilters) -> QuerySet[Ticket]:
    return Ticket.objects.filter(**f.ticket_lookups()).order_by()


def tickets_created_in(f: ReportFilters) -> QuerySet[Ticket]:
    return tickets_filtered(f).filter(created_at__gte=f.start_at, created_at__lt=f.end_before)


def tickets_resolved_in(f: ReportFilters) -> QuerySet[Ticket]:
    return tickets_filtered(f).filter(resolved_at__gte=f.start_at, resolved_at__lt=f.end_before)


# --- percentiles -----------------------------------------------------------------------


def percentiles(
    tickets: QuerySet[Model], value: Any, *, by: str | None, fractions: tuple[float, ...] = (0.5, 0.9)
) -> dict[str | None, dict[float, float | None]]:
    """Continuous percentiles of ``value`` per ``by`` group (or overall, key None); nulls are skipped.

    PostgreSQL: percentile_cont in one grouped query. Elsewhere (SQLite): one query
    ranks the values with window functions and returns only the one or two rows
    each percentile sits between; the interpolation is done on those rows.
    """
    tickets = tickets.annotate(v=value).filter(v__isnull=False)
    if connection.vendor != "postgresql":
        return _percentiles_by_rank(tickets, by=by, fractions=fractions)
    aggregates = {f"p{i}": PercentileCont(F("v"), p) for i, p in enumerate(fractions)}
    if by:
        rows = [(row[by], row) for row in tickets.values(by).annotate(**aggregates)]
    else:
        row = tickets.aggregate(n=Count("pk"), **aggregates)
        rows = [(None, row)] if row["n"] else []
    return {key: {p: row[f"p{i}"] for i, p in enumerate(fractions)} for key, row in rows}


def _percentiles_by_rank(
    tickets: QuerySet[Model], *, by: str | None, fractions: tuple[float, ...]
) -> dict[str | None, dict[float, float | None]]:
    partition = [F(by)] if by else None
    ranked = tickets.annotate(
        group=F(by) if by else Value(""),
        rn=Window(RowNumber(), partition_by=partition, order_by=[F("v").asc(), F("pk").asc()]),
        n=Window(Count("pk"), partition_by=partition),
    )
    # Row k (1-based) of n holds the value at position (k-1)/(n-1); a fraction p falls
    # between rows floor(p*(n-1))+1 and the row after it.
    wanted = Q()
    for p in fractions:
        low_row = Cast(Value(p) * (F("n") - 1), IntegerField()) + 1
        wanted |= Q(rn__gte=low_row, rn__lte=low_row + 1)
    values: dict[Any, dict[int, float]] = {}
    sizes: dict[Any, int] = {}
    for group, n, rn, v in ranked.filter(wanted).values_list("group", "n", "rn", "v"):  # <= 2 rows per fraction
        key = group if by else None
        values.setdefault(key, {})[rn] = float(v)
        sizes[key] = n
    result: dict[str | None, dict[float, float | None]] = {}
    for key, ranks in values.items():
        n, result[key] = sizes[key], {}
        for p in fractions:
            position = p * (n - 1)
            low = int(position)
            below = ranks[low + 1]
            above = ranks.get(low + 2, below)
            result[key][p] = below + (above - below) * (position - low)
    return result


# --- the tables ------------------------------------------------------------------------


def target_shares() -> dict[str, tuple[float, float]]:
    """Per priority, the share that must meet the response and the resolution target (SLA policies)."""
    shares = dict(DEFAULT_TARGET_SHARES)
    for priority, entry in policy_book().policies.items():
        shares[priority] = (float(entry.policy.response_target_share), float(entry.policy.resolution_target_share))
    return shares


@dataclass
class PriorityRow:
    priority: str
    tickets: int = 0
    response_measured: int = 0
    response_met: int = 0
    response_breaches: int = 0
    resolved: int = 0
    resolution_met: int = 0
    resolution_breaches: int = 0
    response_target_share: float = 0.0
    resolution_target_share: float = 0.0
    median_first_response_seconds: float | None = None
    p90_first_response_seconds: float | None = None
    median_resolution_seconds: float | None = None
    p90_resolution_seconds: float | None = None
    mean_resolution_seconds: float | None = None

    @property
    def responded_within_target(self) -> float | None:
        return _share(self.response_met, self.response_measured)

    @property
    def resolved_within_target(self) -> float | None:
        return _share(self.resolution_met, self.resolved)

    @property
    def response_met_target(self) -> bool | None:
        share = self.responded_within_target
        return None if share is None else share >= self.response_target_share

    @property
    def resolution_met_target(self) -> bool | None:
        share = self.resolved_within_target
        return None if share is None else share >= self.resolution_target_share


@dataclass
class Satisfaction:
    resolved_tickets: int
    ratings: int
    csat_average: float | None
    first_contact_resolved: int
    distribution: dict[str, int]
    mttr_p0_p1_seconds: float | None

    @property
    def survey_response_rate(self) -> float | None:
        return _share(self.ratings, self.resolved_tickets)

    @property
    def first_contact_resolution_rate(self) -> float | None:
        return _share(self.first_contact_resolved, self.resolved_tickets)


def backlog_of(active: QuerySet, *, now: datetime) -> list[dict[str, Any]]:
    """Rows with ``priority`` and ``created_at`` (tickets, or the reports' facts), by priority and age."""
    buckets = {}
    for key, _, low, high in BACKLOG_BUCKETS:
        condition = Q(created_at__lte=now - low)
        if high is not None:
            condition &= Q(created_at__gt=now - high)
        buckets[key] = Count("pk", filter=condition)
    found = {r["priority"]: r for r in active.values("priority").annotate(total=Count("pk"), **buckets)}
    empty = {"total": 0, **dict.fromkeys(buckets, 0)}
    return [{"priority": p, **{k: found.get(p, empty)[k] for k in ("total", *buckets)}} for p in PRIORITIES]


def escalations_by_rule_and_reason(f: ReportFilters) -> list[dict[str, Any]]:
    """Escalations recorded in range, per reason and rule (null for manual ones)."""
    rows = (
        Escalation.objects.filter(at__gte=f.start_at, at__lt=f.end_before, **f.ticket_lookups("ticket__"))
        .values("reason", "rule__name")
        .annotate(escalations=Count("id"), to_management=Count("id", filter=Q(to_management=True)))
        .order_by("reason", "rule__name")
    )
    labels = dict(Escalation.Reason.choices)
    return [
        {
            "reason": r["reason"],
            "reason_label": labels.get(r["reason"], r["reason"]),
            "rule": r["rule__name"],
            "escalations": r["escalations"],
            "to_management": r["to_management"],
        }
        for r in rows
    ]


def week_starts(f: ReportFilters) -> list[date]:
    """The Mondays of every desk-time week the range touches."""
    first = f.start - timedelta(days=f.start.weekday())
    return [first + timedelta(weeks=i) for i in range((f.end - first).days // 7 + 1)]


def deflected_tickets(f: ReportFilters, *, now: datetime) -> int | None:
    """Tickets the knowledge base deflected in range, or None when no knowledge base reports them."""
    if not apps.is_installed("knowledge"):
        return None
    try:
        from knowledge.selectors import deflection_count
    except ImportError:
        return None
    return deflection_count(since=f.start_at, until=f.end_before, now=now)
