"""A task that only takes time: the test's backlog on the default queue (workers import it with -I)."""

import time

from celery import shared_task


@shared_task(name="tests.support.slowtasks.sleep", acks_late=True, ignore_result=True)
def sleep(seconds: float) -> None:
    time.sleep(seconds)
