"""The SLA sweep's heartbeat, as the desk's readiness check (``support.health``, GET /readyz/) reports it.

The beat runs the sweep every SLA_SWEEP_SECONDS and every run stamps the
SweepRun row, even when nothing is due. So "the last sweep finished more than
two intervals ago" means the beat or the workers have stopped, whatever the
desk's load. No sweep on record at all counts as stale too: a desk whose beat
never started is exactly what this check exists to catch (a fresh deploy reads
stale until the first sweep, at most one interval).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings

from escalation.models import SweepRun
from escalation.services import SWEEP

STALE_AFTER_INTERVALS = 2


def sweep_state(*, now: datetime) -> dict:
    """The sweep's heartbeat: its timestamps and whether it is stale (reads one row)."""
    run = SweepRun.objects.filter(name=SWEEP).values("last_started_at", "last_finished_at").first()
    finished, started = (run["last_finished_at"], run["last_started_at"]) if run else (None, None)
    limit = timedelta(seconds=STALE_AFTER_INTERVALS * settings.SLA_SWEEP_SECONDS)
    return {
        "last_started_at": started.isoformat() if started else None,
        "last_finished_at": finished.isoformat() if finished else None,
        # A stamp ahead of the clock (a replay with run_escalations --at in the future) proves nothing.
        "stale": finished is None or now - finished > limit or finished - now > limit,
        "stale_after_seconds": int(limit.total_seconds()),
    }


def sweep_lag_seconds(*, now: datetime) -> float:
    """Seconds since the sweep last finished (infinite when it never has): what /metrics reports."""
    finished = SweepRun.objects.filter(name=SWEEP).values_list("last_finished_at", flat=True).first()
    return (now - finished).total_seconds() if finished else float("inf")
