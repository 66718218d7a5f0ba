"""Incidents for the reports bench: a realistic history, so the scorecard's incident figures are timed.

A busy desk declares a few incidents a day at most; the loader writes ``count`` resolved
incidents spread over the last 90 days (a quarter of them P0, a quarter P1, ...), each with
its declaration, a public update every 20 to 40 minutes and its resolution on the timeline,
and, for P0/P1, a review with the procedures' twelve items, half done on time. Written with
bulk inserts (no use case: the figures read only these rows); idempotent by title prefix.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from django.db import transaction

from incidents.models import Incident, IncidentEvent, Review, ReviewItem
from incidents.reviews import NOMINAL, PROCEDURE

PREFIX = "Bench incident "
SEVERITIES = ("P0", "P1", "P2", "P3")


@transaction.atomic
def incidents_ensure(*, count: int, now: datetime, write: Callable[[str], object]) -> int:
    """Make sure ``count`` bench incidents exist; returns how many were written."""
    have = Incident.objects.filter(title__startswith=PREFIX).count()
    if have >= count:
        return 0
    fresh = []
    for n in range(have, count):
        started = now - timedelta(days=89) + timedelta(minutes=(n * 7919) % (88 * 24 * 60))
        severity = SEVERITIES[n % 4]
        resolved = started + timedelta(minutes=45 + (n * 37) % 240)
        fresh.append(
            Incident(
                severity=severity,
                title=f"{PREFIX}{n}",
                status=Incident.Status.RESOLVED,
                impact="Bench",
                started_at=started,
                detected_at=started + timedelta(minutes=n % 9),
                declared_at=started + timedelta(minutes=n % 9),
                resolved_at=resolved,
                updated_at=resolved,
                what_happened="Bench",
                resolution="Bench",
                prevention="Bench",
            )
        )
    Incident.objects.bulk_create(fresh, batch_size=1000)
    made = list(Incident.objects.filter(title__in=[i.title for i in fresh]))
    events = []
    for incident in made:
        resolved_at = incident.resolved_at
        assert resolved_at is not None
        at = incident.declared_at
        events.append(IncidentEvent(incident=incident, kind="declared", at=at, status="investigating", public=True))
        step = 20
        while at + timedelta(minutes=step) < resolved_at:
            at += timedelta(minutes=step)
            events.append(IncidentEvent(incident=incident, kind="update", at=at, status="identified", public=True))
            step = 60 - step  # 20, 40, 20, ...: every other one late for a P0
        events.append(IncidentEvent(incident=incident, kind="resolved", at=resolved_at, status="resolved", public=True))
    IncidentEvent.objects.bulk_create(events, batch_size=5000)
    urgent = [i for i in made if i.severity in ("P0", "P1")]
    Review.objects.bulk_create(
        [Review(incident=i, opened_at=i.resolved_at) for i in urgent],  # type: ignore[misc]
        batch_size=1000,
    )
    by_incident = {r.incident_id: r for r in Review.objects.filter(incident__in=urgent)}
    items = []
    for incident in urgent:
        review = by_incident[incident.pk]
        assert incident.resolved_at is not None
        for position, (phase, title) in enumerate(PROCEDURE):
            due = incident.resolved_at + NOMINAL[phase]
            done = due - timedelta(minutes=5) if (incident.pk + position) % 2 else None
            items.append(
                ReviewItem(review=review, phase=phase, title=title, position=position, due_at=due, done_at=done)
            )
    ReviewItem.objects.bulk_create(items, batch_size=5000)
    write(f"  {len(made)} incidents, {len(events)} timeline events, {len(items)} review items written")
    return len(made)
