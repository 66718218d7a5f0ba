"""Celery task counts and durations for ``/metrics``, from Celery's own task_prerun/task_postrun signals.

Counted in the process that runs the task (a worker's pool process). ``/metrics``
is served by the web process, so it shows them when both share
``PROMETHEUS_MULTIPROC_DIR`` (prometheus-client's multi-process mode: every
process writes its samples to files there and the scrape adds them up; see
``support.metrics``). Task names are a closed set (the registered tasks), so the
labels stay few.
"""

from __future__ import annotations

import time

from celery.signals import task_postrun, task_prerun
from prometheus_client import Counter, Histogram, disable_created_metrics

# No `*_created` companion series: the multi-process mode has none, so one process alone shows what many do.
disable_created_metrics()
TASKS = Counter("celery_tasks", "Celery tasks run, by task and final state.", ["task", "state"])
TASK_SECONDS = Histogram(
    "celery_task_duration_seconds",
    "Time a Celery task ran, from start to finish (not the time it waited in its queue).",
    ["task"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
)
_started: dict[str, float] = {}


@task_prerun.connect(weak=False, dispatch_uid="sofacover.taskmetrics.started")
def task_started(task_id: str | None = None, **_: object) -> None:
    if task_id:
        _started[task_id] = time.perf_counter()


@task_postrun.connect(weak=False, dispatch_uid="sofacover.taskmetrics.finished")
def task_finished(task_id: str | None = None, task: object = None, state: str | None = None, **_: object) -> None:
    name = getattr(task, "name", None) or "unknown"
    TASKS.labels(task=name, state=state or "UNKNOWN").inc()
    started = _started.pop(task_id, None) if task_id else None
    if started is not None:
        TASK_SECONDS.labels(task=name).observe(time.perf_counter() - started)
