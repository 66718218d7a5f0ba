"""The scorecard computed straight from the ticket rows: the reference the reports' rollup must equal.

Every figure the managers' page reads from the rollup (``reports.metrics``) is
defined here again over the live tickets, as aggregate queries, so the tests can
hold the two equal on any desk they build. Nothing in the desk reads this: at
100,000 tickets the 90-day scorecard from the tickets takes about twenty times
as long as from the rollup (the README says when that matters).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from django.db.models import Avg, Case, Count, DateTimeField, F, IntegerField, Q, Value, When
from django.db.models.functions import Coalesce

from escalation.models import SlaBreach
from reports.filters import ReportFilters, desk_zone
from reports.queries import (
    PRIORITIES,
    RESOLUTION_SECONDS,
    RESOLVED_IN_TARGET,
    RESPONDED_IN_TARGET,
    RESPONSE_SECONDS,
    WORST_OFFENDERS,
    PriorityRow,
    Satisfaction,
    Seconds,
    _round,
    _share,
    backlog_of,
    percentiles,
    target_shares,
    tickets_created_in,
    tickets_filtered,
    tickets_resolved_in,
    week_starts,
)
from tickets.models import Ticket, TicketEvent


def _response_known(now: datetime) -> Q:
    return Q(first_responded_at__isnull=False) | Q(first_response_due_at__lte=now)


def _breached(kind: str) -> Q:
    """Tickets with an SlaBreach of ``kind``: an uncorrelated IN, which both databases evaluate once."""
    return Q(pk__in=SlaBreach.objects.filter(kind=kind).values("ticket_id"))


def _first_contact() -> Q:
    """Exactly one public agent reply and never reopened.

    One public agent reply: the first one (first_responded_at) is also the latest
    (last_agent_reply_at); message_add maintains both on every public agent reply.
    Reopened: a ``reopened`` event on the timeline.
    """
    reopened = TicketEvent.objects.filter(kind=TicketEvent.Kind.REOPENED).values("ticket_id")
    return Q(first_responded_at__isnull=False, last_agent_reply_at=F("first_responded_at")) & ~Q(pk__in=reopened)


def sla_by_priority(f: ReportFilters, *, now: datetime) -> list[PriorityRow]:
    """Per priority: response (tickets created in range) and resolution (resolved in range)."""
    shares = target_shares()
    rows: dict[str | None, PriorityRow] = {
        p: PriorityRow(p, response_target_share=shares[p][0], resolution_target_share=shares[p][1]) for p in PRIORITIES
    }
    for r in (
        tickets_created_in(f)
        .values("priority")
        .annotate(
            tickets=Count("id"),
            response_measured=Count("id", filter=_response_known(now)),
            response_met=Count("id", filter=RESPONDED_IN_TARGET),
            response_breaches=Count("id", filter=_breached(SlaBreach.Kind.FIRST_RESPONSE)),
        )
    ):
        row = rows[r["priority"]]
        row.tickets, row.response_measured = r["tickets"], r["response_measured"]
        row.response_met, row.response_breaches = r["response_met"], r["response_breaches"]
    for res in (
        tickets_resolved_in(f)
        .values("priority")
        .annotate(
            resolved=Count("id"),
            resolution_met=Count("id", filter=RESOLVED_IN_TARGET),
            resolution_breaches=Count("id", filter=_breached(SlaBreach.Kind.RESOLUTION)),
            mean_seconds=Avg(RESOLUTION_SECONDS),
        )
    ):
        row = rows[res["priority"]]
        row.resolved, row.resolution_met = res["resolved"], res["resolution_met"]
        row.resolution_breaches, row.mean_resolution_seconds = res["resolution_breaches"], _round(res["mean_seconds"])
    for priority, ps in percentiles(tickets_created_in(f), RESPONSE_SECONDS, by="priority").items():
        rows[priority].median_first_response_seconds = _round(ps[0.5])
        rows[priority].p90_first_response_seconds = _round(ps[0.9])
    for priority, ps in percentiles(tickets_resolved_in(f), RESOLUTION_SECONDS, by="priority").items():
        rows[priority].median_resolution_seconds = _round(ps[0.5])
        rows[priority].p90_resolution_seconds = _round(ps[0.9])
    return [rows[p] for p in PRIORITIES]


def satisfaction(f: ReportFilters) -> Satisfaction:
    """CSAT, survey response rate, FCR and MTTR P0/P1 over tickets resolved in range: one query."""
    scores = {str(s): Count("id", filter=Q(rating__score=s)) for s in range(1, 6)}
    row = tickets_resolved_in(f).aggregate(
        resolved_tickets=Count("id"),
        ratings=Count("rating"),
        csat_average=Avg("rating__score"),
        first_contact_resolved=Count("id", filter=_first_contact()),
        mttr=Avg(RESOLUTION_SECONDS, filter=Q(priority__in=["P0", "P1"])),
        **{f"score_{s}": c for s, c in scores.items()},
    )
    return Satisfaction(
        resolved_tickets=row["resolved_tickets"],
        ratings=row["ratings"],
        csat_average=_round(row["csat_average"], 2),
        first_contact_resolved=row["first_contact_resolved"],
        distribution={s: row[f"score_{s}"] for s in scores},
        mttr_p0_p1_seconds=_round(row["mttr"]),
    )


def overall_durations(f: ReportFilters) -> dict[str, float | None]:
    """Median and p90 response and resolution times over every priority."""
    response = percentiles(tickets_created_in(f), RESPONSE_SECONDS, by=None).get(None, {})
    resolution = percentiles(tickets_resolved_in(f), RESOLUTION_SECONDS, by=None).get(None, {})
    return {
        "median_first_response_seconds": _round(response.get(0.5)),
        "p90_first_response_seconds": _round(response.get(0.9)),
        "median_resolution_seconds": _round(resolution.get(0.5)),
        "p90_resolution_seconds": _round(resolution.get(0.9)),
    }


def backlog_by_age(f: ReportFilters, *, now: datetime) -> list[dict[str, Any]]:
    """Active tickets now (date range ignored; the other filters apply), by priority and age."""
    return backlog_of(tickets_filtered(f).filter(status__in=Ticket.ACTIVE_STATUSES), now=now)


def worst_offenders(f: ReportFilters, *, now: datetime, limit: int = WORST_OFFENDERS) -> list[dict[str, Any]]:
    """The tickets created in range that missed their deadlines by the most: responses and resolutions."""
    found: list[dict[str, Any]] = []
    clocks = (
        ("response", "first_response_due_at", "first_responded_at"),
        ("resolution", "resolution_due_at", "resolved_at"),
    )
    for kind, due, done in clocks:
        late = Seconds(F(due), Coalesce(F(done), Value(now, output_field=DateTimeField())))
        rows = (
            tickets_created_in(f)
            .filter(**{f"{due}__isnull": False})
            .filter(Q(**{f"{done}__gt": F(due)}) | Q(**{f"{done}__isnull": True, f"{due}__lte": now}))
            .annotate(late_seconds=late)
            .order_by("-late_seconds", "pk")
            .values(
                "pk",
                "reference",
                "subject",
                "priority",
                "tier",
                "status",
                "assignee__username",
                due,
                done,
                "late_seconds",
            )[:limit]
        )
        for r in rows:
            found.append(
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
                    "late_seconds": _round(r["late_seconds"]),
                    "ticket_id": r["pk"],
                }
            )
    found.sort(key=lambda r: (-(r["late_seconds"] or 0), r["reference"] or ""))
    return found[:limit]


def _week_of(column: str, weeks: list[date]) -> Case:
    """The index of the desk-time week ``column`` falls in, as plain comparisons with instants.

    Week boundaries are Monday 00:00 in the desk's zone, turned into instants here,
    so DST is handled once in Python and the database only compares timestamps
    (no per-row time-zone conversion).
    """
    zone = desk_zone()
    bounds = [datetime.combine(monday + timedelta(weeks=1), time(0), tzinfo=zone) for monday in weeks]
    return Case(
        *[When(**{f"{column}__lt": bound}, then=Value(i)) for i, bound in enumerate(bounds)],
        default=Value(len(bounds)),
        output_field=IntegerField(),
    )


def weekly_trends(f: ReportFilters, *, now: datetime) -> list[dict[str, Any]]:
    """Per week (Monday, desk time): response share by creation; resolution share, CSAT and FCR by resolution."""
    weeks = week_starts(f)
    found: dict[int, dict[str, Any]] = {}
    for r in (
        tickets_created_in(f)
        .annotate(week=_week_of("created_at", weeks))
        .values("week")
        .annotate(
            tickets=Count("id"),
            measured=Count("id", filter=_response_known(now)),
            met=Count("id", filter=RESPONDED_IN_TARGET),
        )
    ):
        found.setdefault(r["week"], {}).update(
            tickets=r["tickets"], responded_within_target=_share(r["met"], r["measured"])
        )
    for res in (
        tickets_resolved_in(f)
        .annotate(week=_week_of("resolved_at", weeks))
        .values("week")
        .annotate(
            resolved=Count("id"),
            met=Count("id", filter=RESOLVED_IN_TARGET),
            csat=Avg("rating__score"),
            ratings=Count("rating"),
            fcr=Count("id", filter=_first_contact()),
        )
    ):
        found.setdefault(res["week"], {}).update(
            resolved=res["resolved"],
            resolved_within_target=_share(res["met"], res["resolved"]),
            csat_average=_round(res["csat"], 2),
            survey_response_rate=_share(res["ratings"], res["resolved"]),
            first_contact_resolution_rate=_share(res["fcr"], res["resolved"]),
        )
    # Every week of the range, empty ones included, so the charts keep their time axis.
    blank = {
        "tickets": 0,
        "responded_within_target": None,
        "resolved": 0,
        "resolved_within_target": None,
        "csat_average": None,
        "survey_response_rate": None,
        "first_contact_resolution_rate": None,
    }
    return [{"week": monday.isoformat(), **blank, **found.get(i, {})} for i, monday in enumerate(weeks)]


# --- incidents -----------------------------------------------------------------------------------


def incident_figures(f: ReportFilters, *, now: datetime) -> dict[str, Any]:
    """reports.incident_metrics' figures again, walking the incident rows in Python (the definitions
    in that module's docstring, applied one incident and one event at a time)."""
    from itertools import pairwise
    from statistics import median

    from incidents.models import Incident, IncidentEvent, ReviewItem
    from reports.incident_metrics import update_intervals

    start, end = f.start_at, f.end_before
    intervals = update_intervals()
    incidents = [i for i in Incident.objects.all() if not f.priority or i.severity == f.priority]
    declared = [i for i in incidents if start <= i.declared_at < end]
    detect = [(i.detected_at - i.started_at).total_seconds() for i in declared]
    urgent = [
        i
        for i in incidents
        if i.severity in ("P0", "P1") and i.resolved_at is not None and start <= i.resolved_at < end
    ]
    recover = [(i.resolved_at - i.started_at).total_seconds() for i in urgent if i.resolved_at is not None]
    posted = kept = 0
    for incident in incidents:
        if incident.severity not in intervals:
            continue
        events = list(IncidentEvent.objects.filter(incident=incident, public=True).order_by("at", "pk"))
        for before, event in pairwise(events):
            if start <= event.at < end:
                posted += 1
                kept += event.at <= before.at + intervals[incident.severity]
    missed = sum(
        1
        for i in incidents
        if i.public
        and i.is_open
        and i.severity in intervals
        and i.next_update_due_at is not None
        and start <= i.next_update_due_at < min(end, now)
    )
    items = [
        item
        for item in ReviewItem.objects.select_related("review__incident")
        if start <= item.due_at < min(end, now) and (not f.priority or item.review.incident.severity == f.priority)
    ]
    on_time = [item for item in items if item.done_at is not None and item.done_at <= item.due_at]
    return {
        "by_severity": {s: sum(1 for i in declared if i.severity == s) for s in PRIORITIES},
        "mttd_mean_seconds": _round(sum(detect) / len(detect)) if detect else None,
        "mttd_median_seconds": _round(median(detect)) if detect else None,
        "mttr_p0_p1_seconds": _round(sum(recover) / len(recover)) if recover else None,
        "resolved_p0_p1": len(urgent),
        "updates": posted + missed,
        "updates_kept": kept,
        "review_items_due": len(items),
        "review_items_on_time": len(on_time),
    }
