"""GET /healthz/: a public dead-man's switch for the SLA sweep, for an external uptime monitor.

The beat runs the sweep every SLA_SWEEP_SECONDS and every run stamps the
SweepRun row, even when nothing is due. So "the last sweep finished more than
two intervals ago" means the beat or the workers have stopped, whatever the
desk's load. No sweep on record at all counts as stale too: a desk whose beat
never started is exactly what this check exists to catch (a fresh deploy reads
stale until the first sweep, at most one interval). Anything wrong answers 503,
so a monitor that only looks at status codes alerts without needing the beat.

The body names no host, version, count or error text: only ok/degraded, the
database's reachability and the sweep's timestamps.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import DatabaseError, connection
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from escalation.models import SweepRun
from escalation.services import SWEEP

logger = logging.getLogger(__name__)
STALE_AFTER_INTERVALS = 2


def sweep_state(*, now: datetime) -> dict:
    """The sweep's heartbeat as the endpoint reports it (reads one row)."""
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


def database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone() == (1,)
    except DatabaseError:
        logger.exception("health check: the database is unreachable")
        return False


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    now = timezone.now()
    body: dict = {"status": "ok", "database": "ok" if database_ok() else "error"}
    if body["database"] == "ok":
        body["sla_sweep"] = sweep_state(now=now)
    else:
        body["sla_sweep"] = {"last_started_at": None, "last_finished_at": None, "stale": True}
    if body["database"] != "ok" or body["sla_sweep"]["stale"]:
        body["status"] = "degraded"
    return JsonResponse(body, status=200 if body["status"] == "ok" else 503)
