"""Hand-built desks with explicit datetimes, made through the real services (SLA engine included).

P1 targets (24x7): first response 1 h, resolution 8 h. The range is 2026-03-02 to
2026-03-15 (London is on GMT then, so desk time = UTC). Every expected number in
the tests is worked out by hand in the docstring of ``build_p1_fortnight``.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.contrib.auth.models import User

from reports import rollup
from reports.models import DailyRollup, DurationHistogram, TicketFact
from support import usecases
from tickets.models import Ticket

M = timedelta(minutes=1)
H = timedelta(hours=1)
D = timedelta(days=1)
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # Monday 09:00 GMT
NOW = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)
RANGE = {"from": "2026-03-02", "to": "2026-03-15"}


def open_ticket(customer: User, at: datetime, priority: str = "P1", subject: str = "", **kwargs) -> Ticket:
    return usecases.file_ticket(
        requester=customer,
        subject=subject or f"{priority} at {at:%d %H:%M}",
        description="d",
        priority=priority,
        now=at,
        **kwargs,
    )


def reply(ticket: Ticket, author: User, at: datetime) -> None:
    usecases.reply(ticket=ticket, author=author, body="On it.", now=at)


def resolve(ticket: Ticket, agent: User, at: datetime) -> None:
    usecases.resolve(ticket=ticket, actor=agent, now=at, resolution_note="Fixed.")  # required on P0/P1


def sweep(at: datetime) -> None:
    usecases.sla_sweep(now=at)


def rollup_tables() -> tuple[list, list, list]:
    """The rollup's rows as plain values, a key's slots summed; zero rows left by subtractions do not count."""
    facts = sorted(TicketFact.objects.values_list("ticket_id", *rollup.FACT_FIELDS))
    daily = _summed(DailyRollup.objects.values(*rollup.ROLLUP_KEY, *rollup.ROLLUP_SUMS), rollup.ROLLUP_KEY)
    histogram = _summed(DurationHistogram.objects.values(*rollup.HISTOGRAM_KEY, "n"), rollup.HISTOGRAM_KEY)
    return facts, daily, histogram


def _summed(rows, key: list[str]) -> list[tuple]:
    sums: dict[tuple, Counter] = defaultdict(Counter)
    for row in rows:
        sums[tuple(row[k] for k in key)].update({n: v for n, v in row.items() if n not in key})
    return sorted((*k, *sorted(c.items())) for k, c in sums.items() if any(c.values()))


@dataclass
class Fortnight:
    a: Ticket
    b: Ticket
    c: Ticket
    d: Ticket
    e: Ticket
    f: Ticket
    g: Ticket


def build_p1_fortnight(customer: User, agent: User) -> Fortnight:
    """Seven P1 tickets around the range 2026-03-02..2026-03-15 (desk time = UTC in early March).

    ====  ===========================  =========================================================  =========
    name  created                      story                                                      rated
    ====  ===========================  =========================================================  =========
    a     Mon 02 09:00                 reply +30 min, resolved +2 h, closed +3 h                   5
    b     Tue 03 09:00                 reply +2 h (late), resolved +10 h (late)                    3
    c     Wed 04 09:00                 reply +20 min, waiting on customer +30 min .. +10 h 30,    -
                                       resolved +12 h: 2 h of SLA clock, 12 h of wall clock
    d     Thu 05 09:00                 reply +10 min, resolved +1 h, reopened +2 h, reply +3 h,   4
                                       resolved +4 h
    e     Fri 06 09:00                 never answered, still open (escalated by the sweep at +5 h)  -
    f     Sun 01 22:00 (before range)  reply +10 min, resolved Mon 02 01:00 (inside the range)     -
    g     Sun 15 23:00 (last hour)     reply +5 min, escalated by the agent +1 min,               -
                                       resolved Mon 16 02:00 (after the range)
    ====  ===========================  =========================================================  =========

    Response (created in range: a b c d e g): measured 6, within target a c d g = 4, breaches b e = 2.
    Resolution (resolved in range: f a b c d): 5, within target f a c d = 4, breaches b = 1.
    Wall-clock first responses: 300 600 1200 1800 7200 -> median 1200, p90 1800 + 0.6 * 5400 = 5040.
    Wall-clock resolutions: 7200 10800 14400 36000 43200 -> median 14400, p90 36000 + 0.6 * 7200 = 40320,
    mean (MTTR) 22320.
    Ratings of tickets resolved in range: 5 3 4 -> 3 of 5, CSAT 4.0. First contact: f a b c (d reopened) -> 0.8.
    """
    f = open_ticket(customer, datetime(2026, 3, 1, 22, 0, tzinfo=UTC), subject="f spans the start")
    reply(f, agent, f.created_at + 10 * M)
    resolve(f, agent, datetime(2026, 3, 2, 1, 0, tzinfo=UTC))

    a = open_ticket(customer, T0, subject="a on time")
    reply(a, agent, T0 + 30 * M)
    resolve(a, agent, T0 + 2 * H)
    usecases.change_status(ticket=a, to=Ticket.Status.CLOSED, actor=agent, now=T0 + 3 * H)
    usecases.rate(ticket=a, actor=customer, score=5, now=T0 + 4 * H)

    b = open_ticket(customer, T0 + D, subject="b late twice")
    reply(b, agent, b.created_at + 2 * H)
    resolve(b, agent, b.created_at + 10 * H)
    usecases.rate(ticket=b, actor=customer, score=3, now=b.created_at + 11 * H)

    c = open_ticket(customer, T0 + 2 * D, subject="c paused")
    reply(c, agent, c.created_at + 20 * M)
    usecases.change_status(ticket=c, to=Ticket.Status.PENDING_CUSTOMER, actor=agent, now=c.created_at + 30 * M)
    reply(c, customer, c.created_at + 10 * H + 30 * M)
    resolve(c, agent, c.created_at + 12 * H)

    d = open_ticket(customer, T0 + 3 * D, subject="d reopened")
    reply(d, agent, d.created_at + 10 * M)
    resolve(d, agent, d.created_at + H)
    usecases.reopen(ticket=d, actor=customer, now=d.created_at + 2 * H)
    reply(d, agent, d.created_at + 3 * H)
    resolve(d, agent, d.created_at + 4 * H)
    usecases.rate(ticket=d, actor=customer, score=4, now=d.created_at + 5 * H)

    e = open_ticket(customer, T0 + 4 * D, subject="e unanswered")
    sweep(e.created_at + 5 * H)  # response breach, to Tier 2 (2 h) and to management (4 h)

    g = open_ticket(customer, datetime(2026, 3, 15, 23, 0, tzinfo=UTC), subject="g spans the end")
    reply(g, agent, g.created_at + 5 * M)

    usecases.escalate(ticket=g, actor=agent, reason="technical_complexity", now=g.created_at + 6 * M)
    resolve(g, agent, datetime(2026, 3, 16, 2, 0, tzinfo=UTC))

    sweep(NOW)  # records the late breaches of b and the resolution breach of e
    return Fortnight(*(Ticket.objects.get(pk=t.pk) for t in (a, b, c, d, e, f, g)))
