"""Celery entry points that span the apps: read the clock once, call one use case."""

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from . import usecases


@shared_task(acks_late=True, ignore_result=True)
def sla_sweep() -> str:
    """Beat, every 30 s: apply everything due. Overlapping or repeated runs are harmless."""
    return str(usecases.sla_sweep(now=timezone.now()))


@shared_task(acks_late=True)
def close_resolved_tickets() -> int:
    """Beat: close tickets resolved more than TICKET_AUTO_CLOSE_DAYS ago."""
    return usecases.close_resolved(now=timezone.now(), after=timedelta(days=settings.TICKET_AUTO_CLOSE_DAYS))
