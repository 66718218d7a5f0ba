"""Celery entry points of the monitors: read the clock once; the services decide the rest.

The checks' own beat is ``support.tasks.run_monitor_checks`` (a check may open an incident: a use case).
"""

from celery import shared_task
from django.utils import timezone

from . import retention


@shared_task(acks_late=True, ignore_result=True, queue="timers")
def rollup_and_prune() -> str:
    """Beat, every minute: roll results up into minutes and hours, prune what is past its retention."""
    return str(retention.rollup_and_prune(now=timezone.now()))
