"""The console's home for agents (admin/index.html): what is theirs to do now, with counts.

My open tickets, those due soon (an SLA clock at risk), breached, unassigned in my tier, and my
notifications (notifications' dashboard items). Reads only, a fixed number of queries whatever the
number of tickets: a capped count and a short list for each of the four, two for the
notifications. "Due soon" and "breached" count the tickets the agent may change (their tier
and below, or assigned to them; every ticket for managers), as the queue's SLA filter states
them (escalation.admin_queue.sla_filter_conditions).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from django.contrib.auth.models import User
from django.db.models import Q, QuerySet
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext_lazy as _

from accounts import permissions as roles
from escalation import admin_queue
from escalation import selectors as escalation_selectors
from notifications import selectors as notification_selectors
from tickets import selectors as ticket_selectors
from tickets.models import Ticket

# Rows each list shows; the count says how many there are, up to the queue's cap (then "1,000+").
LIST_ROWS = 5
COUNT_CAP = ticket_selectors.COUNT_CAP


@dataclass
class Section:
    key: str
    title: Any
    count: int
    url: str
    empty: Any
    rows: list[Any] = field(default_factory=list)


@dataclass
class Home:
    sections: list[Section]
    notifications: Section
    tier: int | None
    is_manager: bool


def _queue_url(**params: str) -> str:
    return f"{reverse('admin:tickets_ticket_changelist')}?{urlencode(params)}" if params else ""


def _notifications_url() -> str:
    try:
        return reverse("admin:notifications_dashboarditem_changelist")
    except NoReverseMatch:
        return ""


def agent_home(*, user: User, now: datetime) -> Home:
    """The home's counts and lists for ``user`` (an agent, manager or admin)."""
    is_manager = roles.is_manager(user)
    tier = None if is_manager else roles.agent_tier(user)
    active = Ticket.objects.filter(status__in=Ticket.ACTIVE_STATUSES)
    workable = Q() if is_manager else Q(tier__lte=tier or 0) | Q(assignee_id=user.pk)
    states = admin_queue.sla_filter_conditions(now)
    conditions = {
        "mine": Q(assignee_id=user.pk),
        "due_soon": workable & states[escalation_selectors.SlaState.AT_RISK],
        "breached": workable & states[escalation_selectors.SlaState.BREACHED],
        "unassigned": Q(assignee__isnull=True) & (Q() if tier is None else Q(tier=tier)),
    }
    # One count a section, each an index range (the assignee; tickets' partial indexes on the running
    # clocks) stopping past the queue's cap (1,000+, as the queue counts): the home costs the same at
    # any size of the desk, however many tickets are active. The count reads the ids, for the list below.
    matching = {key: ticket_selectors.capped_ids(active.filter(q), COUNT_CAP) for key, q in conditions.items()}
    counts = {key: ticket_selectors.capped(len(ids), COUNT_CAP) for key, ids in matching.items()}

    def rows(key: str, *order: str) -> list[Ticket]:
        tickets: QuerySet[Ticket] = active.filter(conditions[key]).select_related("requester", "assignee")
        order = order or ticket_selectors.URGENCY_ORDER
        if counts[key] > LIST_ROWS:
            return list(tickets.order_by(*order)[:LIST_ROWS])
        # All of them fit in the list: the ones the count found, by id, put in order here. Asked for in order,
        # the planner walks an index in that order hoping to meet them early, and with fewer than the list's
        # rows it read every ticket of the desk (nothing breached on a desk of 100,000: 55 ms of the home's 70).
        found = list(tickets.filter(pk__in=matching[key])) if matching[key] else []
        return sorted(found, key=lambda t: [(getattr(t, name) is None, getattr(t, name)) for name in order])

    unassigned_params = {"assignee": "none"} | ({"tier__exact": str(tier)} if tier is not None else {})
    sections = [
        Section(
            "mine",
            _("My open tickets"),
            counts["mine"],
            _queue_url(assignee="me"),
            _("Nothing assigned to you is open."),
            rows("mine"),
        ),
        Section(
            "due_soon",
            _("Due soon"),
            counts["due_soon"],
            _queue_url(sla=escalation_selectors.SlaState.AT_RISK),
            _("No deadline is close."),
            rows("due_soon", "resolution_due_at", "first_response_due_at", "id"),
        ),
        Section(
            "breached",
            _("Breached"),
            counts["breached"],
            _queue_url(sla=escalation_selectors.SlaState.BREACHED),
            _("No open ticket is past its deadline."),
            rows("breached"),
        ),
        Section(
            "unassigned",
            _("Unassigned in my tier") if tier is not None else _("Unassigned"),
            counts["unassigned"],
            _queue_url(**unassigned_params),
            _("Every ticket has someone on it."),
            rows("unassigned"),
        ),
    ]
    feed = notification_selectors.dashboard_feed_for(user=user)
    notifications = Section(
        "notifications",
        _("My notifications"),
        feed.filter(read_at__isnull=True).count(),
        _notifications_url(),
        _("No notifications."),
        list(feed[:LIST_ROWS]),
    )
    return Home(sections=sections, notifications=notifications, tier=tier, is_manager=is_manager)
