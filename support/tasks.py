"""Celery entry points that span the apps: read the clock once, call one use case."""

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from monitors import runner

from . import mail, usecases


@shared_task(acks_late=True, ignore_result=True)
def sla_sweep() -> str:
    """Beat, every 30 s: apply everything due. Overlapping or repeated runs are harmless."""
    return str(usecases.sla_sweep(now=timezone.now()))


@shared_task(acks_late=True, ignore_result=True)
def incident_sweep() -> str:
    """Beat, every INCIDENT_SWEEP_SECONDS: warn commanders of updates coming due. Overlapping runs warn once."""
    return str(usecases.incident_sweep(now=timezone.now()))


@shared_task(acks_late=True)
def close_resolved_tickets() -> int:
    """Beat: close tickets resolved more than TICKET_AUTO_CLOSE_DAYS ago."""
    return usecases.close_resolved(now=timezone.now(), after=timedelta(days=settings.TICKET_AUTO_CLOSE_DAYS))


@shared_task(acks_late=True, ignore_result=True)
def fetch_mail() -> str:
    """Beat, every MAIL_IMAP_POLL_SECONDS: read new mail from the hosted mailbox (nothing without MAIL_IMAP_HOST).

    Two runs overlapping read the same messages; each is stored once (its Message-ID is unique)."""
    return str(mail.fetch_mail())


@shared_task(acks_late=True, ignore_result=True)
def review_sweep() -> int:
    """Beat, every REVIEW_SWEEP_SECONDS: alert the owners and commanders of overdue review items, once each."""
    return usecases.review_sweep(now=timezone.now())


@shared_task(acks_late=True, ignore_result=True, queue="timers")
def run_monitor_checks() -> str:
    """Beat, every MONITOR_RUNNER_SECONDS: run the monitors' checks as they fall due, for as long.

    On the "timers" queue, beside the sweep: a notification backlog never delays a check. Runs that
    overlap (a slow one, a redelivery) are harmless: each check is claimed by one of them."""
    return str(runner.run_loop(usecases.monitor_checked, seconds=settings.MONITOR_RUNNER_SECONDS))


@shared_task(acks_late=True, ignore_result=True)
def status_uptime_refresh() -> int:
    """Beat, every STATUS_UPTIME_SECONDS: recount today's and yesterday's uptime checks per component for the
    status page and the scorecard. Overlapping runs write the same counts."""
    return usecases.status_uptime_refresh(now=timezone.now())
