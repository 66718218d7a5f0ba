"""Celery entry points: read the clock once; the services decide the rest."""

from celery import shared_task
from django.utils import timezone

from . import services


@shared_task(acks_late=True, ignore_result=True)
def sweep() -> str:
    """Beat, every 30 s: apply everything due. Overlapping or repeated runs are harmless."""
    return str(services.escalation_sweep(now=timezone.now()))
