"""GET /metrics: the desk's figures for Prometheus, for a bearer token or an allowed address only.

Two kinds of figures, in one text exposition:

- **counted as things happen**, in the process they happen in: requests by view,
  method and status with latency histograms (django-prometheus's middleware, the
  ``django_http_*`` families), Celery tasks by name and state with their durations
  (``celery_tasks_total``, ``celery_task_duration_seconds``; ``sofacover.taskmetrics``).
  With ``PROMETHEUS_MULTIPROC_DIR`` set, every process on the host (gunicorn's
  workers, Celery's pool) writes its samples to files there and a scrape adds them
  up (prometheus-client's ``MultiProcessCollector``); without it, a scrape shows
  the process that answers it.
- **read at scrape time** from each app's selectors, by :class:`DeskCollector`, a
  few indexed queries per scrape whatever the process: the outbox's backlog and the
  age of its oldest due row, the SLA sweep's lag, tickets due for the sweep, SLA
  breaches of the last hour and day, open incidents by severity.

Each source of the second kind is a function ``(now) -> metric families`` listed in
``SOURCES`` (the monitors' results plug in here: one more entry reading the monitors'
selectors). A source whose reads fail is left out of that scrape and says so in
``desk_metrics_source_up{source=...} 0``; the others still answer.

Who may scrape: a request bearing ``Authorization: Bearer <METRICS_TOKEN>``, or one
from an address in ``METRICS_ALLOWED_IPS`` (loopback by default), read as the rate
limiter reads it (past ``DJANGO_TRUSTED_PROXIES`` proxies). A request that came
through a proxy the settings do not know of (it carries ``X-Forwarded-For``,
``Forwarded`` or ``X-Real-IP`` while no proxy is trusted) is never let in by its
address: behind a proxy on the same host, every client would otherwise look like
loopback. A wrong token is refused with 403; anyone else gets 404.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta
from functools import lru_cache

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector

from escalation import health as sweep_health
from escalation import selectors as escalation_selectors
from incidents import selectors as incident_selectors
from notifications import selectors as notification_selectors
from sofacover.ratelimit import client_ip

logger = logging.getLogger(__name__)
Source = Callable[[datetime], Iterable[Metric]]
PROXY_HEADERS = ("HTTP_X_FORWARDED_FOR", "HTTP_FORWARDED", "HTTP_X_REAL_IP")
BREACH_WINDOWS = (("1h", timedelta(hours=1)), ("24h", timedelta(hours=24)))


# --- what is read at scrape time ----------------------------------------------------------


def outbox_metrics(now: datetime) -> Iterator[Metric]:
    backlog = notification_selectors.outbox_backlog(now=now)
    due = GaugeMetricFamily(
        "desk_outbox_due", "Notifications due for delivery and not sent yet, by channel.", labels=["channel"]
    )
    for channel, count in sorted(backlog.due_by_channel.items()):
        due.add_metric([channel], count)
    yield due
    yield GaugeMetricFamily(
        "desk_outbox_oldest_due_age_seconds",
        "How long the oldest notification due for delivery has waited (0 when none is due).",
        value=backlog.oldest_age_seconds(now=now),
    )


def sla_metrics(now: datetime) -> Iterator[Metric]:
    yield GaugeMetricFamily(
        "desk_sla_sweep_lag_seconds",
        "Seconds since the SLA sweep last finished (+Inf when it never has); it runs every SLA_SWEEP_SECONDS.",
        value=sweep_health.sweep_lag_seconds(now=now),
    )
    yield GaugeMetricFamily(
        "desk_tickets_sla_due",
        "Tickets with SLA work due now (sla_next_check_at reached): what the next sweep takes.",
        value=escalation_selectors.due_ticket_count(now=now),
    )
    (short, short_span), (long, long_span) = BREACH_WINDOWS
    breaches = GaugeMetricFamily(
        "desk_sla_breaches",
        "SLA breaches recorded in the last hour or day (window), by kind and priority.",
        labels=["window", "kind", "priority"],
    )
    for kind, priority, in_day, in_hour in escalation_selectors.breach_counts_since(
        since=now - long_span, recent_since=now - short_span
    ):
        breaches.add_metric([short, kind, priority], in_hour)
        breaches.add_metric([long, kind, priority], in_day)
    yield breaches


def incident_metrics(now: datetime) -> Iterator[Metric]:
    open_incidents = GaugeMetricFamily("desk_incidents_open", "Open incidents, by severity.", labels=["severity"])
    for severity, count in incident_selectors.open_count_by_severity().items():
        open_incidents.add_metric([severity], count)
    yield open_incidents


# The sources, in the order of the exposition. The monitors' results: ("monitors", monitor_metrics).
SOURCES: tuple[tuple[str, Source], ...] = (
    ("outbox", outbox_metrics),
    ("sla", sla_metrics),
    ("incidents", incident_metrics),
)


class DeskCollector:
    """prometheus-client's collector protocol over SOURCES, read once per scrape at ``now``."""

    def __init__(self, *, now: datetime, sources: tuple[tuple[str, Source], ...] = SOURCES) -> None:
        self.now, self.sources = now, sources

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "desk_metrics_source_up",
            "1 when the source's figures were read for this scrape, 0 when its reads failed.",
            labels=["source"],
        )
        for name, source in self.sources:
            try:
                families = list(source(self.now))
            except DatabaseError as error:
                logger.warning("metrics: the %s figures could not be read (%s)", name, type(error).__name__)
                up.add_metric([name], 0)
                continue
            up.add_metric([name], 1)
            yield from families
        yield up


class ThisProcess:
    """The default registry's families: this process's counters and histograms (no multi-process dir)."""

    def collect(self) -> Iterable[Metric]:
        return REGISTRY.collect()


def scrape_registry(*, now: datetime) -> CollectorRegistry:
    registry = CollectorRegistry()
    if settings.PROMETHEUS_MULTIPROC_DIR:
        MultiProcessCollector(registry, path=settings.PROMETHEUS_MULTIPROC_DIR)
    else:
        registry.register(ThisProcess())
    registry.register(DeskCollector(now=now))
    return registry


# --- who may scrape ---------------------------------------------------------------------------


@lru_cache(maxsize=8)
def _networks(entries: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    try:
        return tuple(ipaddress.ip_network(entry, strict=False) for entry in entries)
    except ValueError as error:
        raise ImproperlyConfigured(f"METRICS_ALLOWED_IPS: {error}") from error


def address_allowed(request: HttpRequest) -> bool:
    if not settings.TRUSTED_PROXIES and any(request.META.get(header) for header in PROXY_HEADERS):
        return False
    try:
        address = ipaddress.ip_address(client_ip(request))
    except ValueError:
        return False
    return any(address in network for network in _networks(tuple(settings.METRICS_ALLOWED_IPS)))


def token_presented(request: HttpRequest) -> bool | None:
    """None without an Authorization header; else whether it is the bearer token."""
    header = request.META.get("HTTP_AUTHORIZATION")
    if header is None:
        return None
    scheme, _, presented = header.partition(" ")
    expected = settings.METRICS_TOKEN
    if not expected or scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(presented.strip().encode(), expected.encode())


@never_cache
@require_safe
def metrics(request: HttpRequest) -> HttpResponse:
    token = token_presented(request)
    if token is False:
        return HttpResponse("Forbidden.\n", status=403, content_type="text/plain")
    if token is None and not address_allowed(request):
        raise Http404
    registry = scrape_registry(now=timezone.now())
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
