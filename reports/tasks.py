"""Celery entry points of the reports app: read the clock once, one service call."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from . import rollup, services
from .filters import desk_zone


@shared_task(acks_late=True)
def weekly_summary(**_: object) -> int:
    """Beat, Monday 08:00 desk time: last week's scorecard to the managers, once per ISO week."""
    return services.weekly_summary_send(now=timezone.now())


@shared_task(acks_late=True)
def rollup_fold(**_: object) -> int:
    """Beat, nightly: the days before today (desk time) back to one row per key (rollup.rollup_fold)."""
    return rollup.rollup_fold(before=timezone.now().astimezone(desk_zone()).date())
