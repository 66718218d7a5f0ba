"""Celery entry points: read the clock once; the services decide the rest."""

import logging
import time

from celery import shared_task
from celery.signals import worker_ready
from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

logger = logging.getLogger(__name__)


@shared_task(acks_late=True, ignore_result=True)
def deliver_outbox() -> str:
    """Beat every few seconds, and kicked after each commit that queued something: send what is due.

    Two of these at once are harmless: each row is claimed by exactly one of them.
    """
    from . import relay

    cache.delete(KICK_PENDING)  # before reading: a row committed from now on kicks again
    return str(relay.outbox_flush(now=timezone.now()))


_broker_down_until = 0.0
BROKER_BACKOFF_SECONDS = 30.0
KICK_PENDING = "outbox:kick-pending"


def kick_relay() -> None:
    """Publish one flush, bounded: a broker that is down must neither hang nor break the request.

    The rows are already committed; the periodic flush delivers them if this publish is lost.
    Kicks coalesce: while a published kick's flush has not started (the shared flag is set),
    that flush will read this commit's rows too, so no second kick is published; the flush
    clears the flag before it reads. Under load this is one relay run per burst, not per commit.
    After a failed publish this process does not try again for BROKER_BACKOFF_SECONDS, so a
    broker outage costs one request one connect timeout, not every request.
    """
    global _broker_down_until
    if time.monotonic() < _broker_down_until:
        return
    if not cache.add(KICK_PENDING, 1, timeout=settings.NOTIFY_KICK_COALESCE_SECONDS):
        return
    try:
        deliver_outbox.apply_async(retry=False, ignore_result=True)
    except Exception as exc:  # any broker failure: the outbox is the source of truth
        cache.delete(KICK_PENDING)
        _broker_down_until = time.monotonic() + BROKER_BACKOFF_SECONDS
        logger.warning("Could not publish the outbox kick (%s); the periodic flush will deliver.", type(exc).__name__)


@worker_ready.connect(dispatch_uid="notifications.report_unconfigured_channels")
def report_unconfigured_channels(**_: object) -> None:
    """Say once, when a worker starts, which channels will be skipped."""
    from . import delivery

    try:
        problems = delivery.unconfigured_channels()
    except Exception:  # no database yet: the first flush will say it through skipped rows
        logger.warning("Could not check the notification channels at start-up.", exc_info=True)
        return
    for problem in problems:
        logger.warning("Notifications not configured: %s (those notifications are skipped).", problem)
