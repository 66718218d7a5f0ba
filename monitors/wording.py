"""What a monitor's incident says: its public title and updates, and the internal impact.

The title and the public updates go on the status page (when the monitor's incidents are
public): they name the component, never a URL or a check's internals. The impact is internal.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone

from .models import Monitor

Kind = Monitor.Kind

TITLES: dict[str, str] = {
    Kind.HTTP: "{subject} is unavailable",
    Kind.PERFORMANCE: "{subject} is slow",
    Kind.BUSINESS: "{subject}: orders or conversion dropped",
    Kind.ERROR_RATE: "{subject}: elevated error rate",
}


@dataclass(frozen=True)
class Failure:
    title: str
    impact: str
    public_message: str
    again: str  # the public update when its incident was monitoring and the check fails again
    note: str  # the internal note when its incident is open and not monitoring


def _subject(monitor: Monitor) -> str:
    return monitor.component.name if monitor.component_id and monitor.component else monitor.name


def _time(at: datetime | None) -> str:
    return timezone.localtime(at, timezone.get_default_timezone()).strftime("%H:%M %Z") if at else "now"


def failure(monitor: Monitor) -> Failure:
    subject = _subject(monitor)
    title = TITLES.get(monitor.kind, "{subject}: a check fails").format(subject=subject)[:200]
    flapping = (
        f" It is flapping: its updates are held to one per {monitor.flap_hold_minutes} min." if monitor.flapping else ""
    )
    impact = (
        f"Monitor “{monitor.name}” ({monitor.get_kind_display()}): {monitor.consecutive_failures} consecutive "
        f"failed checks since {_time(monitor.failing_since)}. Last: {monitor.last_message or 'failed'}.{flapping}"
    )
    return Failure(
        title=title,
        impact=impact,
        public_message=f"Our monitoring detected a problem: {title}. We are investigating and will post updates here.",
        again=f"Our monitoring detected the problem again since {_time(monitor.failing_since)}. We are investigating.",
        note=f"Monitor “{monitor.name}” fails again: {monitor.last_message or 'failed'}.{flapping}",
    )


def recovery(monitor: Monitor) -> str:
    return (
        f"{_subject(monitor)} has been working normally since {_time(monitor.state_changed_at)} "
        f"({monitor.recoveries_to_close} checks in a row passed). We are monitoring to make sure it stays that way."
    )


def alert_subject(monitor: Monitor, *, down: bool) -> str:
    return f"Monitor {'down' if down else 'recovered'}: {monitor.name} [{monitor.severity}]"
