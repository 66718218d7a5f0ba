"""Celery entry points of the reports app: read the clock once, one service call."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from . import services


@shared_task(acks_late=True)
def weekly_summary(**_: object) -> int:
    """Beat, Monday 08:00 desk time: last week's scorecard to the managers, once per ISO week."""
    return services.weekly_summary_send(now=timezone.now())
