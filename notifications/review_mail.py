"""Who hears that a post-incident review item is overdue: its owner and the incident's commander.

Each gets a dashboard item and an email, written to the outbox in the review sweep's
transaction (``support.usecases.review_sweep``), as breach alerts are. The dedupe key
names the item and its due time, so a second sweep, a retry or two sweeps at once
queue nothing twice; an item given a new due time may be overdue, and alerted, again.
Nobody to tell (no owner, no commander): the managers hear instead.
"""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.contrib.auth.models import User

from incidents.models import ReviewItem
from tickets.placeholders import when

from .models import Notification
from .services import manager_list, queue

Channel = Notification.Channel
CHANNELS = (Channel.DASHBOARD, Channel.EMAIL)


def review_link(item: ReviewItem) -> str:
    """The review's page in the agent console."""
    return f"{settings.DESK_BASE_URL.rstrip('/')}/admin/incidents/review/{item.review_id}/change/"


def overdue_key(item: ReviewItem) -> str:
    """Once per item and due time."""
    return f"review-overdue:{item.pk}:{item.due_at.isoformat()}"


def recipients(item: ReviewItem) -> list[User]:
    incident = item.review.incident
    people = {p.pk: p for p in (item.owner, incident.commander) if p is not None and p.is_active}
    return list(people.values()) or manager_list()


def on_review_item_overdue(*, item: ReviewItem, now: datetime) -> int:
    """Queue the item's overdue alerts (dashboard and email to each recipient); returns the rows written."""
    incident = item.review.incident
    owner = item.owner.email if item.owner is not None else "nobody"
    subject = f"{incident.reference}: review item overdue: {item.title}"[:300]
    body = (
        f"A post-incident review action item is overdue.\n\n"
        f"Incident: {incident.reference} [{incident.severity}] {incident.title}\n"
        f"Action: {item.title} ({item.get_phase_display().lower()} of resolution)\n"
        f"Owner: {owner}\n"
        f"Due: {when(item.due_at)}\n\n"
        f"Mark it done, or give it a new owner or due time, on the review's page:\n{review_link(item)}"
    )
    key = overdue_key(item)
    return sum(
        queue(
            channel=channel,
            kind=Notification.Kind.REVIEW_OVERDUE,
            recipient=person.email,
            subject=subject,
            body=body,
            dedupe_key=f"{key}:{channel}:{person.pk}",
            now=now,
            user=person,
        )
        for person in recipients(item)
        for channel in CHANNELS
        if person.email or channel == Channel.DASHBOARD
    )
