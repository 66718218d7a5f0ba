"""GET /healthz/ (liveness) and GET /readyz/ (readiness): public, JSON, revealing nothing sensitive.

``/healthz/`` says the process is up and serving: no database, no Redis, no
query. An orchestrator restarts a process that stops answering it; nothing a
restart cannot fix makes it fail (a database outage would otherwise restart
every web process at once).

``/readyz/`` checks what the desk needs to do its work, each check named in the
body with its status, and answers 503 when any fails:

- ``database``: ``SELECT 1``;
- ``cache``: a Redis ``PING`` when the cache is Redis (``REDIS_URL``), else the
  per-process cache, always there;
- ``broker``: a Redis ``PING`` when the Celery broker is Redis, else the broker's
  folders on the file system exist and are writable;
- ``sla_sweep``: the sweep's dead-man's switch (``escalation.health.sweep_state``):
  stale when the last sweep finished more than two intervals ago, or never;
- ``outbox``: the oldest notification due for delivery has waited less than
  ``READYZ_OUTBOX_MAX_AGE_SECONDS`` (the relay keeps up).

``?check=database&check=cache`` runs only the checks named (400 for an unknown
name): a load balancer's probe asks for what the web process itself needs, so a
stopped beat does not take the web out of rotation, while the external monitor
asks for everything. The body names no host, port, version, count or error
text: statuses, the sweep's timestamps and the outbox's age in seconds.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from datetime import datetime
from typing import Any

import redis
from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from django.db import DatabaseError, connection
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from escalation.health import sweep_state
from notifications import selectors as notification_selectors

logger = logging.getLogger(__name__)
OK, ERROR = "ok", "error"
REDIS_TIMEOUT_SECONDS = 0.5
_redis_clients: dict[str, redis.Redis] = {}


def _redis(url: str) -> redis.Redis:
    """One client (and connection pool) per URL for the process: a probe every few seconds reuses it."""
    if url not in _redis_clients:
        _redis_clients[url] = redis.Redis.from_url(
            url, socket_connect_timeout=REDIS_TIMEOUT_SECONDS, socket_timeout=REDIS_TIMEOUT_SECONDS
        )
    return _redis_clients[url]


def database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone() == (1,)
    except DatabaseError as error:
        logger.warning("readiness: the database is unreachable (%s)", type(error).__name__)
        return False


def cache_ok() -> bool:
    cache = caches["default"]
    if not isinstance(cache, RedisCache):
        return True  # the per-process cache (development): nothing to reach
    try:
        return bool(cache._cache.get_client(None, write=True).ping())
    except (redis.RedisError, OSError) as error:
        logger.warning("readiness: the cache's Redis is unreachable (%s)", type(error).__name__)
        return False


def broker_ok() -> bool:
    url = settings.CELERY_BROKER_URL
    if url.startswith(("redis://", "rediss://")):
        try:
            return bool(_redis(url).ping())
        except (redis.RedisError, OSError) as error:
            logger.warning("readiness: the broker's Redis is unreachable (%s)", type(error).__name__)
            return False
    if url.startswith("filesystem://"):
        options = settings.CELERY_BROKER_TRANSPORT_OPTIONS
        keys = ("data_folder_in", "data_folder_out", "processed_folder")
        folders = {str(options[key]) for key in keys if key in options}
        return all(os.path.isdir(folder) and os.access(folder, os.W_OK | os.X_OK) for folder in folders)
    return True  # a broker this check does not know how to reach: not its business to fail


def sla_sweep(*, now: datetime, database: bool) -> dict[str, Any]:
    if not database:
        return {"status": ERROR}
    state = sweep_state(now=now)
    return {"status": ERROR if state.pop("stale") else OK, **state}


def outbox(*, now: datetime, database: bool) -> dict[str, Any]:
    limit = settings.READYZ_OUTBOX_MAX_AGE_SECONDS
    if not database:
        return {"status": ERROR, "max_age_seconds": limit}
    age = notification_selectors.outbox_backlog(now=now).oldest_age_seconds(now=now)
    return {"status": ERROR if age > limit else OK, "oldest_due_age_seconds": int(age), "max_age_seconds": limit}


def _flag(ok: bool) -> dict[str, Any]:
    return {"status": OK if ok else ERROR}


# name -> check(now, database reachable); the database runs first, the checks that read it skip when it is down.
CHECKS: dict[str, Callable[[datetime, bool], dict[str, Any]]] = {
    "database": lambda now, database: _flag(database),
    "cache": lambda now, database: _flag(cache_ok()),
    "broker": lambda now, database: _flag(broker_ok()),
    "sla_sweep": lambda now, database: sla_sweep(now=now, database=database),
    "outbox": lambda now, database: outbox(now=now, database=database),
}
NEEDS_DATABASE = {"database", "sla_sweep", "outbox"}


def readiness(*, now: datetime, names: list[str]) -> dict[str, Any]:
    """The body of /readyz/ for the checks ``names`` (in CHECKS order)."""
    database = database_ok() if NEEDS_DATABASE.intersection(names) else False
    checks = {}
    for name, check in CHECKS.items():
        if name not in names:
            continue
        try:
            checks[name] = check(now, database)
        except DatabaseError as error:  # reachable, yet the read failed (a table missing before migrate, …)
            logger.warning("readiness: the %s check could not read the database (%s)", name, type(error).__name__)
            checks[name] = {"status": ERROR}
    healthy = all(result["status"] == OK for result in checks.values())
    return {"status": "ok" if healthy else "degraded", "checks": checks}


@never_cache
@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness: the process answers. Reads nothing."""
    return JsonResponse({"status": "ok"})


@never_cache
@require_safe
def readyz(request: HttpRequest) -> JsonResponse:
    """Readiness: every check (or those named by ``?check=``), 200 when all pass, else 503."""
    names = request.GET.getlist("check") or list(CHECKS)
    unknown = sorted(set(names) - set(CHECKS))
    if unknown:
        return JsonResponse({"check": [f"Unknown check; the checks are: {', '.join(CHECKS)}."]}, status=400)
    body = readiness(now=timezone.now(), names=names)
    return JsonResponse(body, status=200 if body["status"] == "ok" else 503)
