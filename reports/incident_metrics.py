"""The scorecard's incident figures, aggregated in the database (incidents are few; four queries).

Definitions (also printed on the reports page):

- **Incidents by severity** count the incidents *declared* in the range.
- **MTTD** (mean time to detect) is ``detected - started`` over the incidents declared in
  the range, mean and median, against the procedures' target of under 5 minutes.
- **Incident MTTR for P0/P1** is ``resolved - started`` (wall clock) over the P0/P1
  incidents *resolved* in the range, against under 2 hours.
- **Updates on cadence.** For severities whose SLA policy sets an update interval (P0
  every 30 minutes, P1 every 2 hours as seeded; clock time), each public timeline event
  of an incident (its declaration, public updates, its resolution) after the first starts
  the next interval: an event posted in the range is *kept* when it came no later than
  the interval after the public event before it. An incident still open whose next
  update fell due in the range and before now without one is a *missed* update. The
  share is kept / (updates posted in the range + missed). Incidents not shown on the
  status page post no public updates and are not counted.
- **Review items on time:** of the post-incident review action items due in the range
  (and already due now), the share done no later than their due time.
- **Uptime per component** (30 and 90 days ending on the range's last day, or today if sooner) is the
  share of the component's uptime checks that passed, as the monitors counted them per desk day
  (``incidents.CheckedUptime``, handed in by ``support.usecases.status_uptime_refresh``: reports never
  imports monitors), against the procedures' target of more than 99.9 %. A component without checks in
  the window reads "not available"; the status page falls back to its incidents there.
- The priority filter selects the incidents of that severity; the tier, category,
  channel and agent filters are about tickets and do not apply to incidents.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import (
    Avg,
    Case,
    Count,
    DurationField,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)

from escalation.selectors import policy_book
from incidents.models import Component, Incident, IncidentEvent, ReviewItem
from tickets.models import Ticket

from .filters import ReportFilters
from .queries import Seconds, _round, _share, percentiles

SEVERITIES = [p.value for p in Ticket.Priority]
URGENT = ("P0", "P1")
DETECT_SECONDS = Seconds(F("started_at"), F("detected_at"))
RECOVER_SECONDS = Seconds(F("started_at"), F("resolved_at"))


@dataclass
class IncidentFigures:
    by_severity: dict[str, int]
    mttd_mean_seconds: float | None
    mttd_median_seconds: float | None
    mttr_p0_p1_seconds: float | None
    resolved_p0_p1: int
    updates: int  # public updates posted in range after an earlier one, plus updates missed
    updates_kept: int
    review_items_due: int
    review_items_on_time: int

    @property
    def declared(self) -> int:
        return sum(self.by_severity.values())

    @property
    def update_cadence_kept(self) -> float | None:
        return _share(self.updates_kept, self.updates)

    @property
    def review_items_on_time_share(self) -> float | None:
        return _share(self.review_items_on_time, self.review_items_due)


def update_intervals() -> dict[str, timedelta]:
    """The severities with an update cadence, and its interval (clock time), from the SLA policies."""
    found = {}
    for severity, entry in policy_book().policies.items():
        interval = entry.policy.update
        if isinstance(interval, timedelta) and interval:
            found[severity] = interval
    return found


def _incidents(f: ReportFilters) -> QuerySet[Incident]:
    incidents = Incident.objects.order_by()
    return incidents.filter(severity=f.priority) if f.priority else incidents


def incident_figures(f: ReportFilters, *, now: datetime) -> IncidentFigures:
    start, end = f.start_at, f.end_before
    intervals = update_intervals()
    declared = Q(declared_at__gte=start, declared_at__lt=end)
    resolved_urgent = Q(resolved_at__gte=start, resolved_at__lt=end, severity__in=URGENT)
    missed = Q(
        public=True,
        status__in=Incident.OPEN_STATUSES,
        severity__in=list(intervals),
        next_update_due_at__gte=start,
        next_update_due_at__lt=min(end, now),
    )
    row = (
        _incidents(f)
        .filter(declared | resolved_urgent | missed)
        .aggregate(
            **{f"n_{s}": Count("pk", filter=declared & Q(severity=s)) for s in SEVERITIES},
            mttd=Avg(DETECT_SECONDS, filter=declared),
            mttr=Avg(RECOVER_SECONDS, filter=resolved_urgent),
            resolved_urgent=Count("pk", filter=resolved_urgent),
            missed=Count("pk", filter=missed),
        )
    )
    median = percentiles(_incidents(f).filter(declared), DETECT_SECONDS, by=None, fractions=(0.5,))
    posted, kept = _cadence(f, intervals)
    items = ReviewItem.objects.filter(due_at__gte=start, due_at__lt=min(end, now))
    if f.priority:
        items = items.filter(review__incident__severity=f.priority)
    reviews = items.aggregate(due=Count("pk"), on_time=Count("pk", filter=Q(done_at__lte=F("due_at"))))
    return IncidentFigures(
        by_severity={s: row[f"n_{s}"] for s in SEVERITIES},
        mttd_mean_seconds=_round(row["mttd"]),
        mttd_median_seconds=_round(median.get(None, {}).get(0.5)),
        mttr_p0_p1_seconds=_round(row["mttr"]),
        resolved_p0_p1=row["resolved_urgent"],
        updates=posted + row["missed"],
        updates_kept=kept,
        review_items_due=reviews["due"],
        review_items_on_time=reviews["on_time"],
    )


def _cadence(f: ReportFilters, intervals: dict[str, timedelta]) -> tuple[int, int]:
    """Public updates posted in range that followed another (how many, how many on time): one query.

    The public event before each is a correlated subquery walking incident_public_event_idx.
    """
    if not intervals:
        return 0, 0
    severities = [s for s in intervals if not f.priority or s == f.priority]
    if not severities:
        return 0, 0
    public = IncidentEvent.objects.filter(public=True)
    before = (
        public.filter(incident=OuterRef("incident"))
        .filter(Q(at__lt=OuterRef("at")) | Q(at=OuterRef("at"), pk__lt=OuterRef("pk")))
        .order_by("-at", "-pk")
        .values("at")[:1]
    )
    allowed = Case(
        *[When(incident__severity=s, then=Value(intervals[s])) for s in severities],
        output_field=DurationField(),
    )
    row = (
        public.filter(at__gte=f.start_at, at__lt=f.end_before, incident__severity__in=severities)
        .annotate(previous_at=Subquery(before), allowed=allowed)
        .filter(previous_at__isnull=False)
        .aggregate(posted=Count("pk"), kept=Count("pk", filter=Q(at__lte=F("previous_at") + F("allowed"))))
    )
    return row["posted"], row["kept"]


# --- uptime per component, from the checks ---------------------------------------------------------

UPTIME_WINDOWS = (30, 90)


@dataclass
class ComponentUptime:
    slug: str
    name: str
    days: int
    checks: int
    failures: int

    @property
    def share(self) -> float | None:
        """Passed checks over all checks (0..1); None without checks."""
        return (self.checks - self.failures) / self.checks if self.checks else None


def uptime_target_share() -> float:
    return settings.MONITOR_UPTIME_TARGET_PCT / 100


def component_uptime(*, last: date) -> list[ComponentUptime]:
    """Each component's checks over the 30 and 90 desk days ending ``last``, in the status page's order
    (one query, however many days and components)."""
    sums = {}
    for n in UPTIME_WINDOWS:
        within = Q(checked_uptime__date__gt=last - timedelta(days=n), checked_uptime__date__lte=last)
        sums[f"checks_{n}"] = Sum("checked_uptime__checks", filter=within, default=0)
        sums[f"failures_{n}"] = Sum("checked_uptime__failures", filter=within, default=0)
    rows: Any = Component.objects.order_by("position", "name").values("slug", "name").annotate(**sums)
    return [
        ComponentUptime(row["slug"], row["name"], n, row[f"checks_{n}"], row[f"failures_{n}"])
        for row in rows
        for n in UPTIME_WINDOWS
    ]
