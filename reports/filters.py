"""The reports' filters: a date range in the desk's time zone, and who/what the tickets are.

``from`` and ``to`` are ISO dates, both included, read as whole days in the desk's
zone (settings.TIME_ZONE, Europe/London): ``to=2026-03-31`` ends at midnight
London time, whatever the UTC offset that day. Bad input is a DomainError (400)
naming the field.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth.models import User
from django.utils.translation import gettext

from accounts import selectors as account_selectors
from sofacover.errors import DomainError
from tickets.models import Ticket

DEFAULT_DAYS = 90
MAX_DAYS = 366 * 3


def desk_zone() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


@dataclass(frozen=True)
class ReportFilters:
    start: date
    end: date  # included
    priority: str | None = None
    tier: int | None = None
    category: str | None = None
    channel: str | None = None
    agent: User | None = None

    @property
    def start_at(self) -> datetime:
        """The first instant of ``start`` in the desk's zone."""
        return datetime.combine(self.start, time(0), tzinfo=desk_zone())

    @property
    def end_before(self) -> datetime:
        """The first instant after ``end`` in the desk's zone (exclusive bound)."""
        return datetime.combine(self.end + timedelta(days=1), time(0), tzinfo=desk_zone())

    def ticket_lookups(self, prefix: str = "") -> dict[str, object]:
        lookups: dict[str, object] = {}
        for name in ("priority", "tier", "category", "channel"):
            value = getattr(self, name)
            if value is not None:
                lookups[f"{prefix}{name}"] = value
        if self.agent is not None:
            lookups[f"{prefix}assignee_id"] = self.agent.pk
        return lookups

    def as_params(self) -> dict[str, str]:
        """The query string that gives these filters back (links, CSV, drill-down)."""
        params = {"from": self.start.isoformat(), "to": self.end.isoformat()}
        for name in ("priority", "tier", "category", "channel"):
            value = getattr(self, name)
            if value is not None:
                params[name] = str(value)
        if self.agent is not None:
            params["agent"] = self.agent.username
        return params


# YYYY-MM-DD and nothing else: date.fromisoformat() also takes 20260331 and 2026-W14-2.
ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _date(params: Mapping[str, str], name: str) -> date | None:
    raw = (params.get(name) or "").strip()
    if not raw:
        return None
    try:
        if not ISO_DATE.fullmatch(raw):
            raise ValueError(raw)
        return date.fromisoformat(raw)
    except ValueError as exc:
        raise DomainError(gettext("“%(raw)s” is not a date; use YYYY-MM-DD.") % {"raw": raw}, field=name) from exc


def _choice(params: Mapping[str, str], name: str, choices: list) -> str | None:
    raw = (params.get(name) or "").strip()
    if not raw:
        return None
    allowed = [str(value) for value in choices]
    if raw not in allowed:
        raise DomainError(
            gettext("“%(raw)s” is not one of %(names)s.") % {"raw": raw, "names": ", ".join(allowed)}, field=name
        )
    return raw


def filters_from_params(params: Mapping[str, str], *, today: date) -> ReportFilters:
    """Parse the query string; without dates, the last 90 days up to ``today``.

    :raises DomainError: a bad date, an inverted or too long range, an unknown choice or agent
    """
    end = _date(params, "to") or today
    start = _date(params, "from") or end - timedelta(days=DEFAULT_DAYS - 1)
    if start > end:
        raise DomainError(gettext("“from” must not be after “to”."), field="from")
    if (end - start).days >= MAX_DAYS:
        raise DomainError(gettext("The range may span at most %(count)s days.") % {"count": MAX_DAYS}, field="from")
    tier = _choice(params, "tier", Ticket.Tier.values)
    agent = None
    agent_email = (params.get("agent") or "").strip()
    if agent_email:
        agent = account_selectors.agent_get(email=agent_email)
        if agent is None:
            raise DomainError(
                gettext("No support agent has the address %(email)s.") % {"email": agent_email},
                field="agent",
            )
    return ReportFilters(
        start=start,
        end=end,
        priority=_choice(params, "priority", Ticket.Priority.values),
        tier=int(tier) if tier is not None else None,
        category=_choice(params, "category", Ticket.Category.values),
        channel=_choice(params, "channel", Ticket.Channel.values),
        agent=agent,
    )
