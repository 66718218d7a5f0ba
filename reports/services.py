"""What the reports app writes: the weekly summary, through the outbox."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from django.conf import settings
from django.template.loader import render_to_string
from django.urls import reverse

from notifications import services as notifications
from notifications.models import Notification

from . import metrics
from .filters import ReportFilters, desk_zone


def _absolute(path: str) -> str:
    """Links in mail are built from DESK_BASE_URL, never from a request's Host header."""
    return settings.DESK_BASE_URL.rstrip("/") + path


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
