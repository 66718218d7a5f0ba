"""Incidents and maintenance as the status page tests need them, through the use cases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from incidents.models import Component, Incident, Maintenance
from support import usecases

# A Tuesday in December: Europe/London is on UTC, so the desk's days are UTC days.
NOW = datetime(2026, 12, 8, 15, 0, tzinfo=UTC)


def component(slug: str) -> Component:
    return Component.objects.get(slug=slug)


def declare(agent, *, now=NOW, components=("checkout-payments",), **overrides) -> Incident:
    fields = {
        "severity": "P1",
        "title": "Card payments fail",
        "impact": "Card payments fail for some customers",
        "started_at": now - timedelta(minutes=10),
        "detected_at": now - timedelta(minutes=5),
        "public_message": "We are looking into failed card payments.",
        "components": Component.objects.filter(slug__in=components),
    }
    fields.update(overrides)
    return usecases.declare_incident(declared_by=agent, now=now, **fields)


def resolve(incident: Incident, agent, *, now, message: str = "Payments work again.") -> Incident:
    return usecases.resolve_incident(
        incident=incident,
        by=agent,
        now=now,
        what_happened="What happened, for the customers of linked tickets.",
        resolution="The resolution, for them too.",
        prevention="The prevention, for them too.",
        public_message=message,
    )


def maintenance(*, starts_at, ends_at, components=("orders",), title="Database upgrade", **fields) -> Maintenance:
    window = Maintenance.objects.create(
        title=title,
        description=fields.pop("description", "Orders may be slow for a few minutes."),
        starts_at=starts_at,
        ends_at=ends_at,
        created_at=fields.pop("created_at", starts_at - timedelta(days=2)),
        **fields,
    )
    window.components.set(Component.objects.filter(slug__in=components))
    return window
