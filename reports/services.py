"""What the reports app writes: survey emails on resolution and the weekly summary, both through the outbox."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from django.conf import settings
from django.template.loader import render_to_string
from django.urls import reverse

from notifications import services as notifications
from notifications.models import Notification
from tickets import services as ticket_services
from tickets.models import Rating, Ticket, TicketEvent

from . import metrics
from .filters import ReportFilters, desk_zone


def _absolute(path: str) -> str:
    """Links in mail are built from DESK_BASE_URL, never from a request's Host header."""
    return settings.DESK_BASE_URL.rstrip("/") + path


def survey_send(*, ticket: Ticket, now: datetime) -> bool:
    """Email the requester a signed, expiring, single-use survey link; once per resolution.

    The n in the dedupe key counts the ticket's resolutions, so a ticket reopened and
    resolved again gets a new survey (unless it was rated), and a retry gets none.
    """
    requester = ticket.requester
    if not requester.email or Rating.objects.filter(ticket_id=ticket.pk).exists():
        return False
    n = TicketEvent.objects.filter(
        ticket_id=ticket.pk, kind=TicketEvent.Kind.STATUS_CHANGED, new_value=Ticket.Status.RESOLVED
    ).count()
    token = ticket_services.survey_link_issue(ticket=ticket, now=now)
    context = {
        "ticket": ticket,
        "customer_name": requester.get_full_name() or requester.email,
        "survey_url": _absolute(reverse("portal:survey", kwargs={"token": token})),
        "valid_days": settings.SURVEY_LINK_MAX_AGE.days,
    }
    return notifications.queue(
        channel=Notification.Channel.EMAIL,
        kind=Notification.Kind.RESOLUTION,
        recipient=requester.email,
        subject=f"[{ticket.reference}] How did we do?",
        body=render_to_string("reports/email/survey.txt", context),
        body_html=render_to_string("reports/email/survey.html", context),
        dedupe_key=f"survey:{ticket.pk}:{n}",
        now=now,
        ticket=ticket,
        user=requester,
    )


def previous_week(*, now: datetime) -> tuple[date, date]:
    """Monday and Sunday of the ISO week before the one ``now`` falls in, in the desk's zone."""
    today = now.astimezone(desk_zone()).date()
    monday = today - timedelta(days=today.weekday() + 7)
    return monday, monday + timedelta(days=6)


def weekly_summary_send(*, now: datetime) -> int:
    """Queue last week's scorecard to every manager; the ISO week in the dedupe key makes it once a week."""
    start, end = previous_week(now=now)
    year, week, _ = start.isocalendar()
    filters = ReportFilters(start=start, end=end)
    scorecard = metrics.scorecard(filters, now=now)
    context = {
        "start": start,
        "end": end,
        "week": f"{year}-W{week:02d}",
        "scorecard": scorecard,
        "reports_url": _absolute(reverse("reports:index") + f"?from={start.isoformat()}&to={end.isoformat()}"),
    }
    subject = f"Support desk weekly summary {context['week']} ({start:%d %b} to {end:%d %b %Y})"
    body = render_to_string("reports/email/weekly_summary.txt", context)
    body_html = render_to_string("reports/email/weekly_summary.html", context)
    written = 0
    for person in notifications.managers():
        if not person.email:
            continue
        written += notifications.queue(
            channel=Notification.Channel.EMAIL,
            kind=Notification.Kind.SYSTEM,
            recipient=person.email,
            subject=subject,
            body=body,
            body_html=body_html,
            dedupe_key=f"weekly-summary:{year}-W{week:02d}:{person.pk}",
            now=now,
            user=person,
        )
    return written
