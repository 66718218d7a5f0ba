"""The demo desk's tickets, worked through the use cases like the desk would.

accounts.demo has the logins, tickets.demo what the tickets say.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from django.contrib.auth.models import User
from django.db import transaction

from accounts import demo as account_demo
from tickets import demo
from tickets.models import Ticket

from . import usecases

Status = Ticket.Status
Channel = Ticket.Channel


@transaction.atomic
def demo_tickets_create(*, now: datetime) -> list[Ticket]:
    """Open ``DEMO_TICKET_COUNT`` tickets over the last two weeks and work them like the desk would.

    Deterministic apart from ``now``: every priority, status, category, channel
    and tier appears; agents reply, write notes, assign, resolve and close;
    customers answer.
    """
    users = {spec.email: user for spec, user, _ in account_demo.demo_users_ensure()}
    customers = [users[account_demo.DEMO_CUSTOMER], *(users[spec.email] for spec in account_demo.EXTRA_CUSTOMERS)]
    agents = {spec.tier: users[spec.email] for spec in account_demo.DEMO_USERS if spec.role == "agent"}
    rng = random.Random(20260302)
    tickets = []
    for i in range(demo.DEMO_TICKET_COUNT):
        scenario = demo.SCENARIOS[i % len(demo.SCENARIOS)]
        status = demo.STATUS_CYCLE[i % len(demo.STATUS_CYCLE)]
        # Older tickets are more often finished; the newest are still in the queue.
        age = timedelta(days=14) * (demo.DEMO_TICKET_COUNT - i) / demo.DEMO_TICKET_COUNT
        if status in Ticket.ACTIVE_STATUSES:
            age = age / 6
        created_at = now - age - timedelta(minutes=rng.randint(5, 50))
        tickets.append(
            _demo_ticket(
                scenario,
                status=status,
                channel=demo.CHANNEL_CYCLE[(i + i // 5) % len(demo.CHANNEL_CYCLE)],
                tier=1 + i % 3,
                requester=customers[i % len(customers)],
                agents=agents,
                created_at=created_at,
                now=now,
                rng=rng,
                with_note=i % 2 == 0,
            )
        )
    return tickets


def _demo_ticket(
    scenario: demo.Scenario,
    *,
    status: str,
    channel: str,
    tier: int,
    requester: User,
    agents: dict[int | None, User],
    created_at: datetime,
    now: datetime,
    rng: random.Random,
    with_note: bool,
) -> Ticket:
    values = demo.scenario_values(rng)
    agent = agents[tier]
    span = now - created_at
    low, high = demo.RESPONSE_MINUTES[scenario.priority]
    response = min(timedelta(minutes=rng.randint(low, high)), span * 0.3)

    def at(fraction: float) -> datetime:
        # Steps after the first reply, spread over the rest of the ticket's life.
        return created_at + response + (span - response) * fraction

    ticket = usecases.file_ticket(
        requester=requester,
        # An agent files phone tickets on the caller's behalf.
        actor=agent if channel == Channel.PHONE else requester,
        subject=scenario.subject.format(**values),
        description=scenario.description.format(**values),
        priority=scenario.priority,
        category=scenario.category,
        channel=channel,
        tier=tier,
        now=created_at,
    )
    if status == Status.NEW:
        if with_note:
            ticket = usecases.assign(ticket=ticket, assignee=agent, actor=agent, now=created_at + response)
            usecases.reply(
                ticket=ticket,
                author=agent,
                body=scenario.note.format(**values),
                internal=True,
                now=created_at + response,
            )
        return ticket
    ticket = usecases.assign(ticket=ticket, assignee=agent, actor=agent, now=created_at + response)
    usecases.reply(ticket=ticket, author=agent, body=scenario.reply.format(**values), now=at(0))
    if with_note:
        usecases.reply(ticket=ticket, author=agent, body=scenario.note.format(**values), internal=True, now=at(0.1))
    if status == Status.OPEN:
        return Ticket.objects.get(pk=ticket.pk)
    if status == Status.PENDING_CUSTOMER:
        return usecases.change_status(ticket=ticket, to=Status.PENDING_CUSTOMER, actor=agent, now=at(0.2))
    usecases.reply(ticket=ticket, author=requester, body=scenario.follow_up.format(**values), now=at(0.3))
    ticket = usecases.resolve(
        ticket=ticket, actor=agent, now=at(0.4), resolution_note=scenario.reply.format(**values).split("\n\n")[0]
    )
    if status == Status.CLOSED:
        ticket = usecases.change_status(ticket=ticket, to=Status.CLOSED, actor=agent, now=at(0.8))
    return ticket
