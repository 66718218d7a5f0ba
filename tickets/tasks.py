"""Celery entry points: read the clock once, call one service."""

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from . import services


@shared_task(acks_late=True)
def close_resolved_tickets() -> int:
    """Beat: close tickets resolved more than TICKET_AUTO_CLOSE_DAYS ago."""
    return services.tickets_close_resolved(now=timezone.now(), after=timedelta(days=settings.TICKET_AUTO_CLOSE_DAYS))
