"""Reads for the SLA engine: policies as pure values, a ticket's clock history, due work."""

from __future__ import annotations

import time as _time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import CharField, Count, IntegerField, Q, QuerySet, Value

from tickets.models import Ticket

from . import sla
from .models import BusinessCalendar, Escalation, EscalationRule, SlaBreach, SlaPause, SlaPolicy, TierTarget

BOOK_TTL_SECONDS = 30.0


@dataclass(frozen=True)
class PolicyEntry:
    policy: SlaPolicy
    targets: sla.Targets
    calendar: sla.Calendar


@dataclass(frozen=True)
class PolicyBook:
    """Every policy, calendar, tier target and rule, loaded together as plain values."""

    policies: dict[str, PolicyEntry]
    tier_targets: dict[tuple[int, str], timedelta]
    rules: dict[str, tuple[EscalationRule, ...]] = field(default_factory=dict)

    def entry(self, priority: str) -> PolicyEntry | None:
        return self.policies.get(priority)


def calendar_value(calendar: BusinessCalendar) -> sla.Calendar:
    """The pure calendar of a stored one (hours and holidays must be prefetched)."""
    if calendar.always_open:
        return sla.Calendar(time_zone=calendar.time_zone, always_open=True)
    hours: dict[int, list[tuple]] = {}
    for row in calendar.hours.all():
        hours.setdefault(row.weekday, []).append((row.opens, row.closes))
    return sla.Calendar(
        time_zone=calendar.time_zone,
        always_open=False,
        hours={day: tuple(sorted(spans)) for day, spans in hours.items()},
        holidays=frozenset(h.date for h in calendar.holidays.all()),
    )


def policy_list() -> QuerySet[SlaPolicy]:
    """Every priority's policy with its calendar, P0 first (the API's list)."""
    return SlaPolicy.objects.select_related("calendar").order_by("priority")


def policy_book_load() -> PolicyBook:
    policies = SlaPolicy.objects.select_related("calendar").prefetch_related("calendar__hours", "calendar__holidays")
    calendars: dict[int, sla.Calendar] = {}
    entries = {}
    for policy in policies:
        if policy.calendar_id not in calendars:
            calendars[policy.calendar_id] = calendar_value(policy.calendar)
        entries[policy.priority] = PolicyEntry(
            policy=policy,
            targets=sla.Targets(policy.first_response, policy.resolution, policy.update),
            calendar=calendars[policy.calendar_id],
        )
    tier_targets = {(t.tier, t.priority): timedelta(minutes=t.response_minutes) for t in TierTarget.objects.all()}
    rules: dict[str, list[EscalationRule]] = {}
    for rule in EscalationRule.objects.filter(active=True).order_by("after_minutes", "id"):
        rules.setdefault(rule.priority, []).append(rule)
    return PolicyBook(entries, tier_targets, {k: tuple(v) for k, v in rules.items()})


_cached: tuple[float, PolicyBook] | None = None


def policy_book(*, fresh: bool = False) -> PolicyBook:
    """The policy book, re-read at most every BOOK_TTL_SECONDS unless ``fresh``.

    Saving a policy, calendar or rule calls policy_book_forget() in that process;
    other processes pick the change up within the TTL (the sweep always reads fresh).
    """
    global _cached
    now = _time.monotonic()
    if fresh or _cached is None or now - _cached[0] > BOOK_TTL_SECONDS:
        _cached = (now, policy_book_load())
    return _cached[1]


def policy_book_forget() -> None:
    global _cached
    _cached = None


def pauses_of(ticket: Ticket) -> tuple[sla.Pause, ...]:
    return pauses_by_ticket([ticket.pk]).get(ticket.pk, ())


def pauses_by_ticket(ticket_ids: list[int]) -> dict[int, tuple[sla.Pause, ...]]:
    """pauses_of() for many tickets in one query."""
    found: dict[int, list[sla.Pause]] = {}
    for ticket_id, start, end in (
        SlaPause.objects.filter(ticket_id__in=ticket_ids)
        .order_by("ticket_id", "started_at")
        .values_list("ticket_id", "started_at", "ended_at")
    ):
        found.setdefault(ticket_id, []).append(sla.Pause(start, end))
    return {ticket_id: tuple(pauses) for ticket_id, pauses in found.items()}


def history_of(ticket: Ticket, book: PolicyBook, pauses: tuple[sla.Pause, ...] | None = None) -> sla.History:
    return sla.History(
        created_at=ticket.created_at,
        first_responded_at=ticket.first_responded_at,
        resolved_at=ticket.resolved_at,
        last_agent_reply_at=ticket.last_agent_reply_at,
        tier_entered_at=ticket.tier_entered_at or ticket.created_at,
        # A tier's own response clock starts when a ticket moves into it; in the tier it
        # was filed in, the priority's first-response target already covers the same time.
        tier_target=book.tier_targets.get((ticket.tier, ticket.priority))
        if ticket.tier_entered_at and ticket.tier_entered_at > ticket.created_at
        else None,
        pauses=pauses_of(ticket) if pauses is None else pauses,
    )


def due_ticket_ids(*, now: datetime, limit: int) -> list[int]:
    """Tickets with SLA work due, oldest first, read through ticket_sla_due_idx."""
    return list(
        Ticket.objects.filter(sla_next_check_at__lte=now)
        .order_by("sla_next_check_at")
        .values_list("pk", flat=True)[:limit]
    )


def due_ticket_count(*, now: datetime) -> int:
    """How many tickets have SLA work due (what the next sweep will take), counted in ticket_sla_due_idx."""
    return Ticket.objects.filter(sla_next_check_at__lte=now).count()


def breach_counts_since(*, since: datetime, recent_since: datetime) -> list[tuple[str, str, int, int]]:
    """SLA breaches recorded since ``since``, and since ``recent_since`` (later), per kind and priority:
    ``(kind, priority, count since since, count since recent_since)``; one range read of breach_at_idx."""
    rows = (
        SlaBreach.objects.filter(breached_at__gte=since)
        .values("kind", "priority")
        .annotate(total=Count("id"), recent=Count("id", filter=Q(breached_at__gte=recent_since)))
        .order_by("kind", "priority")
    )
    return [(row["kind"], row["priority"], row["total"], row["recent"]) for row in rows]


def escalation_list_for(ticket: Ticket) -> QuerySet[Escalation]:
    return Escalation.objects.filter(ticket=ticket).select_related("rule", "actor", "reviewed_by").order_by("at", "id")


def breach_list_for(ticket: Ticket) -> QuerySet[SlaBreach]:
    return SlaBreach.objects.filter(ticket=ticket).order_by("breached_at", "id")


def pause_list_for(ticket: Ticket) -> QuerySet[SlaPause]:
    return SlaPause.objects.filter(ticket=ticket).order_by("started_at", "id")


@dataclass(frozen=True)
class SlaRecord:
    pauses: list[SlaPause]  # as pause_list_for
    breaches: list[SlaBreach]  # as breach_list_for


def sla_record_for(ticket: Ticket) -> SlaRecord:
    """The ticket's pause segments and breaches, read together in one query (a UNION ALL of both tables).

    The ticket page explains every deadline with both; they are short lists of a few columns each.
    """
    pauses = SlaPause.objects.filter(ticket=ticket).values_list(
        Value("pause", output_field=CharField()),
        "id",
        "started_at",
        "ended_at",
        "reason",
        Value(None, output_field=IntegerField()),
        Value("", output_field=CharField()),
    )
    breaches = SlaBreach.objects.filter(ticket=ticket).values_list(
        Value("breach", output_field=CharField()),
        "id",
        "breached_at",
        "due_at",
        "kind",
        "tier",
        "priority",
    )
    record = SlaRecord(pauses=[], breaches=[])
    for row_kind, pk, at, other_at, text, tier, priority in pauses.order_by().union(breaches.order_by(), all=True):
        if row_kind == "pause":
            record.pauses.append(SlaPause(id=pk, ticket=ticket, started_at=at, ended_at=other_at, reason=text))
        else:
            record.breaches.append(
                SlaBreach(
                    id=pk, ticket=ticket, breached_at=at, due_at=other_at, kind=text, tier=tier, priority=priority
                )
            )
    record.pauses.sort(key=lambda pause: (pause.started_at, pause.pk))
    record.breaches.sort(key=lambda breach: (breach.breached_at, breach.pk))
    return record


class SlaState:
    ON_TRACK = "on_track"
    AT_RISK = "at_risk"
    BREACHED = "breached"
    MET = "met"
    PAUSED = "paused"
    NOT_APPLICABLE = "not_applicable"


def _state(due: datetime | None, warn: datetime | None, done_at: datetime | None, paused: bool, now: datetime) -> str:
    if done_at is not None:
        if due is None:
            return SlaState.MET
        return SlaState.MET if done_at <= due else SlaState.BREACHED
    if due is None:
        return SlaState.PAUSED if paused else SlaState.NOT_APPLICABLE
    if now >= due:
        return SlaState.BREACHED
    if paused:
        return SlaState.PAUSED
    if warn is not None and now >= warn:
        return SlaState.AT_RISK
    return SlaState.ON_TRACK


def sla_state(ticket: Ticket, *, now: datetime) -> dict[str, str]:
    """Response and resolution state from the stored columns only (no query)."""
    paused = ticket.status in (Ticket.Status.PENDING_CUSTOMER, Ticket.Status.RESOLVED)
    return {
        "response": _state(
            ticket.first_response_due_at, ticket.first_response_warn_at, ticket.first_responded_at, paused, now
        ),
        "resolution": _state(ticket.resolution_due_at, ticket.resolution_warn_at, ticket.resolved_at, paused, now),
    }
